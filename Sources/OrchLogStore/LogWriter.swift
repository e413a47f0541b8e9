import Dispatch
import Logging
import OrchLogWire

/// One append request waiting for the writer: its entries (one, or an atomic batch) and where
/// to send the outcome once the transaction that holds it has committed.
struct PendingAppend: Sendable {
    var entries: [NewEntry]
    /// Returns what to wake once the group's outcomes are all handed over (`LogStore.append`).
    var completion: @Sendable (Result<[AppendOutcome], RPCStatus>) -> (any Wakeable)?
}

/// The single writer connection, with group commit.
///
/// Every append waiting when the writer becomes free goes into one transaction, each batch inside
/// its own SAVEPOINT so that a bad append fails alone. Outcomes are delivered only after COMMIT
/// returned and the `WALSyncer` flushed the WAL: an acknowledged append is durable.
// @unchecked: `db` and the prepared statements are used only on `queue`.
final class LogWriter: @unchecked Sendable {

    private let db: Database
    private let queue = DispatchQueue(label: "orchlog.store.writer")
    private let pending = BatchingQueue<PendingAppend>()
    private let onCommit: @Sendable ([LogRecord]) -> Void
    private let onExternalRows: @Sendable (UInt64) -> Void
    /// Makes each committed group durable before it is announced.
    private let syncer: WALSyncer
    private let logger: Logger
    /// The highest rowid this writer knows of; a higher one it did not write came from another
    /// process sharing the file.
    private var lastSeq: Int64
    private var pollTimer: (any DispatchSourceTimer)?
    /// Saves the query for the next order of an append without one.
    private var siblingOrders = SiblingOrderCache()
    /// `PRAGMA data_version` at the last transaction's start: it changes when another
    /// connection (another process) has committed, and `siblingOrders` may then be stale.
    private var dataVersion: Int64?
    /// Why every append is refused until orchlogd is restarted, if it is:
    /// - a read-only file: SQLite shares one read-only WAL index among all of the process's
    ///   connections to it, so only a restart on a writable file lets appends in;
    /// - a failed flush of the WAL: the kernel may have dropped what it could not write and
    ///   reports that once, so later flushes cannot vouch for the WAL (whose frames chain:
    ///   recovery stops at the first lost one).
    private var refusal: RPCStatus?
    /// Committed transactions and the append requests they held: how well commits are grouped.
    private var commits = 0
    private var committedAppends = 0

    /// - Parameters:
    ///   - syncer: flushes the WAL after each commit, before its outcomes are announced.
    ///   - onCommit: called with the rows each commit created, in seq order, once they are
    ///     durable and before the completions of that commit.
    ///   - onExternalRows: called before `onCommit` when rows written by another process
    ///     appeared (their number); followers must then re-read the database.
    init(
        db: Database, syncer: WALSyncer, pollExternalMillis: Int, logger: Logger,
        onCommit: @escaping @Sendable ([LogRecord]) -> Void,
        onExternalRows: @escaping @Sendable (UInt64) -> Void
    ) throws {
        self.db = db
        self.syncer = syncer
        self.logger = logger
        if db.isReadOnly {
            self.refusal = .unavailable(
                "the database file is read-only (file mode or filesystem); appends fail until orchlogd is restarted on a writable file"
            )
        }
        self.onCommit = onCommit
        self.onExternalRows = onExternalRows
        self.lastSeq = try Self.highestRowID(db)
        if pollExternalMillis > 0 {
            let timer = DispatchSource.makeTimerSource(queue: self.queue)
            timer.schedule(deadline: .now() + .milliseconds(pollExternalMillis), repeating: .milliseconds(pollExternalMillis))
            timer.setEventHandler { [weak self] in self?.pollExternalRows() }
            timer.resume()
            self.pollTimer = timer
        }
    }

    /// Stops polling for other processes' rows.
    func stop() {
        self.queue.sync {
            self.pollTimer?.cancel()
            self.pollTimer = nil
        }
    }

    /// Queues an append; the writer picks it up with whatever else is waiting.
    func submit(_ append: PendingAppend) {
        if self.pending.add(append) {
            self.queue.async { self.drain() }
        }
    }

