import CSQLiteWALBuffer
#if canImport(Glibc)
import Glibc
#endif
import OrchLogWire

/// Makes what COMMIT wrote to the WAL durable before anything of it is acknowledged.
///
/// The writer runs SQLite with `synchronous=NORMAL` (COMMIT writes the WAL without fsync); with
/// `--sync full` it then calls `flush()`, an `fdatasync` of the WAL file, on the writer's thread
/// before any append of the group is acknowledged or published to followers. Appends arriving
/// meanwhile gather into the next group. (Until the ninth stop a thread of its own flushed while
/// the writer committed the next group; waking it for every group cost more than the overlap
/// gained, and did again in the twelfth and fourteenth stops, the last time also as an io_uring
/// `fdatasync`: docs/PERFORMANCE.md.) The flush goes through the writer's VFS
/// (`CSQLiteWALBuffer`), on SQLite's own descriptor of the WAL, which also makes a newly created
/// WAL's directory entry durable, and then checks that the WAL's path still names the file it
/// flushed.
///
/// What differs from SQLite's own `synchronous=FULL`: reads on other connections (GetLog,
/// GetTree, a stream's database pages) may see a committed row up to one flush before it is
/// durable; after a power loss such a row can be gone, but it was never acknowledged, and the
/// change feed only carries flushed rows. A crash of orchlogd alone loses nothing committed (the
/// page cache survives it).
///
/// Not thread-safe: used only on the writer's queue.
package final class WALSyncer {
    private let db: Database
    private let flushes: Bool

    /// - Parameters:
    ///   - db: the writer's connection, opened through `WALWriteBuffer.vfsName`.
    ///   - flushes: whether `flush` makes the WAL durable (`--sync full`) or does nothing.
    package init(db: Database, flushes: Bool) {
        self.db = db
        self.flushes = flushes
    }

    /// Everything the connection wrote to its WAL before this call is durable after it.
    /// Nil when it is (or with `--sync normal`, at once); the status to answer with when not.
    package func flush() -> RPCStatus? {
        guard self.flushes else { return nil }
        var systemError: Int32 = 0
        let outcome = orchlog_wal_buffer_sync(self.db.handle, &systemError)
        let reason: String
        switch outcome {
        case ORCHLOG_WAL_SYNC_OK:
            return nil
        case ORCHLOG_WAL_SYNC_NO_WAL:
            reason = "the writer has no WAL open"
        case ORCHLOG_WAL_SYNC_FAILED:
            reason = "fdatasync of the WAL failed\(Self.describe(systemError))"
        default:
            reason = "the WAL file was removed or replaced\(Self.describe(systemError))"
        }
        return .unavailable("committed but not confirmed durable: \(reason); a retry with the same id is safe")
    }

    /// " (errno N: text)", or nothing when the failure has no system error.
    private static func describe(_ systemError: Int32) -> String {
        systemError == 0 ? "" : " (errno \(systemError): \(String(cString: strerror(systemError))))"
    }
}
