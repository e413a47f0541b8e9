import OrchLogStore
import OrchLogWire

/// The append baseline: direct inserts into the same table, in a database of its own with the
/// same DDL, indexes and PRAGMAs as orchlogd's (WAL, `synchronous`, foreign keys), from one
/// thread — what an orchestrator could do with SQLite and no server.
struct SQLiteInserts {
    let db: Database
    let parent: String

    init(path: String, sync: String) throws {
        self.db = try Database(path: path, create: true)
        try self.db.execute("PRAGMA journal_mode=WAL")
        try self.db.execute("PRAGMA synchronous=\(sync.uppercased()); PRAGMA foreign_keys=ON;")
        try self.db.execute(Schema.createTable)
        try self.db.execute(Schema.createIndexes)
        self.parent = LogID.generateV7()
        try self.insert(id: self.parent, parent: nil, order: 1)
    }

    /// Inserts for `seconds` in transactions of `rowsPerTransaction`; an operation (with its
    /// latency) is one transaction.
    func run(rowsPerTransaction: Int, seconds: Double, ids: IDKind = .v7) throws -> CallLoad.Result {
        var order: Int64 = 1
        return try CallLoad.Result.lockstep(seconds: seconds, capacity: 1 << 14) {
            try self.db.execute("BEGIN IMMEDIATE")
            for _ in 0..<rowsPerTransaction {
                order += 1
                try self.insert(id: ids.generate(), parent: self.parent, order: order)
            }
            try self.db.execute("COMMIT")
        }
    }

    private static let insertRow = SQL("""
        INSERT INTO "orchestration_session_log"
            ("orchestration_session_log_id", "category", "parent_exec_id", "content", "sibling_order", "elaboration")
        VALUES (?1, ?2, ?3, ?4, ?5, NULL)
        """)

    private func insert(id: String, parent: String?, order: Int64) throws {
        let statement = try self.db.statement(Self.insertRow)
        statement.bind(1, id)
        statement.bind(2, "note")
        statement.bind(3, parent)
        statement.bind(4, "step \(order): task finished, 3 files written")
        statement.bind(5, order)
        try statement.run()
    }
}