    /// Committed transactions so far, and the append requests they held.
    var groupCommitStatistics: (commits: Int, appends: Int) {
        self.queue.sync { (self.commits, self.committedAppends) }
    }

    /// Runs `body` on the writer's queue with its connection, after the appends queued so far.
    func withConnection<T>(_ body: (Database) throws -> T) rethrows -> T {
        try self.queue.sync { try body(self.db) }
    }

    private func drain() {
        while true {
            // The appends that arrived during the last commit and its flush form this group.
            let batch = self.pending.takeAll()
            if batch.isEmpty { return }
            self.commit(batch)
        }
    }

    // MARK: - One group commit

    private func commit(_ batch: [PendingAppend]) {
        if let refusal {
            Self.complete(batch.lazy.map { ($0, .failure(refusal)) })
            return
        }
        var results: [Result<[AppendOutcome], RPCStatus>] = []
        results.reserveCapacity(batch.count)
        do {
            try self.db.statement(Schema.beginImmediate).run()
            try self.forgetSiblingOrdersIfOthersWrote()
        } catch {
            try? self.db.execute("ROLLBACK")
            self.siblingOrders.forgetAll()
            Self.complete(batch.lazy.map { ($0, .failure(error.status)) })
            return
        }
        var aborted: RPCStatus?
        for append in batch {
            if let aborted {
                results.append(.failure(aborted))
                continue
            }
            // One entry writes with one INSERT, which SQLite already undoes alone when it fails;
            // a batch needs a savepoint so that it is stored whole or not at all.
            let needsSavepoint = append.entries.count > 1
            do throws(RPCStatus) {
                if needsSavepoint { try self.run(Schema.savepoint) }
                let outcomes = try self.apply(append.entries)
                if needsSavepoint { try self.run(Schema.releaseSavepoint) }
                results.append(.success(outcomes))
            } catch {
                if self.db.isAutocommit {
                    // SQLite rolled the whole transaction back (disk full, I/O error): every
                    // append of this group is lost, so none may be acknowledged.
                    aborted = error
                } else if needsSavepoint {
                    try? self.run(Schema.rollbackToSavepoint)
                    try? self.run(Schema.releaseSavepoint)
                    // Orders raised by the batch's rows that were rolled back no longer hold.
                    self.siblingOrders.forgetAll()
                }
                results.append(.failure(error))
            }
        }
        if aborted == nil {
            do {
                try self.db.statement(Schema.commit).run()
                self.commits += 1
                self.committedAppends += batch.count
            } catch {
                try? self.db.execute("ROLLBACK")
                aborted = .unavailable("commit failed, nothing was written: \(error.message)")
            }
        } else if !self.db.isAutocommit {
            try? self.db.execute("ROLLBACK")
        }

        if let aborted {
            self.siblingOrders.forgetAll()
            Self.complete(zip(batch, results).lazy.map { ($0, $1.value != nil ? .failure(aborted) : $1) })
            return
        }
        let created = results.flatMap { result in
            (result.value ?? []).lazy.filter(\.created).map(\.record)
        }
        var externalRows: UInt64 = 0
        if let first = created.first {
            // Rowids are handed out max+1: a gap before this commit's first row means another
            // process committed rows since the last one this writer knew. (Once another tool has
            // used rowid Int64.max, SQLite picks rowids at random and there is no such order.)
            if self.lastSeq < Int64.max && Int64(first.seq) > self.lastSeq + 1 {
                externalRows = self.countRows(after: self.lastSeq, through: Int64(first.seq) - 1)
            }
            self.lastSeq = max(self.lastSeq, Int64(created[created.count - 1].seq))
        }
        let failure = self.syncer.flush()
        if let failure {
            self.logger.critical("a flush of the WAL failed; appends are refused until orchlogd is restarted", metadata: ["error": "\(failure.message)"])
            self.refusal = .unavailable(
                "appends are refused until orchlogd is restarted: an earlier flush of the WAL failed (\(failure.message))"
            )
        }
        // Followers hear of new rows before the appenders do, so a reader who saw an OK never
        // waits on the feed for that row; rows not confirmed durable are never sent live.
        if externalRows > 0 { self.onExternalRows(externalRows) }
        if !created.isEmpty && failure == nil { self.onCommit(created) }
        Self.complete(zip(batch, results).lazy.map { append, result in
            if let failure, result.value != nil { (append, .failure(failure)) } else { (append, result) }
        })
    }

