import OrchLogStore
import OrchLogWire

/// Databases written by "another tool": the verbatim DDL and plain inserts, no orchlog indexes.
enum SQLiteFill {
    private static let insertRow = SQL("""
        INSERT INTO "orchestration_session_log"
            ("orchestration_session_log_id", "category", "parent_exec_id", "content", "sibling_order")
        VALUES (?1, ?2, ?3, ?4, ?5)
        """)

    /// `rows` entries: sessions of 1,000 entries (a root and its children).
    static func tree(path: String, rows: Int) throws {
        let db = try Database(path: path, create: true)
        try db.execute("PRAGMA journal_mode=WAL")
        try db.execute(Schema.createTable)
        try db.execute("BEGIN")
        let insert = try db.statement(Self.insertRow)
        var root = ""
        for index in 0..<rows {
            let id = LogID.generateV7()
            insert.reset()
            insert.bind(1, id)
            if index % 1000 == 0 {
                insert.bind(2, "session")
                insert.bind(3, nil as String?)
                root = id
            } else {
                insert.bind(2, "note")
                insert.bind(3, root)
            }
            insert.bind(4, "step \(index): task finished, 3 files written")
            insert.bind(5, Int64(index % 1000 + 1))
            try insert.run()
        }
        try db.execute("COMMIT")
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }
}
