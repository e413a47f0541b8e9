import Foundation
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("Checkpoints")
struct CheckpointTests {
    let directory = TemporaryDirectory()

    /// A store that checkpoints every `pages` WAL pages, and copies the rest after `quiet`
    /// without a commit.
    private func store(checkpointPages pages: Int32, quiet: Duration = .seconds(3600)) throws -> LogStore {
        var options = StoreOptions()
        options.sync = .normal
        options.checkpointPages = pages
        options.quietCheckpointDelay = quiet
        return try LogStore.temporary(in: self.directory, options: options)
    }

    /// The rows that the database file alone holds, read from a copy of it without the WAL
    /// (nil while the copy cannot be read, e.g. taken in the middle of a checkpoint's writes).
    private func rowsInDatabaseFileAlone() -> String? {
        let copy = self.directory.file("copy-\(UUID().uuidString).db")
        guard (try? FileManager.default.copyItem(atPath: self.directory.file("test.db"), toPath: copy)) != nil,
            let db = try? Database(path: copy)
        else { return nil }
        return try? db.scalarText("SELECT count(*) FROM orchestration_session_log")
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

    @Test("past the threshold, WAL frames are copied into the database file while appends go on")
    func copiesIntoTheDatabase() async throws {
        let store = try self.store(checkpointPages: 16)
        let before = self.directory.fileSize("test.db")
        await self.appendWithoutPause(store, tasks: 4, count: 100)
        #expect(store.entryCount == 400)
        // 400 rows of 600 bytes fill ~70 pages. No quiet pass runs here, so only the passes
        // past the threshold (16 frames) put them in the file; the last few frames may stay in
        // the WAL, and a pass may still be running.
        let deadline = ContinuousClock.now + .seconds(10)
        while self.directory.fileSize("test.db") < before + 25 * 4096, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(self.directory.fileSize("test.db") >= before + 25 * 4096)
    }

    @Test("once appends pause, the database file alone holds every acknowledged row")
    func quietCopiesTheRest() async throws {
        // A threshold never reached: only the pass after a quiet stretch copies anything.
        let store = try self.store(checkpointPages: 1_000_000, quiet: .milliseconds(50))
        await self.appendWithoutPause(store, tasks: 4, count: 100)
        #expect(store.entryCount == 400)
        var rows = self.rowsInDatabaseFileAlone()
        let deadline = ContinuousClock.now + .seconds(10)
        while rows != "400", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            rows = self.rowsInDatabaseFileAlone()
        }
        #expect(rows == "400")
    }

    @Test("appends far apart, each writing as many frames as the last, each reach the database file")
    func quietPassAfterEveryPause() async throws {
        let store = try self.store(checkpointPages: 1_000_000, quiet: .milliseconds(30))
        for expected in 1...5 {
            // Once the WAL is copied, this commit starts it over with the same number of frames
            // as the last one: the frame count alone does not show that the WAL is new.
            _ = await store.append(content: "the same shape every time")
            var rows = self.rowsInDatabaseFileAlone()
            let deadline = ContinuousClock.now + .seconds(5)
            while rows != "\(expected)", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
                rows = self.rowsInDatabaseFileAlone()
            }
            #expect(rows == "\(expected)", "append \(expected) in the database file")
            // Past two quiet delays: the checks have ended before the next append.
            try await Task.sleep(for: .milliseconds(150))
        }
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