    /// Hands each append its outcome, then wakes what the completions handed them to, once
    /// each: one wake-up per event loop for a whole group of replies.
    private static func complete(
        _ outcomes: some Sequence<(PendingAppend, Result<[AppendOutcome], RPCStatus>)>
    ) {
        var wakeups = PendingWakeups()
        for (append, result) in outcomes { wakeups.add(append.completion(result)) }
        wakeups.wakeAll()
    }

    /// Notices rows that another process committed while this writer was idle.
    private func pollExternalRows() {
        guard let highest = try? Self.highestRowID(self.db), highest > self.lastSeq else { return }
        let count = self.countRows(after: self.lastSeq, through: highest)
        self.lastSeq = highest
        self.onExternalRows(count)
    }

    private func countRows(after: Int64, through last: Int64) -> UInt64 {
        guard let statement = try? self.db.statement(Schema.countRowsBetween) else { return 0 }
        defer { statement.reset() }
        statement.bind(1, after)
        statement.bind(2, last)
        return (try? statement.step()) == true ? UInt64(max(0, statement.int64(0) ?? 0)) : 0
    }

    private static func highestRowID(_ db: Database) throws(SQLiteError) -> Int64 {
        let statement = try db.statement(Schema.maxRowID)
        defer { statement.reset() }
        return try statement.step() ? statement.int64(0) ?? 0 : 0
    }

    private func run(_ sql: SQL) throws(RPCStatus) {
        do {
            try self.db.statement(sql).run()
        } catch {
            throw error.status
        }
    }

    // MARK: - Rules that need the database

    /// Checks and inserts one request's entries inside the current savepoint. Order of rules:
    /// invalid JSON (every entry), then per entry an existing id, then the parent's existence.
    private func apply(_ entries: [NewEntry]) throws(RPCStatus) -> [AppendOutcome] {
        do {
            for entry in entries {
                if let elaboration = entry.elaboration, try !self.isValidJSON(elaboration) {
                    throw RPCStatus.invalidArgument("\(entry.fieldPath).elaboration: not valid JSON")
                }
            }
            var outcomes: [AppendOutcome] = []
            outcomes.reserveCapacity(entries.count)
            for entry in entries {
                outcomes.append(try self.insert(entry))
            }
            return outcomes
        } catch let status as RPCStatus {
            throw status
        } catch let error as SQLiteError {
            throw error.status
        } catch {
            throw .internal("\(error)")
        }
    }

    /// Inserts first and lets the table's own constraints find the rare cases: the primary key
    /// an existing id (then the stored row decides between an idempotent retry and
    /// ALREADY_EXISTS), the foreign key a missing parent. The common append runs two statements
    /// (the order, the INSERT) instead of four.
    private func insert(_ entry: NewEntry) throws -> AppendOutcome {
        let order: Int64
        if let given = entry.siblingOrder {
            order = given
        } else if let next = try self.nextSiblingOrder(parent: entry.parentID) {
            order = next
        } else {
            // The parent's highest order is Int64.max: answer as the checks in rule order would.
            if let existing = try self.existing(entry) { return existing }
            try self.requireParent(of: entry)
            throw RPCStatus(.outOfRange, "\(entry.fieldPath).sibling_order: cannot assign, the highest sibling_order is Int64.max")
        }

        let insert = try self.db.statement(Schema.insertRow)
        insert.bind(1, entry.id)
        insert.bind(2, entry.category)
        insert.bind(3, entry.parentID)
        insert.bind(4, entry.content)
        insert.bind(5, order)
        insert.bind(6, entry.elaboration)
        do throws(SQLiteError) {
            try insert.run()
            self.siblingOrders.inserted(order, childOf: entry.parentID)
        } catch {
            // SQLite checks the primary key before the foreign key, as the rules order them.
            if error.code == SQLiteError.primaryKeyConstraint, let existing = try self.existing(entry) {
                return existing
            }
            if error.code == SQLiteError.foreignKeyConstraint { try self.requireParent(of: entry) }
            throw error
        }
        let record = LogRecord(
            id: entry.id, category: entry.category, parentID: entry.parentID, content: entry.content,
            siblingOrder: order, elaboration: entry.elaboration,
            // Read as every row is (LogRecord): a negative rowid another tool chose reads as 0.
            seq: UInt64(max(0, self.db.lastInsertRowID))
        )
        return AppendOutcome(record: record, created: true)
    }

