import OrchLogWire

/// One stored row of `orchestration_session_log`; `nil` is SQL NULL, `seq` is the rowid.
package struct LogRecord: Sendable, Equatable {
    package var id: String
    package var category: String?
    package var parentID: String?
    package var content: String
    package var siblingOrder: Int64?
    package var elaboration: String?
    package var seq: UInt64

    package init(
        id: String, category: String?, parentID: String?, content: String,
        siblingOrder: Int64?, elaboration: String?, seq: UInt64
    ) {
        self.id = id
        self.category = category
        self.parentID = parentID
        self.content = content
        self.siblingOrder = siblingOrder
        self.elaboration = elaboration
        self.seq = seq
    }

    /// Reads a row selected with `Schema.selectColumns`.
    package init(row: Statement) {
        self.id = row.text(0) ?? ""
        self.category = row.text(1)
        self.parentID = row.text(2)
        self.content = row.text(3) ?? ""
        self.siblingOrder = row.int64(4)
        self.elaboration = row.text(5)
        self.seq = UInt64(max(0, row.int64(6) ?? 0))
    }

    /// Rough in-memory size, for bounding buffers of records.
    package var approximateBytes: Int {
        64 + self.id.utf8.count + (self.category?.utf8.count ?? 0) + (self.parentID?.utf8.count ?? 0)
            + self.content.utf8.count + (self.elaboration?.utf8.count ?? 0)
    }
}

/// What an append produced for one entry.
package struct AppendOutcome: Sendable, Equatable {
    /// The entry as stored: id, assigned sibling order, seq.
    package var record: LogRecord
    /// `false` when an identical entry with that id was already stored (an idempotent retry).
    package var created: Bool
}

extension LogEntryMessage {
    /// The wire form of a stored row; NULL columns stay absent.
    package init(_ record: LogRecord) {
        self.init()
        self.orchestrationSessionLogID = record.id
        if let category = record.category { self.category = category }
        if let parent = record.parentID { self.parentExecID = parent }
        self.content = record.content
        if let order = record.siblingOrder { self.siblingOrder = order }
        if let elaboration = record.elaboration { self.elaboration = elaboration }
        self.seq = record.seq
    }
}
