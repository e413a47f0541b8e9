import OrchLogWire

/// Read queries on one reader connection. Handed to the closure of `LogStore.read`, and valid
/// only inside it.
package struct StoreReader {
    let db: Database

    /// The entry with this canonical id, or `nil`.
    package func entry(id: String) throws(RPCStatus) -> LogRecord? {
        try self.query(Schema.selectByID, limit: 1) { $0.bind(1, id) }.first
    }

    /// Children of `parent` (`nil`: the roots) with seq > `afterSeq`, in seq order.
    package func children(of parent: String?, afterSeq: UInt64, limit: Int) throws(RPCStatus) -> [LogRecord] {
        try self.query(Schema.selectChildrenAfterSeq, limit: limit) {
            $0.bind(1, parent)
            $0.bind(2, Int64(clamping: afterSeq))
            $0.bind(3, Int64(limit))
        }
    }

    /// The next page of `parent`'s children in tree order: sibling_order ascending with NULLs
    /// last, then seq, as nodes at `depth`. `after` is the last child of the previous page (nil:
    /// first page).
    package func treeChildren(
        of parent: String, depth: UInt32, after: TreeChild?, limit: Int
    ) throws(RPCStatus) -> [TreeChild] {
        let row = { (statement: Statement) in TreeChild(row: statement, depth: depth) }
        guard let after else {
            return try self.query(Schema.selectTreeChildrenFirst, limit: limit, row: row) {
                $0.bind(1, parent)
                $0.bind(2, Int64(limit))
            }
        }
        var page: [TreeChild] = []
        if let order = after.siblingOrder {
            page = try self.query(Schema.selectTreeChildrenOrderedAfter, limit: limit, row: row) {
                $0.bind(1, parent)
                $0.bind(2, order)
                $0.bind(3, Int64(clamping: after.seq))
                $0.bind(4, Int64(limit))
            }
            if page.count == limit { return page }
        }
        // The NULL-order children, after the ordered ones (or after the last NULL one seen).
        let afterNullSeq = after.siblingOrder == nil ? Int64(clamping: after.seq) : 0
        page += try self.query(Schema.selectTreeChildrenUnorderedAfter, limit: limit - page.count, row: row) {
            $0.bind(1, parent)
            $0.bind(2, afterNullSeq)
            $0.bind(3, Int64(limit - page.count))
        }
        return page
    }

    /// Runs `body` in one read transaction: its queries see one snapshot, and SQLite takes its
    /// file locks once rather than once per query.
    package func snapshot<T>(_ body: () throws(RPCStatus) -> T) throws(RPCStatus) -> T {
        do {
            try self.db.statement(Schema.begin).run()
        } catch {
            throw error.status
        }
        defer { try? self.db.statement(Schema.commit).run() }
        return try body()
    }

    /// The number of rows in the table.
    package func count() throws(RPCStatus) -> UInt64 {
        do {
            let statement = try self.db.statement(Schema.countRows)
            defer { statement.reset() }
            return try statement.step() ? UInt64(max(0, statement.int64(0) ?? 0)) : 0
        } catch {
            throw error.status
        }
    }

    private func query<Row>(
        _ sql: SQL, limit: Int, row: (Statement) -> Row = LogRecord.init(row:), bind: (Statement) -> Void
    ) throws(RPCStatus) -> [Row] {
        do {
            let statement = try self.db.statement(sql)
            defer { statement.reset() }
            bind(statement)
            var rows: [Row] = []
            rows.reserveCapacity(min(limit, 256))
            while try statement.step() {
                rows.append(row(statement))
            }
            return rows
        } catch {
            throw error.status
        }
    }
}
