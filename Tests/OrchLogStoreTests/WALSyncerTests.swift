import Foundation
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("WALSyncer")
struct WALSyncerTests {
    let directory = TemporaryDirectory()

    /// A connection as the store's writer opens it, with one committed row in its WAL.
    private func writer(_ name: String, wal: Bool = true) throws -> Database {
        let vfs = try #require(WALWriteBuffer.vfsName)
        let db = try Database(path: self.directory.file(name), create: true, vfs: vfs)
        if wal { #expect(try db.scalarText("PRAGMA journal_mode=WAL") == "wal") }
        try db.execute("PRAGMA synchronous=NORMAL; CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (1)")
        return db
    }

    @Test("a flush of the writer's WAL succeeds")
    func flushes() throws {
        let db = try self.writer("flushes.db")
        let syncer = WALSyncer(db: db, flushes: true)
        #expect(syncer.flush() == nil)
        try db.execute("INSERT INTO t VALUES (2)")
        #expect(syncer.flush() == nil)
    }

    @Test("a connection without a WAL cannot confirm anything: UNAVAILABLE, not confirmed durable")
    func noWAL() throws {
        let failure = WALSyncer(db: try self.writer("rollback.db", wal: false), flushes: true).flush()
        #expect(failure?.code == .unavailable)
        #expect(failure?.message.contains("not confirmed durable") == true)
        #expect(failure?.message.contains("no WAL open") == true)
    }

    @Test("a WAL replaced under SQLite is not confirmed: what was flushed is not what a restart reads")
    func replacedWAL() throws {
        let db = try self.writer("replaced.db")
        let syncer = WALSyncer(db: db, flushes: true)
        #expect(syncer.flush() == nil)
        let wal = self.directory.file("replaced.db-wal")
        #expect(FileManager.default.createFile(atPath: wal + ".other", contents: Data("other".utf8)))
        #expect(rename(wal + ".other", wal) == 0)
        try db.execute("INSERT INTO t VALUES (2)")
        let failure = syncer.flush()
        #expect(failure?.code == .unavailable)
        #expect(failure?.message.contains("removed or replaced") == true)
    }

    @Test("without flushing (--sync normal) nothing is asked of the file")
    func noFlush() throws {
        #expect(WALSyncer(db: try self.writer("normal.db", wal: false), flushes: false).flush() == nil)
    }
}
