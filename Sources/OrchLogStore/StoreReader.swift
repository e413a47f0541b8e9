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
    /// last, then seq. `after` is the last child of the previous page (nil: first page).
    package func treeChildren(of parent: String, after: LogRecord?, limit: Int) throws(RPCStatus) -> [LogRecord] {
        guard let after else {
            return try self.query(Schema.selectTreeChildrenFirst, limit: limit) {
                $0.bind(1, parent)
                $0.bind(2, Int64(limit))
            }
        }
        var page: [LogRecord] = []
        if let order = after.siblingOrder {
            page = try self.query(Schema.selectTreeChildrenOrderedAfter, limit: limit) {
                $0.bind(1, parent)
                $0.bind(2, order)
                $0.bind(3, Int64(clamping: after.seq))
                $0.bind(4, Int64(limit))
            }
            if page.count == limit { return page }
        }
        // The NULL-order children, after the ordered ones (or after the last NULL one seen).
        let afterNullSeq = after.siblingOrder == nil ? Int64(clamping: after.seq) : 0
        page += try self.query(Schema.selectTreeChildrenUnorderedAfter, limit: limit - page.count) {
            $0.bind(1, parent)
            $0.bind(2, afterNullSeq)
            $0.bind(3, Int64(limit - page.count))
        }
        return page
    }

    /// Which of `ids` have at least one child, by one query per up to 128 ids: a tree walk asks
    /// this once per page of siblings instead of querying every leaf for children.
    package func idsWithChildren(_ ids: [String]) throws(RPCStatus) -> Set<String> {
        var found: Set<String> = []
        var start = 0
        do {
            while start < ids.count {
                let width = Self.probeWidths.first { $0 >= ids.count - start } ?? Self.probeWidths[Self.probeWidths.count - 1]
                let statement = try self.db.statement(Self.probeSQL[width]!)
                defer { statement.reset() }
                // Unbound parameters are NULL, which matches no parent.
                for (offset, id) in ids[start..<min(ids.count, start + width)].enumerated() {
                    statement.bind(Int32(offset + 1), id)
                }
                while try statement.step() {
                    if let id = statement.text(0) { found.insert(id) }
                }
                start += width
            }
        } catch {
            throw error.status
        }
        return found
    }

    /// Statement widths for `idsWithChildren`: few cached statements, little NULL padding.
    private static let probeWidths = [4, 16, 64, 128]
    private static let probeSQL: [Int: String] = Dictionary(uniqueKeysWithValues: probeWidths.map { width in
        (width, """
            WITH ids(id) AS (VALUES \((1...width).map { "(?\($0))" }.joined(separator: ", ")))
            SELECT id FROM ids
            WHERE EXISTS (SELECT 1 FROM "orchestration_session_log" WHERE "parent_exec_id" = ids.id)
            """)
    })

    /// Runs `body` in one read transaction: its queries see one snapshot, and SQLite takes its
    /// file locks once rather than once per query.
    package func snapshot<T>(_ body: () throws(RPCStatus) -> T) throws(RPCStatus) -> T {
        do {
            try self.db.statement("BEGIN").run()
        } catch {
            throw error.status
        }
        defer { try? self.db.statement("COMMIT").run() }
        return try body()
    }

    /// The number of rows in the table.
    package func count() throws(RPCStatus) -> UInt64 {
        do {
            let statement = try self.db.statement("SELECT count(*) FROM \"orchestration_session_log\"")
            defer { statement.reset() }
            return try statement.step() ? UInt64(max(0, statement.int64(0) ?? 0)) : 0
        } catch {
            throw error.status
        }
    }

    private func query(
        _ sql: String, limit: Int, bind: (Statement) -> Void
    ) throws(RPCStatus) -> [LogRecord] {
        do {
            let statement = try self.db.statement(sql)
            defer { statement.reset() }
            bind(statement)
            var rows: [LogRecord] = []
            rows.reserveCapacity(min(limit, 256))
            while try statement.step() {
                rows.append(LogRecord(row: statement))
            }
            return rows
        } catch {
            throw error.status
        }
    }
}
