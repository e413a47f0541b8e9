import OrchLogWire

/// One node of a GetTree answer: a `TreeNode { entry, depth }` in wire form, byte for byte what
/// SwiftProtobuf writes for it.
package struct TreeItem: Sendable, Equatable {
    package var node: [UInt8]

    /// The node of an entry's `LogEntry` bytes (`LogRecord.entryBytes`), built in their buffer.
    package init(node: [UInt8]) {
        self.node = node
    }

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

/// Where a page of children starts: after the child with this sibling_order and rowid, as stored.
package struct TreePosition: Sendable, Equatable {
    /// The child's sibling_order as stored (nil: NULL). A real or text order another tool wrote,
    /// read as an integer, would page from the wrong place.
    package var siblingOrder: StoredValue?
    /// The child's rowid as stored, the key's second part (a seq reads a negative rowid as 0).
    package var rowID: Int64
}

/// A child in a page of the tree: what the walk needs of its row (its id if it has children,
/// its position to page on) and the node to send, read for the depth the page is at.
package struct TreeChild: Sendable, Equatable {
    /// The id to descend into; nil for a leaf, whose id is then never made into a String.
    package var idToDescend: String?
    package var position: TreePosition
    /// The child as a `TreeItem`, read straight from the row (`Statement.entryBytes`).
    package var item: TreeItem

    /// Reads a row selected by one of the `Schema.selectTreeChildren…` statements.
    init(row: Statement, depth: UInt32) {
        self.idToDescend = row.int64(7) == 1 ? row.text(0) ?? "" : nil
        self.position = TreePosition(siblingOrder: row.value(4), rowID: row.int64(6) ?? 0)
        self.item = TreeItem(entry: row.entryBytes(), depth: depth)
    }
}

/// Depth-first preorder over a subtree, produced a page at a time so that a stream can stop
/// between pages (no credit, a full socket) and resume later on any reader.
///
/// Memory: the children read and not produced yet, at most `heldBytes` of them across all levels
/// (beyond that, a level being left for a child's subtree drops its rest and reads it again on
/// return) plus the page being read, and a few dozen bytes per level of depth. A level whose
/// last child is being produced is left for good, so a chain costs one level, however long.
package struct TreeWalker: Sendable {
    private struct Level: Sendable {
        var parentID: String
        var depth: UInt32
        /// Children read and not produced yet, from `next` on.
        var pending: [TreeChild] = []
        var next = 0
        /// The last child produced: the next page starts after it.
        var after: TreePosition?
        /// Whether `pending` holds every child left.
        var exhausted = false

        var hasPending: Bool { self.next < self.pending.count }
    }

    private let root: LogRecord
    private let maxDepth: UInt32
    private let pageSize: Int
    private let pageBytes: Int
    private let heldBytesLimit: Int
    private var rootEmitted = false
    private var stack: [Level] = []
    /// Bytes of the nodes in the levels' `pending` children.
    private var heldBytes = 0

    /// - Parameters:
    ///   - root: the subtree's root, emitted first at depth 0.
    ///   - maxDepth: the deepest depth emitted; 0 means no bound.
    ///   - pageSize, pageBytes: how many children, and how many bytes of them, one query reads.
    ///   - heldBytes: how many bytes of children read ahead the levels keep while the walk is
    ///     below them.
    package init(root: LogRecord, maxDepth: UInt32, pageSize: Int = 128, pageBytes: Int = 64 * 1024, heldBytes: Int = 1 << 20) {
        self.root = root
        self.maxDepth = maxDepth
        self.pageSize = max(1, pageSize)
        self.pageBytes = max(1, pageBytes)
        self.heldBytesLimit = max(0, heldBytes)
    }

    /// Whether every node has been produced.
    package var isFinished: Bool { self.rootEmitted && self.stack.isEmpty }

    /// What the walk holds now: its levels, and the bytes of the children they have read ahead.
    package var held: (levels: Int, bytes: Int) { (self.stack.count, self.heldBytes) }

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
            if self.stack[top].hasPending {
                let child = self.take(from: top)
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
                    of: level.parentID, depth: level.depth, after: level.after, limit: self.pageSize,
                    maxBytes: self.pageBytes
                )
                self.stack[top].pending = page.rows
                self.stack[top].next = 0
                self.stack[top].exhausted = page.isLast
                self.heldBytes += page.rows.reduce(0) { $0 + $1.item.node.count }
            }
        }
        return out
    }

    /// The next pending child of level `index`; its node's bytes leave the level with it.
    private mutating func take(from index: Int) -> TreeChild {
        let next = self.stack[index].next
        let child = self.stack[index].pending[next]
        if next + 1 == self.stack[index].pending.count {
            self.stack[index].pending = []
            self.stack[index].next = 0
        } else {
            self.stack[index].pending[next].item = TreeItem(node: [])
            self.stack[index].pending[next].idToDescend = nil
            self.stack[index].next = next + 1
        }
        self.stack[index].after = child.position
        self.heldBytes -= child.item.node.count
        return child
    }

    private mutating func descend(into id: String, depth: UInt32) {
        guard self.maxDepth == 0 || depth < self.maxDepth else { return }
        if let top = self.stack.indices.last {
            if !self.stack[top].hasPending && self.stack[top].exhausted {
                // Nothing left here: the child's level takes this one's place.
                self.stack.removeLast()
            } else if self.heldBytes > self.heldBytesLimit {
                self.dropPending(of: top)
            }
        }
        self.stack.append(Level(parentID: id, depth: depth + 1))
    }

    /// Forgets the children level `index` has read ahead; they are read again, after the last
    /// one produced, when the walk returns to the level.
    private mutating func dropPending(of index: Int) {
        let level = self.stack[index]
        self.heldBytes -= level.pending[level.next...].reduce(0) { $0 + $1.item.node.count }
        self.stack[index].pending = []
        self.stack[index].next = 0
        self.stack[index].exhausted = false
    }
}
