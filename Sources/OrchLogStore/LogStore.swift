#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import OrchLogWire
import Synchronization

/// The SQLite engine behind orchlog: one writer with group commit, a pool of readers, a
/// checkpointer and the change feed, all over the verbatim `orchestration_session_log` table.
package final class LogStore: Sendable {
    /// The database file.
    package let path: String
    package let options: StoreOptions
    /// Followers of a parent's children subscribe here.
    package let feed: ChangeFeed
    private let writer: LogWriter
    private let readers: ReaderPool
    private let checkpointer: Checkpointer
    private let rowCount: RowCount
    private let logger: Logger

    /// Opens the database at `path`, creating the file and the table if missing.
    ///
    /// An existing table is served as it is (rows from other tools included) provided it has
    /// exactly the specified columns; orchlog only adds its indexes.
    /// - Throws: `StoreError` saying what is wrong with the file.
    package init(path: String, options: StoreOptions = StoreOptions(), logger: Logger) throws(StoreError) {
        self.path = path
        self.options = options
        self.logger = logger
        do {
            let writerDB = try Self.openWriterConnection(path: path, options: options)
            try Self.prepareTable(writerDB, path: path)
            if writerDB.isReadOnly {
                logger.warning("database is read-only: reads are served, appends fail with UNAVAILABLE until orchlogd is restarted on a writable file", metadata: ["path": "\(path)"])
            }
            let count = try StoreReader(db: writerDB).count()

            var readerDBs: [Database] = []
            for _ in 0..<max(1, options.readerCount) {
                let reader = try Database(path: path)
                try reader.execute("PRAGMA query_only=1; PRAGMA busy_timeout=\(options.busyTimeoutMillis);")
                readerDBs.append(reader)
            }
            let checkpointDB = try Database(path: path)
            try checkpointDB.execute("PRAGMA busy_timeout=\(options.busyTimeoutMillis);")

            let feed = ChangeFeed()
            let rowCount = RowCount(count)
            self.feed = feed
            self.rowCount = rowCount
            self.readers = ReaderPool(connections: readerDBs)
            self.checkpointer = try Checkpointer(db: checkpointDB, thresholdPages: options.checkpointPages, quietDelay: options.quietCheckpointDelay, logger: logger)
            // COMMIT writes the WAL; with --sync full the writer fdatasyncs it before any ack.
            self.writer = try LogWriter(
                db: writerDB, syncer: WALSyncer(db: writerDB, flushes: options.sync == .full), pollExternalMillis: options.pollExternalMillis,
                logger: logger,
                onCommit: { created in
                    rowCount.value.add(UInt64(created.count), ordering: .relaxed)
                    feed.publish(created)
                },
                onExternalRows: { count in
                    rowCount.value.add(count, ordering: .relaxed)
                    feed.resynchronizeAll()
                }
            )
            self.checkpointer.attach(to: writerDB)
        } catch let error as StoreError {
            throw error
        } catch let error as SQLiteError {
            throw StoreError("cannot open database \(path): \(error.message)\(Self.accessProblem(path: path).map { " (\($0))" } ?? "")")
        } catch {
            throw StoreError("cannot open database \(path): \(error)")
        }
    }

    /// The writer's connection: WAL journal written through `WALWriteBuffer`'s VFS,
    /// `synchronous=NORMAL` (the `WALSyncer` flushes), foreign keys on, no automatic checkpoints
    /// (the `Checkpointer` runs them). SQLite opens a file it cannot write read-only;
    /// `Database.isReadOnly` tells.
    private static func openWriterConnection(path: String, options: StoreOptions) throws -> Database {
        guard let vfs = WALWriteBuffer.vfsName else {
            throw StoreError("cannot open database \(path): SQLite did not accept orchlog's WAL VFS")
        }
        let db = try Database(path: path, create: true, vfs: vfs)
        guard try db.scalarText("PRAGMA journal_mode=WAL")?.lowercased() == "wal" else {
            throw StoreError(
                db.isReadOnly
                    ? "\(path) is read-only and not in WAL journal mode, which orchlog needs: a read-only file is served only if it is in WAL mode already (run PRAGMA journal_mode=WAL on it while it is writable)"
                    : "cannot switch \(path) to WAL journal mode\(Self.accessProblem(path: path).map { " (\($0))" } ?? "")"
            )
        }
        try db.execute("""
            PRAGMA synchronous=NORMAL;
            PRAGMA foreign_keys=ON;
            PRAGMA busy_timeout=\(options.busyTimeoutMillis);
            PRAGMA wal_autocheckpoint=0;
            """)
        return db
    }

    /// Why SQLite may have failed to open `path` for orchlog, which needs to create or write the
    /// `-wal` and `-shm` files beside it: the reason its "unable to open" or "readonly database"
    /// leaves out, or nil.
    private static func accessProblem(path: String) -> String? {
        // "/x.db" lives in "/", "x.db" in ".".
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        var fs = statvfs()
        if statvfs(directory, &fs) == 0 && fs.f_flag & UInt(ST_RDONLY) != 0 {
            return "\(directory) is on a read-only filesystem, where SQLite cannot keep the -wal and -shm files orchlog needs"
        }
        if access(path, F_OK) == 0 && access(path, W_OK) != 0 {
            return "the file is read-only, and orchlog serves a read-only file only if it is in WAL journal mode already"
        }
        guard access(directory, W_OK) != 0 else { return nil }
        if access(path, F_OK) != 0 {
            return "the file does not exist and its directory \(directory) is not writable"
        }
        if access(path + "-wal", F_OK) != 0 {
            return "SQLite cannot create \(path)-wal and \(path)-shm: the directory \(directory) is not writable"
        }
        return nil
    }

    /// Creates the table with the verbatim DDL, or checks that the existing one is that table
    /// (`Schema.checkTable`); then adds orchlog's indexes.
    private static func prepareTable(_ db: Database, path: String) throws {
        let existing = try db.scalarText(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'orchestration_session_log'"
        )
        if existing == nil {
            try db.execute(Schema.createTable)
        } else if let problem = try Schema.checkTable(db) {
            throw StoreError("\(path): table orchestration_session_log \(problem); orchlog serves only the table as specified (docs/PROTOCOL.md, section 12)")
        }
        try db.execute(Schema.createIndexes)
    }

    /// The number of rows, kept current by the writer (counted once at open).
    package var entryCount: UInt64 { self.rowCount.value.load(ordering: .relaxed) }

    /// Appends validated entries atomically (all or none). `completion` runs once the group
    /// commit that holds them has committed (or failed), on the writer's queue. It may hand its
    /// outcome to a consumer without waking it and return that consumer: the writer wakes each
    /// one once, after the last completion of the group.
    package func append(
        _ entries: [NewEntry], completion: @escaping @Sendable (Result<[AppendOutcome], RPCStatus>) -> (any Wakeable)?
    ) {
        self.writer.submit(PendingAppend(entries: entries, completion: completion))
    }

    /// Runs `body` on a reader connection; `completion` runs on that reader's queue.
    package func read<T: Sendable>(
        _ body: @escaping @Sendable (StoreReader) throws(RPCStatus) -> T,
        completion: @escaping @Sendable (Result<T, RPCStatus>) -> Void
    ) {
        self.readers.read(body, completion: completion)
    }

    /// Caps the database file at `pages` pages (SQLite's `max_page_count`; `nil` lifts the cap).
    /// Past the cap appends fail with UNAVAILABLE, as on a full disk: how the tests make one.
    package func limitSize(toPages pages: Int64?) throws(StoreError) {
        do {
            try self.writer.withConnection { db in
                try db.execute("PRAGMA max_page_count=\(pages ?? 4_294_967_294)")
            }
        } catch {
            throw StoreError("cannot set max_page_count: \(error)")
        }
    }

    /// Pages the database file holds now.
    package func pageCount() -> Int64 {
        self.writer.withConnection { db in Int64((try? db.scalarText("PRAGMA page_count")) ?? nil ?? "0") ?? 0 }
    }

    /// Waits for queued appends, checkpoints the WAL into the database file and stops.
    package func close() {
        self.writer.stop()
        self.writer.withConnection { _ in }
        self.checkpointer.finish()
        let (commits, appends) = self.writer.groupCommitStatistics
        self.logger.info("store closed", metadata: [
            "path": "\(self.path)", "commits": "\(commits)", "appends": "\(appends)",
            "appends_per_commit": "\(commits == 0 ? 0 : Double(appends) / Double(commits))",
        ])
    }
}

/// The table's row count, shared between the store and its writer's commit hook.
private final class RowCount: Sendable {
    let value: Atomic<UInt64>
    init(_ initial: UInt64) { self.value = Atomic(initial) }
}
