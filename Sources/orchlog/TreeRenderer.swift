import OrchLogClient

/// Draws a preorder list of nodes as an indented tree with box-drawing lines:
///
///     [note] session started
///     ├── [step] fetch inputs
///     │   └── [warning] retrying
///     └── [step] build
struct TreeRenderer {
    /// Colour categories (only when writing to a terminal).
    var colour: Bool

    func render(_ nodes: [TreeNode]) -> String {
        let isLast = Self.lastSiblingFlags(nodes)
        var out = ""
        // For each depth on the current path: whether that ancestor was a last child.
        var path: [Bool] = []
        for (index, node) in nodes.enumerated() {
            let depth = node.depth - (nodes.first?.depth ?? 0)
            if depth == 0 {
                out += self.label(node.entry) + "\n"
                path = []
                continue
            }
            path = Array(path.prefix(depth - 1))
            let indent = path.map { $0 ? "    " : "│   " }.joined()
            out += indent + (isLast[index] ? "└── " : "├── ") + self.label(node.entry) + "\n"
            path.append(isLast[index])
        }
        return out
    }

    /// Whether each node is the last child of its parent: no later node at its depth comes
    /// before a shallower one.
    static func lastSiblingFlags(_ nodes: [TreeNode]) -> [Bool] {
        var flags = [Bool](repeating: true, count: nodes.count)
        var laterSibling: [Int: Bool] = [:]
        for index in nodes.indices.reversed() {
            let depth = nodes[index].depth
            flags[index] = !(laterSibling[depth] ?? false)
            laterSibling[depth] = true
            for deeper in laterSibling.keys where deeper > depth { laterSibling[deeper] = false }
        }
        return flags
    }

    /// `[category] content`, both escaped; only the colour codes added here stay raw.
    private func label(_ entry: LogEntry) -> String {
        let content = Format.short(entry.content)
        guard let category = entry.category else { return content }
        let shown = Format.escaped(category)
        guard self.colour else { return "[\(shown)] \(content)" }
        return "\(Self.colourCode(for: category))[\(shown)]\u{1B}[0m \(content)"
    }

    private static func colourCode(for category: String) -> String {
        switch category.lowercased() {
        case "error", "err", "fatal": "\u{1B}[31m"
        case "warning", "warn": "\u{1B}[33m"
        case "note", "info": "\u{1B}[36m"
        default: "\u{1B}[35m"
        }
    }
}