    /// The outcome for an id that is already stored: the stored row if `entry` is a retry of it,
    /// ALREADY_EXISTS if it differs; `nil` if the id is not stored.
    private func existing(_ entry: NewEntry) throws -> AppendOutcome? {
        guard let existing = try self.record(id: entry.id) else { return nil }
        guard entry.matches(existing) else {
            throw RPCStatus.alreadyExists(
                "\(entry.fieldPath).orchestration_session_log_id: \(entry.id) already exists with different fields"
            )
        }
        return AppendOutcome(record: existing, created: false)
    }

    /// FAILED_PRECONDITION unless the entry's parent (if it has one) is stored.
    private func requireParent(of entry: NewEntry) throws {
        if let parent = entry.parentID, try !self.exists(id: parent) {
            throw RPCStatus.failedPrecondition("\(entry.fieldPath).parent_exec_id: parent \(parent) does not exist")
        }
    }

    private func isValidJSON(_ text: String) throws -> Bool {
        let statement = try self.db.statement(Schema.jsonValid)
        defer { statement.reset() }
        statement.bind(1, text)
        return try statement.step() && statement.int64(0) == 1
    }

    private func record(id: String) throws -> LogRecord? {
        let statement = try self.db.statement(Schema.selectByID)
        defer { statement.reset() }
        statement.bind(1, id)
        return try statement.step() ? LogRecord(row: statement) : nil
    }

    private func exists(id: String) throws -> Bool {
        let statement = try self.db.statement(Schema.idExists)
        defer { statement.reset() }
        statement.bind(1, id)
        return try statement.step()
    }

    /// 1 + the highest order among the parent's children (1 for the first child); `nil` when
    /// the highest is Int64.max and there is no next.
    private func nextSiblingOrder(parent: String?) throws -> Int64? {
        let highest: Int64
        if let known = self.siblingOrders.highest(amongChildrenOf: parent) {
            highest = known
        } else {
            let statement = try self.db.statement(Schema.maxSiblingOrder)
            defer { statement.reset() }
            statement.bind(1, parent)
            highest = try statement.step() ? statement.int64(0) ?? 0 : 0
            self.siblingOrders.learn(highest, amongChildrenOf: parent)
        }
        return highest < Int64.max ? highest + 1 : nil
    }

    /// Empties `siblingOrders` if another connection committed since the last transaction began.
    /// Runs inside the write transaction, when nobody else can commit.
    private func forgetSiblingOrdersIfOthersWrote() throws(SQLiteError) {
        let statement = try self.db.statement(Schema.dataVersion)
        defer { statement.reset() }
        let version = try statement.step() ? statement.int64(0) : nil
        if version == nil || version != self.dataVersion { self.siblingOrders.forgetAll() }
        self.dataVersion = version
    }
}

extension Result {
    fileprivate var value: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}

extension NewEntry {
    /// Whether `record` is what storing this entry would have produced (an idempotent retry).
    /// An absent sibling order matches whatever order the server assigned. Text is compared byte
    /// for byte: Swift's `==` would call canonically equivalent text (é and e + ◌́) equal.
    func matches(_ record: LogRecord) -> Bool {
        sameBytes(record.category, self.category) && sameBytes(record.parentID, self.parentID)
            && sameBytes(record.content, self.content) && sameBytes(record.elaboration, self.elaboration)
            && (self.siblingOrder == nil || self.siblingOrder == record.siblingOrder)
    }
}

private func sameBytes(_ a: String?, _ b: String?) -> Bool {
    switch (a, b) {
    case (nil, nil): true
    case (let a?, let b?): a.utf8.elementsEqual(b.utf8)
    default: false
    }
}
