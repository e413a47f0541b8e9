import OrchLogStore
import OrchLogWire
import Testing

/// Streams send entries encoded by hand (`LogRecord.appendEntry`, `TreeItem`); a
/// client decodes them with protobuf, so the bytes must be exactly SwiftProtobuf's.
@Suite("Entry encoding")
struct EntryEncodingTests {
    static let records: [LogRecord] = [
        LogRecord(id: LogID.generateV7(), category: nil, parentID: nil, content: "", siblingOrder: nil, elaboration: nil, seq: 1),
        LogRecord(
            id: LogID.generateV7(), category: "error", parentID: LogID.generateV4(), content: "disk full ✗ — 日本語",
            siblingOrder: 3, elaboration: #"{"code": 28}"#, seq: 300
        ),
        LogRecord(
            id: LogID.generateV7(), category: "", parentID: LogID.generateV7(), content: String(repeating: "x", count: 70_000),
            siblingOrder: -1, elaboration: "[]", seq: UInt64(Int64.max)
        ),
        LogRecord(id: LogID.generateV7(), category: "note", parentID: nil, content: "c", siblingOrder: Int64.min, elaboration: nil, seq: 127),
        LogRecord(id: LogID.generateV7(), category: nil, parentID: nil, content: "c", siblingOrder: 0, elaboration: nil, seq: 128),
    ]

    @Test("a record's LogEntry bytes are SwiftProtobuf's, byte for byte", arguments: Self.records)
    func entryBytes(record: LogRecord) {
        let expected = LogEntryMessage(record).encodedBytes()
        #expect(record.entryBytes == expected)
        #expect(record.entryByteCount == expected.count)
        #expect(EncodedEntry(record).bytes == expected)
    }

    @Test("append responses, single and batch, are SwiftProtobuf's, byte for byte")
    func appendResponseBytes() {
        let outcomes = Self.records.enumerated().map { AppendOutcome(record: $1, created: $0 % 2 == 0) }
        for outcome in outcomes {
            let expected = Orchlog_V1_AppendLogResponse.with {
                $0.entry = LogEntryMessage(outcome.record)
                $0.created = outcome.created
            }.encodedBytes()
            #expect(outcome.responseBytes == expected)
            #expect(outcome.responseByteCount == expected.count)
        }
        for batch in [[], Array(outcomes.prefix(1)), outcomes] {
            let expected = Orchlog_V1_AppendLogsResponse.with {
                $0.results = batch.map { outcome in
                    .with {
                        $0.entry = LogEntryMessage(outcome.record)
                        $0.created = outcome.created
                    }
                }
            }.encodedBytes()
            #expect(AppendOutcome.batchResponseBytes(batch) == expected)
        }
    }

    @Test("a tree node's bytes are SwiftProtobuf's, byte for byte", arguments: [0, 1, 127, 128, UInt32.max])
    func nodeBytes(depth: UInt32) {
        for record in Self.records {
            let expected = Orchlog_V1_TreeNode.with {
                $0.entry = LogEntryMessage(record)
                $0.depth = depth
            }.encodedBytes()
            #expect(TreeItem(record: record, depth: depth).node == expected)
            // As a tree page builds it: around the entry's own bytes, in their buffer.
            #expect(TreeItem(entry: record.entryBytes, depth: depth).node == expected)
        }
    }
}
