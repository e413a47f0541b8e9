#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import OrchLogWire

/// Makes committed groups durable and then announces them, in commit order, on a thread of its
/// own, so that the writer commits the next group while the disk flushes this one. When it has
/// nothing to do, the writer flushes and announces its group itself (`submitOrFlushHere`): waking
/// this thread would cost more than the commit that could overlap the flush, and the appends
/// arriving meanwhile gather into a bigger next group.
///
/// The writer runs SQLite with `synchronous=NORMAL` (COMMIT writes the WAL without fsync); with
/// `--sync full` this syncer then `fdatasync`s the WAL file before any append of the group is
/// acknowledged or published to followers. One fdatasync covers every group committed before it
/// began, so under load one flush serves many groups, and the commit rate is bounded by the
/// slower of the writer and the disk instead of their sum.
///
/// What differs from SQLite's own `synchronous=FULL`: reads on other connections (GetLog,
/// GetTree, a stream's database pages) may see a committed row up to one flush before it is
/// durable; after a power loss such a row can be gone, but it was never acknowledged, and the
/// change feed only carries flushed rows. A crash of orchlogd alone loses nothing committed (the
/// page cache survives it).
// @unchecked: `walDescriptor` and `walIdentity` are used only by the one consumer of `pending`
// (`drain` on `queue`, or the writer in `submitOrFlushHere`), which `BatchingQueue` makes exclusive.
package final class WALSyncer: @unchecked Sendable {
    /// One committed group: what to announce once it is durable.
    package struct Group: Sendable {
        /// Whether it is a commit that took a slot with `reserveSlot()`.
        package var holdsSlot = true
        /// Delivers the outcomes; `failure` is set when the flush failed (nothing may be
        /// acknowledged as durable then).
        package var announce: @Sendable (_ failure: RPCStatus?) -> Void

        package init(holdsSlot: Bool = true, announce: @escaping @Sendable (_ failure: RPCStatus?) -> Void) {
            self.holdsSlot = holdsSlot
            self.announce = announce
        }
    }

    private let walPath: String
    private let flushes: Bool
    private let queue = DispatchQueue(label: "orchlog.store.wal-sync")
    /// Commits the writer may have awaiting their flush: one being flushed and one queued. The
    /// writer waits for a slot before it begins a transaction, so that appends arriving during a
    /// flush gather into one group instead of many small commits that each write whole pages.
    private let slots = DispatchSemaphore(value: 0)
    private static let slotCount = 2
    private let pending = BatchingQueue<Group>()
    private var walDescriptor: Int32 = -1
    private var walIdentity: (device: UInt64, inode: UInt64)?

    /// - Parameters:
    ///   - databasePath: the database; its WAL is `databasePath-wal`.
    ///   - flushes: whether to fdatasync before announcing (`--sync full`).
    package init(databasePath: String, flushes: Bool) {
        self.walPath = databasePath + "-wal"
        self.flushes = flushes
        // Signalled up from 0 rather than created at 2: Dispatch traps when a semaphore is freed
        // below its initial value, which a store closed with a slot still taken would do.
        for _ in 0..<Self.slotCount { self.slots.signal() }
    }

    deinit {
        if self.walDescriptor >= 0 { close(self.walDescriptor) }
    }

    /// Queues a committed group; it is announced after the next flush that starts after now.
    package func submit(_ group: Group) {
        if self.pending.add(group) {
            self.queue.async { self.drain() }
        }
    }

    /// Flushes and announces `group` on the calling thread if the syncer is idle (nothing queued,
    /// nothing being flushed), saving the wake-up of the syncer's thread; otherwise queues it as
    /// `submit` does. Groups submitted meanwhile are announced here too, after it.
    package func submitOrFlushHere(_ group: Group) {
        guard self.pending.becomeConsumerIfIdle() else { return self.submit(group) }
        var groups = [group]
        while !groups.isEmpty {
            self.announce(groups)
            groups = self.pending.takeAll()
        }
    }

    /// Blocks the writer until a commit may start (fewer than two await their flush). A slot is
    /// given back with `submit` of a group that holds it, or `releaseSlot` if nothing was committed.
    package func reserveSlot() {
        self.slots.wait()
    }

    package func releaseSlot() {
        self.slots.signal()
    }

    /// Returns once every group submitted so far has been announced.
    package func waitUntilIdle() {
        self.queue.sync {}
    }

    private func drain() {
        while true {
            let groups = self.pending.takeAll()
            if groups.isEmpty { return }
            self.announce(groups)
        }
    }

    /// One flush for `groups`, then their announcements in order.
    private func announce(_ groups: [Group]) {
        let failure = self.flushes ? self.flush() : nil
        for group in groups {
            group.announce(failure)
            if group.holdsSlot { self.slots.signal() }
        }
    }

    /// fdatasync of the WAL file: everything SQLite wrote to it before this call is durable after.
    private func flush() -> RPCStatus? {
        guard let fd = self.openWAL() else {
            return .unavailable("committed but not confirmed durable: cannot open \(self.walPath) (errno \(errno))")
        }
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            return .unavailable("committed but not confirmed durable: fdatasync of the WAL failed (errno \(errno)); a retry with the same id is safe")
        }
        return nil
    }

    /// The WAL's descriptor, reopened if SQLite replaced the file since (a new inode).
    private func openWAL() -> Int32? {
        var info = stat()
        guard stat(self.walPath, &info) == 0 else { return nil }
        let identity = (device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        if self.walDescriptor >= 0, let known = self.walIdentity, known == identity {
            return self.walDescriptor
        }
        if self.walDescriptor >= 0 { close(self.walDescriptor) }
        self.walDescriptor = open(self.walPath, O_RDWR | O_CLOEXEC)
        self.walIdentity = self.walDescriptor >= 0 ? identity : nil
        return self.walDescriptor >= 0 ? self.walDescriptor : nil
    }
}
