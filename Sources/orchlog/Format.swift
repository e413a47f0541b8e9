import Foundation
import OrchLogClient

/// Human-readable output. Every piece of user data goes through `escaped(_:)`, so nothing the
/// server returns can move the cursor, retitle the terminal, fake an extra line or reorder
/// what is shown.
enum Format {
    /// `seq  id  [category] content` on one line; `colour` colours the category.
    static func entryLine(_ entry: LogEntry, colour: Bool = false) -> String {
        let category = entry.category.map { self.category($0, colour: colour) + " " } ?? ""
        return "\(entry.seq)  \(self.id(entry.id))  \(category)\(self.short(entry.content))"
    }

    /// `[category]`, escaped; with `colour`, wrapped in the colour for its kind (only these
    /// codes are written raw).
    static func category(_ category: String, colour: Bool) -> String {
        let label = "[\(self.escaped(category))]"
        return colour ? "\(self.colourCode(for: category))\(label)\u{1B}[0m" : label
    }

    /// Whether to colour what goes to stdout: only on a terminal, and not when `NO_COLOR` is
    /// set to anything but the empty string (https://no-color.org).
    static var colourOnStdout: Bool {
        let noColour = getenv("NO_COLOR").map { $0.pointee != 0 } ?? false
        return isatty(STDOUT_FILENO) == 1 && !noColour
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

    /// `text` escaped onto one line (line breaks too), at most `limit` characters: a longer one
    /// is cut, never inside an escape, and ends with `…`.
    static func short(_ text: String, limit: Int = 72) -> String {
        // Escape only as much as can be shown, plus one piece to tell whether there is more.
        var pieces: [String] = []
        var width = 0
        for character in text {
            if width > limit { break }
            let piece = self.escaped(String(character))
            pieces.append(piece)
            width += piece.count
        }
        guard width > limit else { return pieces.joined() }
        var shown = ""
        var used = 0
        for piece in pieces {
            if used + piece.count > limit - 1 { break }
            shown += piece
            used += piece.count
        }
        return shown + "…"
    }

    /// `text` with every scalar `isUnsafe` spelled out as in Python's `repr`: `\t`, `\n`, `\r`,
    /// else `\xHH` (ESC is `\x1b`) or `\uHHHH` (U+2028, U+202E). Backslashes are left alone:
    /// this is for reading; `--json` is exact.
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

    /// Whether a terminal showing `scalar` could be driven or misled by it: C0 controls, DEL,
    /// C1 controls, the line and paragraph separators (a line break to a terminal or editor),
    /// and the bidi embedding, override and isolate controls, which display text reordered
    /// ("Trojan Source").
    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// The visible spelling of `scalar`, or nil when it prints as itself.
    private static func escape(_ scalar: Unicode.Scalar) -> String? {
        guard self.isUnsafe(scalar) else { return nil }
        switch scalar.value {
        case 0x09: return "\\t"
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x00...0x9F: return String(format: "\\x%02x", scalar.value)
        default: return String(format: "\\u%04x", scalar.value)
        }
    }

    private static func colourCode(for category: String) -> String {
        switch category.lowercased() {
        case "error", "err", "fatal": "\u{1B}[31m"
        case "warning", "warn": "\u{1B}[33m"
        case "note", "info": "\u{1B}[36m"
        default: "\u{1B}[35m"
        }
    }

    private static func id(_ id: UUID) -> String {
        id.uuidString.lowercased()
    }

    /// `name:` padded to the value column, then the value escaped onto one line.
    private static func field(_ name: String, _ value: String) -> String {
        self.label(name) + self.escaped(value)
    }

    /// Like `field`, but each line of `value` (ended by LF or CR LF) is shown on its own output
    /// line, the later ones indented to the value column so they cannot pass for another field.
    /// Every other break (a lone CR, U+2028…) is escaped like any control.
    private static func block(_ name: String, _ value: String) -> String {
        let indent = String(repeating: " ", count: self.label(name).count)
        return self.label(name) + value.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
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

    /// `json` with the scalars `Format.isUnsafe` names that JSONSerialization leaves raw (it
    /// escapes only C0) written as `\uHHHH`. They can only occur inside strings, so the JSON means
    /// the same, and a terminal showing it is not driven or misled by them.
    static func escapingRawControls(_ json: String) -> String {
        var out = ""
        out.reserveCapacity(json.utf8.count)
        for scalar in json.unicodeScalars {
            if scalar.value >= 0x7F && Format.isUnsafe(scalar) {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
