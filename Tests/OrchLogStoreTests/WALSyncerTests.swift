import Foundation
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("WALSyncer")
struct WALSyncerTests {
    let directory = TemporaryDirectory()

    @Test("a flush of an existing WAL succeeds")
    func flushes() {
        let path = self.directory.file("wal-test.db")
        #expect(FileManager.default.createFile(atPath: path + "-wal", contents: Data("frames".utf8)))
        let syncer = WALSyncer(databasePath: path, flushes: true)
        #expect(syncer.flush() == nil)
    }

    @Test("a flush that cannot happen is UNAVAILABLE, saying the commit is not confirmed durable")
    func failedFlush() {
        let syncer = WALSyncer(databasePath: self.directory.file("missing/none.db"), flushes: true)
        let failure = syncer.flush()
        #expect(failure?.code == .unavailable)
        #expect(failure?.message.contains("not confirmed durable") == true)
    }

    @Test("without flushing (--sync normal) nothing is asked of the file")
    func noFlush() {
        let syncer = WALSyncer(databasePath: self.directory.file("missing/none.db"), flushes: false)
        #expect(syncer.flush() == nil)
    }
}
