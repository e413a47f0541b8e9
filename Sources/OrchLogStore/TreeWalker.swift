import OrchLogWire

/// One node of a GetTree answer: a `TreeNode { entry, depth }` in wire form, byte for byte what
/// SwiftProtobuf writes for it.
package struct TreeItem: Sendable, Equatable {
    package var node: [UInt8]

    /// The node of an entry's `LogEntry` bytes (`LogRecord.entryBytes`), built in their buffer.
    package init(entry: consuming [UInt8], depth: UInt32) {
        var bytes = entry
        WireFormat.wrapInBytesField(0x0A, &bytes)  // 1: entry
        WireFormat.appendVarintField(0x10, UInt64(depth), to: &bytes)  // 2: depth
        self.node = bytes
    }

    package init(record: LogRecord, depth: UInt32) {
        // Room for the node's own few bytes, so that wrapping the entry moves it in place.
        var entry: [UInt8] = []
        entry.reserveCapacity(record.entryByteCount + 16)
        record.appendEntry(to: &entry)
        self.init(entry: entry, depth: depth)
    }
}

/// A child in a page of the tree: what the walk needs of its row (its id if it has children,
/// the order and rowid to page on) and the node to send, read for the depth the page is at.
package struct TreeChild: Sendable, Equatable {
    /// The id to descend into; nil for a leaf, whose id is then never made into a String.
    package var idToDescend: String?
    /// The child's sibling_order as stored (nil: NULL), the key the next page starts after: a
    /// real or text order another tool wrote, read as an integer, would page from the wrong place.
    package var siblingOrder: StoredValue?
    /// The child's rowid as stored, the key's second part (a seq reads a negative rowid as 0).
    package var rowID: Int64
    /// The child as a `TreeItem`, read straight from the row (`Statement.entryBytes`).
    package var item: TreeItem

    /// Reads a row selected by one of the `Schema.selectTreeChildren…` statements.
    init(row: Statement, depth: UInt32) {
        self.idToDescend = row.int64(7) == 1 ? row.text(0) ?? "" : nil
        self.siblingOrder = row.value(4)
        self.rowID = row.int64(6) ?? 0
        self.item = TreeItem(entry: row.entryBytes(), depth: depth)
    }
}

/// Depth-first preorder over a subtree, produced a page at a time so that a stream can stop
/// between pages (no credit, a full socket) and resume later on any reader.
///
/// Memory is bounded by depth × page: each level keeps one page of its children, at most
/// `pageSize` of them and `pageBytes` of their nodes (or one node).
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
    private let pageBytes: Int
    private var rootEmitted = false
    private var stack: [Level] = []

    /// - Parameters:
    ///   - root: the subtree's root, emitted first at depth 0.
    ///   - maxDepth: the deepest depth emitted; 0 means no bound.
    ///   - pageSize, pageBytes: how many children, and how many bytes of them, one query reads.
    package init(root: LogRecord, maxDepth: UInt32, pageSize: Int = 128, pageBytes: Int = 64 * 1024) {
        self.root = root
        self.maxDepth = maxDepth
        self.pageSize = max(1, pageSize)
        self.pageBytes = max(1, pageBytes)
    }

    /// Whether every node has been produced.
    package var isFinished: Bool { self.rootEmitted && self.stack.isEmpty }

    /// Up to `limit` more nodes in preorder, and none after those that reach `maxBytes`.
    package mutating func next(limit: Int, maxBytes: Int = .max, using reader: StoreReader) throws(RPCStatus) -> [TreeItem] {
        var out: [TreeItem] = []
        var bytes = 0
        if !self.rootEmitted {
            self.rootEmitted = true
            out.append(TreeItem(record: self.root, depth: 0))
            bytes += out[0].node.count
            self.descend(into: self.root.id, depth: 0)
        }
        while out.count < limit, bytes < maxBytes, let top = self.stack.indices.last {
            if self.stack[top].next < self.stack[top].page.count {
                let child = self.stack[top].page[self.stack[top].next]
                self.stack[top].next += 1
                // Only a cycle through the root (possible in a file another tool wrote without
                // foreign keys) can revisit a node, and the root has children; never walk it twice.
                if child.idToDescend == self.root.id { continue }
                out.append(child.item)
                bytes += child.item.node.count
                // A leaf costs no query: its page said it has no children.
                if let id = child.idToDescend {
                    self.descend(into: id, depth: self.stack[top].depth)
                }
            } else if self.stack[top].exhausted {
                self.stack.removeLast()
            } else {
                let level = self.stack[top]
                let page = try reader.treeChildren(
                    of: level.parentID, depth: level.depth, after: level.page.last, limit: self.pageSize,
                    maxBytes: self.pageBytes
                )
                self.stack[top].page = page.rows
                self.stack[top].next = 0
                self.stack[top].exhausted = page.isLast
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
