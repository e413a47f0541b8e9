import OrchLogWire

/// One node of a GetTree answer.
package struct TreeItem: Sendable, Equatable {
    package var record: LogRecord
    package var depth: UInt32

    package init(record: LogRecord, depth: UInt32) {
        self.record = record
        self.depth = depth
    }

    /// The node as a `TreeNode` in protobuf's wire format, byte for byte what SwiftProtobuf
    /// writes for `TreeNode { entry, depth }`.
    package var nodeBytes: [UInt8] {
        let entryCount = self.record.entryByteCount
        var bytes: [UInt8] = []
        bytes.reserveCapacity(WireFormat.bytesFieldSize(entryCount) + 1 + WireFormat.varintSize(UInt64(self.depth)))
        bytes.append(0x0A)  // 1: entry
        WireFormat.appendVarint(UInt64(entryCount), to: &bytes)
        self.record.appendEntry(to: &bytes)
        WireFormat.appendVarintField(0x10, UInt64(self.depth), to: &bytes)  // 2: depth
        return bytes
    }
}

/// A child in a page of the tree: its row, and whether it has children of its own.
package struct TreeChild: Sendable, Equatable {
    package var record: LogRecord
    package var hasChildren: Bool

    /// Reads a row selected by one of the `Schema.selectTreeChildren…` statements.
    init(row: Statement) {
        self.record = LogRecord(row: row)
        self.hasChildren = row.int64(7) == 1
    }
}

/// Depth-first preorder over a subtree, produced a page at a time so that a stream can stop
/// between pages (no credit, a full socket) and resume later on any reader.
///
/// Memory is bounded by depth × page size: each level keeps only one page of its children.
package struct TreeWalker: Sendable {
    private struct Level: Sendable {
        var parentID: String
        var depth: UInt32
        var page: [TreeChild] = []
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
                if child.record.id == self.root.id { continue }
                let depth = self.stack[top].depth
                out.append(TreeItem(record: child.record, depth: depth))
                // A leaf costs no query: its page said it has no children.
                if child.hasChildren {
                    self.descend(into: child.record, depth: depth)
                }
            } else if self.stack[top].exhausted {
                self.stack.removeLast()
            } else {
                let level = self.stack[top]
                let page = try reader.treeChildren(of: level.parentID, after: level.page.last?.record, limit: self.pageSize)
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
