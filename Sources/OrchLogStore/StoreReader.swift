import OrchLogWire

/// Read queries on one reader connection. Handed to the closure of `LogStore.read`, and valid
/// only inside it.
package struct StoreReader {
    let db: Database

    /// The entry with this canonical id, or `nil`.
    package func entry(id: String) throws(RPCStatus) -> LogRecord? {
        try self.query(Schema.selectByID, limit: 1) { $0.bind(1, id) }.first
    }

    /// Children of `parent` (`nil`: the roots) with seq > `afterSeq`, in seq order: at most
    /// `limit` of them, and once they hold `maxBytes` of entry bytes no more (at least one).
    package func children(
        of parent: String?, afterSeq: UInt64, limit: Int, maxBytes: Int = .max
    ) throws(RPCStatus) -> Page<LogRecord> {
        var page = Page<LogRecord>(limit: limit, maxBytes: maxBytes)
        try self.read(Schema.selectChildrenAfterSeq, into: &page, size: { $0.entryByteCount }, row: LogRecord.init(row:)) {
            $0.bind(1, parent)
            $0.bind(2, Int64(clamping: afterSeq))
            $0.bind(3, Int64(limit))
        }
        return page
    }

    /// The next page of `parent`'s children in tree order: sibling_order ascending with NULLs
    /// last, then seq, as nodes at `depth`. `after` is the last child of the previous page (nil:
    /// first page). At most `limit` children, and no more once they hold `maxBytes` of node
    /// bytes (at least one).
    package func treeChildren(
        of parent: String, depth: UInt32, after: TreePosition?, limit: Int, maxBytes: Int = .max
    ) throws(RPCStatus) -> Page<TreeChild> {
        var page = Page<TreeChild>(limit: limit, maxBytes: maxBytes)
        let row = { (statement: Statement) in TreeChild(row: statement, depth: depth) }
        guard let after else {
            try self.read(Schema.selectTreeChildrenFirst, into: &page, size: { $0.item.node.count }, row: row) {
                $0.bind(1, parent)
                $0.bind(2, Int64(limit))
            }
            return page
        }
        if let order = after.siblingOrder {
            try self.read(Schema.selectTreeChildrenOrderedAfter, into: &page, size: { $0.item.node.count }, row: row) {
                $0.bind(1, parent)
                $0.bind(2, order)
                $0.bind(3, after.rowID)
                $0.bind(4, Int64(limit))
            }
            if !page.isLast { return page }
        }
        // The NULL-order children, after the ordered ones (or after the last NULL one seen).
        let afterRowID = after.siblingOrder == nil ? after.rowID : Int64.min
        let room = limit - page.rows.count
        page.limit = room
        try self.read(Schema.selectTreeChildrenUnorderedAfter, into: &page, size: { $0.item.node.count }, row: row) {
            $0.bind(1, parent)
            $0.bind(2, afterRowID)
            $0.bind(3, Int64(room))
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
        var page = Page<Row>(limit: limit, maxBytes: .max)
        try self.read(sql, into: &page, size: { _ in 0 }, row: row, bind: bind)
        return page.rows
    }

    /// Appends the rows of `sql` (whose LIMIT is bound to `page.limit`) to `page`, stopping
    /// early once the page holds its bytes; `page.isLast` then says whether the query ran out.
    private func read<Row>(
        _ sql: SQL, into page: inout Page<Row>, size: (Row) -> Int, row: (Statement) -> Row,
        bind: (Statement) -> Void
    ) throws(RPCStatus) {
        do {
            let statement = try self.db.statement(sql)
            defer { statement.reset() }
            bind(statement)
            page.rows.reserveCapacity(page.rows.count + min(page.limit, 256))
            var read = 0
            page.isLast = true
            while page.bytes < page.maxBytes, try statement.step() {
                let next = row(statement)
                page.bytes += size(next)
                page.rows.append(next)
                read += 1
            }
            // Fewer rows than the LIMIT, without a stop for bytes: there are no more.
            page.isLast = page.bytes < page.maxBytes && read < page.limit
        } catch {
            throw error.status
        }
    }
}

/// Rows of one query page, and whether the query has more after them.
package struct Page<Row> {
    package var rows: [Row] = []
    /// True when no row follows these (the query returned fewer than it was allowed).
    package var isLast = true
    /// Rows the query was allowed to return.
    var limit: Int
    /// Bytes after which no more rows are read (the last row read may pass it).
    let maxBytes: Int
    var bytes = 0

    init(limit: Int, maxBytes: Int) {
        self.limit = limit
        self.maxBytes = maxBytes
    }
}

extension Page: Sendable where Row: Sendable {}
