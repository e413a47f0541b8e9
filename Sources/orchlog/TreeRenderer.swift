import OrchLogClient

/// Draws a preorder stream of nodes as an indented tree with box-drawing lines:
///
///     [note] session started
///     ├── [step] fetch inputs
///     │   └── [warning] retrying
///     └── [step] build
///
/// Lines come out one top-level branch at a time: whether a node is its parent's last child
/// (`└──` rather than `├──`, and the guides below it) is known only once a later node is no
/// deeper, so a branch is held until the next one starts or the stream ends. Levels deeper than
/// `maxDrawnDepth` get no guide columns of their own but a `[depth N]` mark, so a line's width
/// stays bounded however deep the tree.
struct TreeRenderer {
    /// The deepest level drawn with its own column of guides.
    static let maxDrawnDepth = 32

    /// Colour categories.
    var colour: Bool

    /// The first node's depth; the others are drawn relative to it.
    private var rootDepth: Int?
    /// The top-level branch not written yet, in preorder.
    private var branch: [TreeNode] = []

    init(colour: Bool) {
        self.colour = colour
    }

    /// Takes the next node in preorder and returns the lines it completes (often none).
    mutating func add(_ node: TreeNode) -> String {
        guard let rootDepth else {
            self.rootDepth = node.depth
            return self.label(node.entry) + "\n"
        }
        var out = ""
        let depth = node.depth - rootDepth
        if depth <= 1 && !self.branch.isEmpty {
            out = self.render(self.branch, lastBranch: false)
            self.branch = []
        }
        if depth <= 0 {
            out += self.label(node.entry) + "\n"
        } else {
            self.branch.append(node)
        }
        return out
    }

    /// The lines still held, once the stream has ended.
    mutating func finish() -> String {
        defer { self.branch = [] }
        return self.render(self.branch, lastBranch: true)
    }

    /// The lines of one top-level branch; `lastBranch` tells whether its head is the root's last child.
    private func render(_ nodes: [TreeNode], lastBranch: Bool) -> String {
        let depths = nodes.map { $0.depth - (self.rootDepth ?? 0) }
        let isLast = Self.lastSiblingFlags(depths)
        var out = ""
        // For each drawn depth above the current node: whether that ancestor was a last child.
        var path: [Bool] = []
        for (index, node) in nodes.enumerated() {
            let depth = depths[index]
            let last = index == 0 ? lastBranch : isLast[index]
            let guides = min(depth, Self.maxDrawnDepth + 1) - 1
            path.removeLast(max(0, path.count - guides))
            out += path.map { $0 ? "    " : "│   " }.joined() + (last ? "└── " : "├── ")
            if depth > Self.maxDrawnDepth { out += "[depth \(depth)] " }
            out += self.label(node.entry) + "\n"
            if path.count < Self.maxDrawnDepth { path.append(last) }
        }
        return out
    }

    /// Whether each node is the last child of its parent, from the nodes' depths in preorder:
    /// no later node at its depth comes before a shallower one. Linear in the number of nodes.
    static func lastSiblingFlags(_ depths: [Int]) -> [Bool] {
        var flags = [Bool](repeating: true, count: depths.count)
        // Walking backwards, seen[d]: a node at depth d has come since the last shallower one.
        var seen: [Bool] = []
        for index in depths.indices.reversed() {
            let depth = depths[index]
            // Deeper levels seen so far were under this node or a later sibling: a new start.
            seen.removeLast(max(0, seen.count - depth - 1))
            while seen.count <= depth { seen.append(false) }
            flags[index] = !seen[depth]
            seen[depth] = true
        }
        return flags
    }

    /// `[category] content`, both escaped; only the colour codes added here stay raw.
    private func label(_ entry: LogEntry) -> String {
        let content = Format.short(entry.content)
        guard let category = entry.category else { return content }
        return Format.category(category, colour: self.colour) + " " + content
    }
}
