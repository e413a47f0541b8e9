import OrchLogStore
import OrchLogTestSupport
import Testing

@Suite("WAL write buffer")
struct WALWriteBufferTests {
    let directory = TemporaryDirectory()

    @Test("each commit is in the WAL file when COMMIT returns: another connection reads it whole")
    func commitsReachTheFile() throws {
        let vfs = try #require(WALWriteBuffer.vfsName, "the VFS registers")
        let path = self.directory.file("buffered.db")
        let writer = try Database(path: path, create: true, vfs: vfs)
        #expect(try writer.scalarText("PRAGMA journal_mode=WAL") == "wal")
        // As the store runs it: with synchronous=NORMAL a commit does not sync the WAL, so only
        // the end of the commit frame writes the buffer out.
        try writer.execute("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(n INTEGER, body TEXT)")
        let reader = try Database(path: path)
        for n in 1...40 {
            // Rows of 3 KB: every commit writes new pages, and a frame header and a page each.
            try writer.execute("INSERT INTO t VALUES (\(n), hex(zeroblob(1500)) || '#\(n)')")
            // The reader (the default VFS) finds the new frames through the WAL index, which
            // SQLite updated after the commit frame's write: buffered frames would read as zeros.
            #expect(try reader.scalarText("SELECT count(*) FROM t") == "\(n)")
            #expect(try reader.scalarText("SELECT substr(body, 3001) FROM t WHERE n = \(n)") == "#\(n)")
            #expect(try reader.scalarText("PRAGMA quick_check") == "ok")
        }
        // Everything that was written is in the file: 40 rows of 3 KB are at least 30 pages.
        #expect(self.directory.fileSize("buffered.db-wal") >= 32 + 30 * (4096 + 24))
    }

    @Test("a transaction larger than the buffer is written whole")
    func largeTransaction() throws {
        let vfs = try #require(WALWriteBuffer.vfsName)
        let path = self.directory.file("large.db")
        let writer = try Database(path: path, create: true, vfs: vfs)
        _ = try writer.scalarText("PRAGMA journal_mode=WAL")
        try writer.execute("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(body BLOB)")
        // 3 MB in one commit: many times the buffer's 126 KiB.
        try writer.execute("BEGIN; \(String(repeating: "INSERT INTO t VALUES (randomblob(100000));", count: 30)) COMMIT")
        let reader = try Database(path: path)
        #expect(try reader.scalarText("SELECT count(*) FROM t") == "30")
        #expect(try reader.scalarText("SELECT sum(length(body)) FROM t") == "3000000")
        #expect(try reader.scalarText("PRAGMA integrity_check") == "ok")
    }
}
