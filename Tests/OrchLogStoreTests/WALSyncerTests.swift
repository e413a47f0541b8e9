import Dispatch
import Foundation
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Synchronization
import Testing

@Suite("WALSyncer")
struct WALSyncerTests {
    let directory = TemporaryDirectory()

    /// A database path whose WAL file exists, as SQLite leaves it while connections are open.
    private func databaseWithWAL() -> String {
        let path = self.directory.file("wal-test.db")
        _ = FileManager.default.createFile(atPath: path + "-wal", contents: Data("frames".utf8))
        return path
    }

    @Test("committed groups are announced once each, in commit order, after a successful flush")
    func announcesInOrder() {
        let syncer = WALSyncer(databasePath: self.databaseWithWAL(), flushes: true)
        let announced = Locked<[Int]>([])
        let failures = Atomic<Int>(0)
        for index in 0..<500 {
            syncer.reserveSlot()
            syncer.submit(WALSyncer.Group { failure in
                if failure != nil { failures.add(1, ordering: .relaxed) }
                announced.withLock { $0.append(index) }
            })
        }
        syncer.waitUntilIdle()
        #expect(announced.withLock { $0 } == Array(0..<500))
        let failed = failures.load(ordering: .relaxed)
        #expect(failed == 0)
    }

    @Test("a flush that cannot happen fails every group it covered with UNAVAILABLE")
    func failedFlush() {
        let syncer = WALSyncer(databasePath: self.directory.file("missing/none.db"), flushes: true)
        let codes = Locked<[StatusCode]>([])
        for _ in 0..<3 {
            syncer.submit(WALSyncer.Group(holdsSlot: false) { failure in
                codes.withLock { $0.append(failure?.code ?? .ok) }
            })
        }
        syncer.waitUntilIdle()
        #expect(codes.withLock { $0 } == [.unavailable, .unavailable, .unavailable])
    }

    @Test("without flushing (--sync normal) groups are announced with no failure")
    func noFlush() {
        let syncer = WALSyncer(databasePath: self.directory.file("missing/none.db"), flushes: false)
        let failed = Atomic<Bool>(false)
        syncer.submit(WALSyncer.Group(holdsSlot: false) { failure in
            if failure != nil { failed.store(true, ordering: .relaxed) }
        })
        syncer.waitUntilIdle()
        let didFail = failed.load(ordering: .relaxed)
        #expect(!didFail)
    }

    @Test("the writer waits while two commits await their flush, and goes on when one is announced")
    func slotsBoundUnflushedCommits() {
        let syncer = WALSyncer(databasePath: self.databaseWithWAL(), flushes: true)
        syncer.reserveSlot()
        syncer.reserveSlot()
        let third = DispatchSemaphore(value: 0)
        Thread { syncer.reserveSlot(); third.signal() }.start()
        #expect(third.wait(timeout: .now() + .milliseconds(200)) == .timedOut)
        syncer.submit(WALSyncer.Group { _ in })
        #expect(third.wait(timeout: .now() + .seconds(10)) == .success)
    }

    @Test("an idle syncer's group is flushed and announced on the committing thread; a busy one's is queued behind")
    func flushHereWhenIdle() {
        let syncer = WALSyncer(databasePath: self.databaseWithWAL(), flushes: true)
        let announced = Locked<[Int]>([])
        let failures = Atomic<Int>(0)
        syncer.reserveSlot()
        syncer.submitOrFlushHere(WALSyncer.Group { failure in
            if failure != nil { failures.add(1, ordering: .relaxed) }
            announced.withLock { $0.append(1) }
        })
        // Idle: announced before the call returned, by this thread.
        #expect(announced.withLock { $0 } == [1])

        // Busy: a queued group's announcement holds the syncer until released.
        let release = DispatchSemaphore(value: 0)
        let holding = DispatchSemaphore(value: 0)
        syncer.reserveSlot()
        syncer.submit(WALSyncer.Group { _ in
            holding.signal()
            release.wait()
            announced.withLock { $0.append(2) }
        })
        #expect(holding.wait(timeout: .now() + .seconds(10)) == .success)
        syncer.reserveSlot()
        syncer.submitOrFlushHere(WALSyncer.Group { failure in
            if failure != nil { failures.add(1, ordering: .relaxed) }
            announced.withLock { $0.append(3) }
        })
        #expect(announced.withLock { $0 } == [1], "queued behind the busy syncer, not announced here")
        release.signal()
        syncer.waitUntilIdle()
        #expect(announced.withLock { $0 } == [1, 2, 3])
        let failed = failures.load(ordering: .relaxed)
        #expect(failed == 0)
    }
}
