import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("Checkpoints")
struct CheckpointTests {
    let directory = TemporaryDirectory()

    /// A store that checkpoints every `pages` WAL pages.
    private func store(checkpointPages pages: Int32) throws -> LogStore {
        var options = StoreOptions()
        options.sync = .normal
        options.checkpointPages = pages
        return try LogStore.temporary(in: self.directory, options: options)
    }

    /// `tasks` appenders, each appending `count` entries one after another, all at once: the
    /// writer is never idle until they are done.
    private func appendWithoutPause(_ store: LogStore, tasks: Int, count: Int) async {
        let content = String(repeating: "x", count: 600)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    for _ in 0..<count { _ = await store.append(content: content) }
                }
            }
        }
    }

    @Test("past the threshold, WAL frames are copied into the database file")
    func copiesIntoTheDatabase() async throws {
        let store = try self.store(checkpointPages: 16)
        let before = self.directory.fileSize("test.db")
        await self.appendWithoutPause(store, tasks: 4, count: 100)
        #expect(store.entryCount == 400)
        // 400 rows of 600 bytes need well over 50 pages; only a checkpoint puts them in the file.
        let deadline = ContinuousClock.now + .seconds(10)
        while self.directory.fileSize("test.db") < before + 50 * 4096, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(self.directory.fileSize("test.db") >= before + 50 * 4096)
    }

    @Test("under appends that never pause, the WAL starts over instead of growing")
    func walStaysBounded() async throws {
        let pages: Int32 = 128
        let store = try self.store(checkpointPages: pages)
        await self.appendWithoutPause(store, tasks: 32, count: 300)
        #expect(store.entryCount == 9600)
        // The WAL file never shrinks while the store is open: its size is the most it held.
        // 9,600 rows of 600 bytes take ~1,600 pages of table alone and ~7,000 frames in all: a
        // WAL that is never started over holds them all (it did here before the writer copied
        // the rest); started over, it held 250-900.
        let frameBytes = 4096 + 24
        let walFrames = self.directory.fileSize("test.db-wal") / frameBytes
        #expect(walFrames <= 16 * Int(pages), "the WAL grew to \(walFrames) frames")
    }
}
