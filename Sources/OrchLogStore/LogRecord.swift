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
}

/// What an append produced for one entry.
package struct AppendOutcome: Sendable, Equatable {
    /// The entry as stored: id, assigned sibling order, seq.
    package var record: LogRecord
    /// `false` when an identical entry with that id was already stored (an idempotent retry).
    package var created: Bool

    package init(record: LogRecord, created: Bool) {
        self.record = record
        self.created = created
    }
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

extension LogRecord {
    /// The record as a `LogEntry` in protobuf's wire format: byte for byte what SwiftProtobuf
    /// writes for `LogEntryMessage(record)` (fields in number order, NULL columns absent), without
    /// building the message. Streams send these bytes as they are.
    package var entryBytes: [UInt8] {
        WireFormat.encode(capacity: self.entryByteCount) { self.appendEntry(to: &$0) }
    }

    /// How many bytes `appendEntry` writes.
    package var entryByteCount: Int {
        var count = WireFormat.bytesFieldSize(self.id.utf8.count) + WireFormat.bytesFieldSize(self.content.utf8.count)
            + 1 + WireFormat.varintSize(self.seq)
        if let category { count += WireFormat.bytesFieldSize(category.utf8.count) }
        if let parentID { count += WireFormat.bytesFieldSize(parentID.utf8.count) }
        if let siblingOrder { count += 1 + WireFormat.varintSize(UInt64(bitPattern: siblingOrder)) }
        if let elaboration { count += WireFormat.bytesFieldSize(elaboration.utf8.count) }
        return count
    }

    /// Appends the `LogEntry` encoding (`entryBytes`) to `buffer`.
    package func appendEntry(to buffer: inout [UInt8]) {
        WireFormat.appendStringField(0x0A, self.id, to: &buffer)  // 1: orchestration_session_log_id
        if let category { WireFormat.appendStringField(0x12, category, to: &buffer) }  // 2
        if let parentID { WireFormat.appendStringField(0x1A, parentID, to: &buffer) }  // 3: parent_exec_id
        WireFormat.appendStringField(0x22, self.content, to: &buffer)  // 4
        if let siblingOrder { WireFormat.appendVarintField(0x28, UInt64(bitPattern: siblingOrder), to: &buffer) }  // 5
        if let elaboration { WireFormat.appendStringField(0x32, elaboration, to: &buffer) }  // 6
        WireFormat.appendVarintField(0x38, self.seq, to: &buffer)  // 7: seq
    }
}

extension Statement {
    /// The current row, selected with `Schema.selectColumns`, as `LogEntry` bytes: exactly
    /// `LogRecord(row: self).entryBytes`, read from SQLite's buffers without building the record
    /// (GetTree reads a hundred thousand rows this way).
    func entryBytes() -> [UInt8] {
        // Ids, a short content, the tags and a tree node's few bytes around them fit; a longer
        // row grows the buffer.
        WireFormat.encode(capacity: 256) { bytes in
            self.appendTextField(0x0A, column: 0, nullAsEmpty: true, to: &bytes)  // 1: orchestration_session_log_id
            self.appendTextField(0x12, column: 1, to: &bytes)  // 2: category
            self.appendTextField(0x1A, column: 2, to: &bytes)  // 3: parent_exec_id
            self.appendTextField(0x22, column: 3, nullAsEmpty: true, to: &bytes)  // 4: content
            if let order = self.int64(4) { WireFormat.appendVarintField(0x28, UInt64(bitPattern: order), to: &bytes) }  // 5
            self.appendTextField(0x32, column: 5, to: &bytes)  // 6: elaboration
            WireFormat.appendVarintField(0x38, UInt64(max(0, self.int64(6) ?? 0)), to: &bytes)  // 7: seq
        }
    }
}

extension AppendOutcome {
    /// The outcome as an `AppendLogResponse { entry, created }` in wire form, byte for byte what
    /// SwiftProtobuf writes for that message.
    package var responseBytes: [UInt8] {
        WireFormat.encode(capacity: self.responseByteCount) { self.appendResponse(to: &$0) }
    }

    /// How many bytes `appendResponse` writes.
    package var responseByteCount: Int {
        WireFormat.bytesFieldSize(self.record.entryByteCount) + 2
    }

    /// Appends the `AppendLogResponse` encoding (`responseBytes`) to `buffer`.
    package func appendResponse(to buffer: inout [UInt8]) {
        buffer.append(0x0A)  // 1: entry
        WireFormat.appendVarint(UInt64(self.record.entryByteCount), to: &buffer)
        self.record.appendEntry(to: &buffer)
        WireFormat.appendVarintField(0x10, self.created ? 1 : 0, to: &buffer)  // 2: created, always set
    }

    /// Outcomes as an `AppendLogsResponse { repeated results }` in wire form, byte for byte
    /// SwiftProtobuf's.
    package static func batchResponseBytes(_ outcomes: [AppendOutcome]) -> [UInt8] {
        let sizes = outcomes.map(\.responseByteCount)
        return WireFormat.encode(capacity: sizes.reduce(0) { $0 + WireFormat.bytesFieldSize($1) }) { bytes in
            for (outcome, size) in zip(outcomes, sizes) {
                bytes.append(0x0A)  // 1: results
                WireFormat.appendVarint(UInt64(size), to: &bytes)
                outcome.appendResponse(to: &bytes)
            }
        }
    }
}

/// A stored entry as streams send it: its seq (a stream's cursor) and its `LogEntry` bytes,
/// encoded once: on the reader's queue for database pages, and for all followers at once for
/// live children.
package struct EncodedEntry: Sendable, Equatable {
    package let seq: UInt64
    package let bytes: [UInt8]

    package init(_ record: LogRecord) {
        self.seq = record.seq
        self.bytes = record.entryBytes
    }
}
