import OrchLogStore

/// The read baselines: the same rows in the same order, by SQL alone, in the bench process on
/// the server's database file, each column read into a Swift value as a client would hold it.
struct SQLiteReads {
    let db: Database

    init(path: String) throws {
        self.db = try Database(path: path, readOnly: true)
    }

    /// The subtree under `root` depth-first by one recursive CTE: the queue ordered deepest first,
    /// then by tree order, yields preorder. Returns the ids in the order SQLite produced them.
    func treePreorder(root: String) throws -> [String] {
        let statement = try self.db.statement(Self.treePreorderCTE)
        statement.bind(1, root)
        return try self.collect(statement)
    }

    /// A parent's children in arrival order, as StreamChildren sends them.
    func children(of parent: String) throws -> [String] {
        let statement = try self.db.statement(Self.childrenByRowID)
        statement.bind(1, parent)
        return try self.collect(statement)
    }

    private static let treePreorderCTE = SQL("""
        WITH RECURSIVE tree(id, category, parent, content, sibling_order, elaboration, seq, depth, unordered) AS (
            SELECT "orchestration_session_log_id", "category", "parent_exec_id", "content", "sibling_order",
                   "elaboration", rowid, 0, 0
            FROM "orchestration_session_log" WHERE "orchestration_session_log_id" = ?1
            UNION ALL
            SELECT c."orchestration_session_log_id", c."category", c."parent_exec_id", c."content",
                   c."sibling_order", c."elaboration", c.rowid, tree.depth + 1, c."sibling_order" IS NULL
            FROM "orchestration_session_log" AS c JOIN tree ON c."parent_exec_id" = tree.id
            ORDER BY 8 DESC, 9, 5, 7
        )
        SELECT id, category, parent, content, sibling_order, elaboration, seq, depth FROM tree
        """)

    private static let childrenByRowID = SQL("""
        SELECT "orchestration_session_log_id", "category", "parent_exec_id", "content", "sibling_order",
               "elaboration", rowid
        FROM "orchestration_session_log" WHERE "parent_exec_id" = ?1 ORDER BY rowid
        """)

    private func collect(_ statement: Statement) throws -> [String] {
        defer { statement.reset() }
        var ids: [String] = []
        while try statement.step() {
            // Read every column, as a client materializes every field of a row.
            let row = LogRecord(row: statement)
            ids.append(row.id)
        }
        return ids
    }
}
