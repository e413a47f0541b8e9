/// The RSSD table, verbatim, and the indexes orchlog adds (never columns).
package enum Schema {
    package static let table = "orchestration_session_log"

    /// The table's DDL exactly as specified; other tools read this file with plain SQL.
    package static let createTable = """
        CREATE TABLE "orchestration_session_log" (
            "orchestration_session_log_id" UUID PRIMARY KEY NOT NULL,
            "category" TEXT,
            "parent_exec_id" UUID,
            "content" TEXT NOT NULL,
            "sibling_order" INTEGER,
            "elaboration" TEXT CHECK(json_valid(elaboration) OR elaboration IS NULL),
            FOREIGN KEY("parent_exec_id") REFERENCES "orchestration_session_log"("orchestration_session_log_id")
        )
        """

    /// The columns, in table order.
    package static let columns = columnInfo.map(\.name)

    /// Each column as `PRAGMA table_info` describes the specified table: name, declared type,
    /// NOT NULL, primary key.
    private static let columnInfo: [(name: String, type: String, notNull: Bool, primaryKey: Bool)] = [
        ("orchestration_session_log_id", "UUID", true, true),
        ("category", "TEXT", false, false),
        ("parent_exec_id", "UUID", false, false),
        ("content", "TEXT", true, false),
        ("sibling_order", "INTEGER", false, false),
        ("elaboration", "TEXT", false, false),
    ]

    /// What makes an existing `orchestration_session_log` another table than the specified one,
    /// or nil. The rules rely on what the DDL gives: the declared types (a TEXT sibling_order
    /// would store orders as text, and sort them so), the primary key, the foreign key (a
    /// missing parent is found by it) and rowids (`seq`).
    static func checkTable(_ db: Database) throws(SQLiteError) -> String? {
        let info = try Statement(db: db, sql: #"PRAGMA table_info("orchestration_session_log")"#)
        var found: [(name: String, type: String, notNull: Bool, primaryKey: Bool)] = []
        while try info.step() {
            found.append((info.text(1) ?? "", info.text(2) ?? "", info.int64(3) == 1, info.int64(5) == 1))
        }
        guard found.map(\.name) == self.columns else {
            return "has columns \(found.map(\.name)), expected exactly \(self.columns)"
        }
        for (column, expected) in zip(found, self.columnInfo) {
            if column.type.uppercased() != expected.type {
                return "declares \(column.name) as \(column.type.isEmpty ? "no type" : column.type), expected \(expected.type)"
            }
            if column.notNull != expected.notNull {
                return "has \(column.name) \(column.notNull ? "NOT NULL" : "nullable"), expected \(expected.notNull ? "NOT NULL" : "nullable")"
            }
            if column.primaryKey != expected.primaryKey {
                return expected.primaryKey
                    ? "does not have \(column.name) as its primary key" : "has \(column.name) in its primary key"
            }
        }
        let keys = try Statement(db: db, sql: #"PRAGMA foreign_key_list("orchestration_session_log")"#)
        var foreignKeys: [String] = []
        while try keys.step() { foreignKeys.append("\(keys.text(3) ?? "") -> \(keys.text(2) ?? "").\(keys.text(4) ?? "")") }
        let expectedKey = "parent_exec_id -> orchestration_session_log.orchestration_session_log_id"
        guard foreignKeys == [expectedKey] else {
            return "has foreign keys \(foreignKeys), expected exactly [\(expectedKey)]"
        }
        do {
            _ = try Statement(db: db, sql: #"SELECT rowid FROM "orchestration_session_log" LIMIT 0"#)
        } catch {
            return "has no rowid (created WITHOUT ROWID), and orchlog's seq is the rowid"
        }
        return nil
    }

    /// - `parent_seq`: (parent, rowid) — "children of P after seq S" is one index seek.
    /// - `parent_order`: (parent, NULL-last flag, sibling_order, rowid) — a parent's children in
    ///   tree order without a sort, and `max(sibling_order)` for assignment as one seek.
    package static let createIndexes = """
        CREATE INDEX IF NOT EXISTS "orchestration_session_log_parent_seq"
            ON "orchestration_session_log"("parent_exec_id");
        CREATE INDEX IF NOT EXISTS "orchestration_session_log_parent_order"
            ON "orchestration_session_log"("parent_exec_id", "sibling_order" IS NULL, "sibling_order");
        """

    /// The select list that `LogRecord(row:)` reads; `rowid` is the entry's `seq`.
    static let selectColumns = """
        "orchestration_session_log_id", "category", "parent_exec_id", "content", "sibling_order", "elaboration", rowid
        """

    /// The statements run per call, prepared once per connection (`SQL`).
    static let insertRow = SQL("""
        INSERT INTO "orchestration_session_log" (\(columns.map { "\"\($0)\"" }.joined(separator: ", ")))
        VALUES (?1, ?2, ?3, ?4, ?5, ?6)
        """)
    static let selectByID = SQL("""
        SELECT \(selectColumns) FROM "orchestration_session_log" WHERE "orchestration_session_log_id" = ?1
        """)
    static let idExists = SQL("""
        SELECT 1 FROM "orchestration_session_log" WHERE "orchestration_session_log_id" = ?1
        """)
    /// The highest sibling_order among a parent's children (one seek of `parent_order`).
    /// The highest numeric order: text and blobs (which another tool may store, and which sort
    /// after every number) are left out by `< ''`, below every text.
    static let maxSiblingOrder = SQL("""
        SELECT max("sibling_order") FROM "orchestration_session_log"
        WHERE "parent_exec_id" IS ?1 AND ("sibling_order" IS NULL) = 0 AND "sibling_order" < ''
        """)
    static let jsonValid = SQL("SELECT json_valid(?1)")
    /// Changes when another connection commits (read by the writer at each transaction's start).
    static let dataVersion = SQL("PRAGMA data_version")
    static let selectChildrenAfterSeq = SQL("""
        SELECT \(selectColumns) FROM "orchestration_session_log"
        WHERE "parent_exec_id" IS ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3
        """)
    /// A parent's children in tree order, each with whether it has children itself (one more
    /// probe of the parent index per row, instead of a query per leaf).
    private static let selectTreeChildren = """
        SELECT \(selectColumns), EXISTS (
            SELECT 1 FROM "orchestration_session_log" AS c WHERE c."parent_exec_id" = t."orchestration_session_log_id"
        ) FROM "orchestration_session_log" AS t
        """
    static let selectTreeChildrenFirst = SQL("""
        \(selectTreeChildren) WHERE "parent_exec_id" = ?1
        ORDER BY "sibling_order" IS NULL, "sibling_order", rowid LIMIT ?2
        """)
    static let selectTreeChildrenOrderedAfter = SQL("""
        \(selectTreeChildren) WHERE "parent_exec_id" = ?1 AND ("sibling_order" IS NULL) = 0
        AND ("sibling_order", rowid) > (?2, ?3) ORDER BY "sibling_order", rowid LIMIT ?4
        """)
    static let selectTreeChildrenUnorderedAfter = SQL("""
        \(selectTreeChildren) WHERE "parent_exec_id" = ?1 AND ("sibling_order" IS NULL) = 1
        AND rowid > ?2 ORDER BY rowid LIMIT ?3
        """)
    static let countRows = SQL(#"SELECT count(*) FROM "orchestration_session_log""#)
    static let maxRowID = SQL(#"SELECT max(rowid) FROM "orchestration_session_log""#)
    static let countRowsBetween = SQL("""
        SELECT count(*) FROM "orchestration_session_log" WHERE rowid > ?1 AND rowid <= ?2
        """)

    // Transaction control, prepared like the rest.
    static let begin = SQL("BEGIN")
    static let beginImmediate = SQL("BEGIN IMMEDIATE")
    static let commit = SQL("COMMIT")
    static let savepoint = SQL("SAVEPOINT append")
    static let releaseSavepoint = SQL("RELEASE append")
    static let rollbackToSavepoint = SQL("ROLLBACK TO append")
}
