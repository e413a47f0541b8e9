import CSQLite
import Dispatch
import Logging
import Synchronization

/// Runs WAL checkpoints on its own connection and queue, so that no commit waits for one.
///
/// The writer's automatic checkpoints are off; SQLite's WAL hook reports the WAL size after each
/// commit, and past `thresholdPages` a PASSIVE checkpoint is started here (at most one at a time).
// @unchecked: `db` is used only on `queue`; `running` is atomic.
final class Checkpointer: @unchecked Sendable {
    private let db: Database
    private let queue = DispatchQueue(label: "orchlog.store.checkpoint")
    private let thresholdPages: Int32
    private let running = Atomic<Bool>(false)
    private let logger: Logger

    init(db: Database, thresholdPages: Int32, logger: Logger) {
        self.db = db
        self.thresholdPages = thresholdPages
        self.logger = logger
    }

    /// Installs the WAL hook on the writer's connection. The checkpointer must outlive it.
    func attach(to writer: Database) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(writer.handle, { context, _, _, pages in
            guard let context else { return SQLITE_OK }
            Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue().walGrew(to: pages)
            return SQLITE_OK
        }, context)
    }

    private func walGrew(to pages: Int32) {
        guard pages >= self.thresholdPages,
              self.running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        self.queue.async {
            defer { self.running.store(false, ordering: .releasing) }
            do {
                try self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            } catch {
                self.logger.debug("checkpoint failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Waits for a running checkpoint and runs a final one that empties the WAL.
    func finish() {
        self.queue.sync {
            _ = try? self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }
}
