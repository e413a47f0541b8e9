import OrchLogWire

/// One node of a GetTree answer.
package struct TreeItem: Sendable, Equatable {
    package var record: LogRecord
    package var depth: UInt32
}

/// Depth-first preorder over a subtree, produced a page at a time so that a stream can stop
/// between pages (no credit, a full socket) and resume later on any reader.
///
/// Memory is bounded by depth × page size: each level keeps only one page of its children.
package struct TreeWalker: Sendable {
    private struct Level: Sendable {
        var parentID: String
        var depth: UInt32
        var page: [LogRecord] = []
        var next = 0
        var exhausted = false
    }

    private let root: LogRecord
    private let maxDepth: UInt32
    private let pageSize: Int
    private var rootEmitted = false
    private var stack: [Level] = []

    /// - Parameters:
    ///   - root: the subtree's root, emitted first at depth 0.
    ///   - maxDepth: the deepest depth emitted; 0 means no bound.
    package init(root: LogRecord, maxDepth: UInt32, pageSize: Int = 128) {
        self.root = root
        self.maxDepth = maxDepth
        self.pageSize = max(1, pageSize)
    }

    /// Whether every node has been produced.
    package var isFinished: Bool { self.rootEmitted && self.stack.isEmpty }

    /// Up to `limit` more nodes in preorder.
    package mutating func next(limit: Int, using reader: StoreReader) throws(RPCStatus) -> [TreeItem] {
        var out: [TreeItem] = []
        if !self.rootEmitted {
            self.rootEmitted = true
            out.append(TreeItem(record: self.root, depth: 0))
            self.descend(into: self.root, depth: 0)
        }
        while out.count < limit, let top = self.stack.indices.last {
            if self.stack[top].next < self.stack[top].page.count {
                let child = self.stack[top].page[self.stack[top].next]
                self.stack[top].next += 1
                // Only a cycle through the root (possible in a file another tool wrote without
                // foreign keys) can revisit a node; never walk it twice.
                if child.id == self.root.id { continue }
                let depth = self.stack[top].depth
                out.append(TreeItem(record: child, depth: depth))
                self.descend(into: child, depth: depth)
            } else if self.stack[top].exhausted {
                self.stack.removeLast()
            } else {
                let level = self.stack[top]
                let page = try reader.treeChildren(of: level.parentID, after: level.page.last, limit: self.pageSize)
                self.stack[top].page = page
                self.stack[top].next = 0
                self.stack[top].exhausted = page.count < self.pageSize
            }
        }
        return out
    }

    private mutating func descend(into node: LogRecord, depth: UInt32) {
        if self.maxDepth == 0 || depth < self.maxDepth {
            self.stack.append(Level(parentID: node.id, depth: depth + 1))
        }
    }
}
