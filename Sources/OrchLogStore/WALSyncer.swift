#if canImport(Glibc)
import Glibc
#endif
import OrchLogWire

/// Makes what COMMIT wrote to the WAL durable before anything of it is acknowledged.
///
/// The writer runs SQLite with `synchronous=NORMAL` (COMMIT writes the WAL without fsync); with
/// `--sync full` it then calls `flush()`, an `fdatasync` of the WAL file, on its own thread before
/// any append of the group is acknowledged or published to followers. Appends arriving meanwhile
/// gather into the next group. (Until the ninth stop a thread of its own flushed while the writer
/// committed the next group; waking it for every group cost more than the overlap gained:
/// docs/PERFORMANCE.md.)
///
/// What differs from SQLite's own `synchronous=FULL`: reads on other connections (GetLog,
/// GetTree, a stream's database pages) may see a committed row up to one flush before it is
/// durable; after a power loss such a row can be gone, but it was never acknowledged, and the
/// change feed only carries flushed rows. A crash of orchlogd alone loses nothing committed (the
/// page cache survives it).
///
/// Not thread-safe: used only on the writer's queue.
package final class WALSyncer {
    private let walPath: String
    private let flushes: Bool
    private var walDescriptor: Int32 = -1
    private var walIdentity: (device: UInt64, inode: UInt64)?

    /// - Parameters:
    ///   - databasePath: the database; its WAL is `databasePath-wal`.
    ///   - flushes: whether `flush` does an fdatasync (`--sync full`) or nothing.
    package init(databasePath: String, flushes: Bool) {
        self.walPath = databasePath + "-wal"
        self.flushes = flushes
    }

    deinit {
        if self.walDescriptor >= 0 { close(self.walDescriptor) }
    }

    /// fdatasync of the WAL file: everything SQLite wrote to it before this call is durable after.
    /// Nil when it is (or with `--sync normal`, at once); the status to answer with when not.
    package func flush() -> RPCStatus? {
        guard self.flushes else { return nil }
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
