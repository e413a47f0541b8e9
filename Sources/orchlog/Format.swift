import Foundation
import OrchLogClient

/// Human-readable output. Every piece of user data goes through `escaped(_:)`, so nothing the
/// server returns can move the cursor, retitle the terminal or fake an extra line.
enum Format {
    /// `seq  id  [category] content` on one line.
    static func entryLine(_ entry: LogEntry) -> String {
        let category = entry.category.map { "[\(self.escaped($0))] " } ?? ""
        return "\(entry.seq)  \(self.id(entry.id))  \(category)\(self.short(entry.content))"
    }

    /// Every field, one per line; content and elaboration keep their lines, indented under the first.
    static func details(_ entry: LogEntry) -> String {
        [
            self.field("id", self.id(entry.id)),
            self.field("seq", "\(entry.seq)"),
            self.field("parent", entry.parentID.map(self.id) ?? "-"),
            self.field("category", entry.category ?? "-"),
            self.field("order", entry.siblingOrder.map(String.init) ?? "-"),
            self.block("elaboration", entry.elaboration ?? "-"),
            self.block("content", entry.content),
        ].joined(separator: "\n")
    }

    /// The first line of `text`, escaped, at most `limit` characters; ` …` marks more lines.
    static func short(_ text: String, limit: Int = 72) -> String {
        let line = text.prefix { !$0.isNewline }
        let multiline = line.endIndex < text.endIndex
        let shown = self.escaped(line)
        if shown.count > limit { return String(shown.prefix(limit - 1)) + "…" }
        return multiline ? shown + " …" : shown
    }

    /// `text` with every C0 control, DEL, C1 control and line or paragraph separator spelled out
    /// as in Python's `repr`: `\t`, `\n`, `\r`, else `\xHH` (ESC is `\x1b`) or `\uHHHH`
    /// (U+2028, U+2029). Backslashes are left alone: this is for reading; `--json` is exact.
    static func escaped(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let escape = self.escape(scalar) {
                out += escape
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The visible spelling of `scalar`, or nil when it prints as itself.
    private static func escape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar.value {
        case 0x09: "\\t"
        case 0x0A: "\\n"
        case 0x0D: "\\r"
        case 0x00...0x1F, 0x7F...0x9F: String(format: "\\x%02x", scalar.value)
        case 0x2028, 0x2029: String(format: "\\u%04x", scalar.value)
        default: nil
        }
    }

    private static func id(_ id: UUID) -> String {
        id.uuidString.lowercased()
    }

    /// `name:` padded to the value column, then the value escaped onto one line.
    private static func field(_ name: String, _ value: String) -> String {
        self.label(name) + self.escaped(value)
    }

    /// Like `field`, but each line of `value` is shown on its own output line, the later ones
    /// indented to the value column so they cannot pass for another field.
    private static func block(_ name: String, _ value: String) -> String {
        let indent = String(repeating: " ", count: self.label(name).count)
        return self.label(name) + value.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { self.escaped($0) }
            .joined(separator: "\n" + indent)
    }

    private static func label(_ name: String) -> String {
        (name + ":").padding(toLength: 14, withPad: " ", startingAt: 0)
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
        return self.escapingRawControls(String(decoding: data, as: UTF8.self))
    }

    /// `json` with DEL, C1 controls and U+2028/U+2029 written as `\uHHHH`, which JSONSerialization
    /// leaves raw (it escapes only C0). They can only occur inside strings, so the JSON means the
    /// same, and a terminal showing it is not driven by them.
    static func escapingRawControls(_ json: String) -> String {
        var out = ""
        out.reserveCapacity(json.utf8.count)
        for scalar in json.unicodeScalars {
            switch scalar.value {
            case 0x7F...0x9F, 0x2028, 0x2029: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
