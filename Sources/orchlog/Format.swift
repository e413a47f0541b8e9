import Foundation
import OrchLogClient

/// Human-readable output.
enum Format {
    /// `seq  id  [category] content` on one line.
    static func entryLine(_ entry: LogEntry) -> String {
        let category = entry.category.map { "[\($0)] " } ?? ""
        return "\(entry.seq)  \(entry.id.uuidString.lowercased())  \(category)\(self.short(entry.content))"
    }

    /// Every field, one per line.
    static func details(_ entry: LogEntry) -> String {
        [
            "id:           \(entry.id.uuidString.lowercased())",
            "seq:          \(entry.seq)",
            "parent:       \(entry.parentID?.uuidString.lowercased() ?? "-")",
            "category:     \(entry.category ?? "-")",
            "order:        \(entry.siblingOrder.map(String.init) ?? "-")",
            "elaboration:  \(entry.elaboration ?? "-")",
            "content:      \(entry.content)",
        ].joined(separator: "\n")
    }

    /// The first line of `text`, at most `limit` characters.
    static func short(_ text: String, limit: Int = 72) -> String {
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let multiline = line.count < text.count
        if line.count > limit { return String(line.prefix(limit - 1)) + "…" }
        return multiline ? line + " …" : line
    }
}

/// JSON output: field names as in the protocol, NULL as `null`, keys sorted.
enum JSONOutput {
    static func entry(_ entry: LogEntry, extra: [String: Any] = [:]) -> String {
        var object: [String: Any] = [
            "orchestration_session_log_id": entry.id.uuidString.lowercased(),
            "category": entry.category ?? NSNull(),
            "parent_exec_id": entry.parentID.map { $0.uuidString.lowercased() } ?? NSNull(),
            "content": entry.content,
            "sibling_order": entry.siblingOrder.map { NSNumber(value: $0) } ?? NSNull(),
            "elaboration": entry.elaboration ?? NSNull(),
            "seq": NSNumber(value: entry.seq),
        ]
        object.merge(extra) { _, new in new }
        return self.object(object)
    }

    static func object(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
