import OrchLogWire

/// One node of a GetTree answer: its entry, already in wire form, and its depth.
package struct TreeItem: Sendable, Equatable {
    /// The `LogEntry` bytes (`LogRecord.entryBytes`).
    package var entry: [UInt8]
    package var depth: UInt32

    package init(entry: [UInt8], depth: UInt32) {
        self.entry = entry
        self.depth = depth
    }

    package init(record: LogRecord, depth: UInt32) {
        self.init(entry: record.entryBytes, depth: depth)
    }

    /// The node as a `TreeNode` in protobuf's wire format, byte for byte what SwiftProtobuf
    /// writes for `TreeNode { entry, depth }`.
    package var nodeBytes: [UInt8] {
        let capacity = WireFormat.bytesFieldSize(self.entry.count) + 1 + WireFormat.varintSize(UInt64(self.depth))
        return WireFormat.encode(capacity: capacity) { bytes in
            WireFormat.appendBytesField(0x0A, self.entry, to: &bytes)  // 1: entry
            WireFormat.appendVarintField(0x10, UInt64(self.depth), to: &bytes)  // 2: depth
        }
    }
}

/// A child in a page of the tree: what the walk needs of its row (the id to descend, the order
/// and seq to page on), whether it has children, and its entry in wire form.
package struct TreeChild: Sendable, Equatable {
    package var id: String
    package var siblingOrder: Int64?
    package var seq: UInt64
    package var hasChildren: Bool
    /// The `LogEntry` bytes, read straight from the row (`Statement.entryBytes`).
    package var entry: [UInt8]

    /// Reads a row selected by one of the `Schema.selectTreeChildren…` statements.
    init(row: Statement) {
        self.id = row.text(0) ?? ""
        self.siblingOrder = row.int64(4)
        self.seq = UInt64(max(0, row.int64(6) ?? 0))
        self.hasChildren = row.int64(7) == 1
        self.entry = row.entryBytes()
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
            self.descend(into: self.root.id, depth: 0)
        }
        while out.count < limit, let top = self.stack.indices.last {
            if self.stack[top].next < self.stack[top].page.count {
                let child = self.stack[top].page[self.stack[top].next]
                self.stack[top].next += 1
                // Only a cycle through the root (possible in a file another tool wrote without
                // foreign keys) can revisit a node; never walk it twice.
                if child.id == self.root.id { continue }
                let depth = self.stack[top].depth
                out.append(TreeItem(entry: child.entry, depth: depth))
                // A leaf costs no query: its page said it has no children.
                if child.hasChildren {
                    self.descend(into: child.id, depth: depth)
                }
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

    private mutating func descend(into id: String, depth: UInt32) {
        if self.maxDepth == 0 || depth < self.maxDepth {
            self.stack.append(Level(parentID: id, depth: depth + 1))
        }
    }
}
