import Foundation
import Dispatch
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("Reads")
struct ReadTests {
    let directory = TemporaryDirectory()

    @Test("children after a seq come in seq order and resume exactly")
    func childrenResume() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let parent = try #require(await store.append(content: "p").value).record.id
        var seqs: [UInt64] = []
        for i in 0..<25 {
            // Interleave other parents' rows so that seqs are not contiguous.
            _ = await store.append(content: "noise \(i)")
            seqs.append(try #require(await store.append(parent: parent, content: "child \(i)").value).record.seq)
        }
        var seen: [UInt64] = []
        var cursor: UInt64 = 0
        while true {
            let after = cursor
            let page = try await store.readNow { try $0.children(of: parent, afterSeq: after, limit: 7).rows }
            if page.isEmpty { break }
            seen += page.map(\.seq)
            cursor = page.last!.seq
        }
        #expect(seen == seqs)
        let after19 = seqs[19]
        let tail = try await store.readNow { try $0.children(of: parent, afterSeq: after19, limit: 100).rows }
        #expect(tail.map(\.seq) == Array(seqs[20...]))
        let roots = try await store.readNow { try $0.children(of: nil, afterSeq: 0, limit: 1000).rows }
        #expect(roots.count == 26 && roots.allSatisfy { $0.parentID == nil })
    }

    @Test("a page ends early once it holds its bytes, with at least one row, and says there is more")
    func pagesEndAtTheirBytes() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let parent = try #require(await store.append(content: "p").value).record.id
        var ids: [String] = []
        for i in 0..<10 {
            ids.append(try #require(await store.append(parent: parent, content: String(repeating: "x", count: 1000 * (i + 1))).value).record.id)
        }
        // Children: 1,000 + 2,000 + 3,000 bytes of content reach 5,000; the next page starts after them.
        let first = try await store.readNow { try $0.children(of: parent, afterSeq: 0, limit: 100, maxBytes: 5000) }
        #expect(first.rows.map(\.id) == Array(ids[0..<3]) && !first.isLast)
        let big = try await store.readNow { try $0.children(of: parent, afterSeq: first.rows[2].seq, limit: 100, maxBytes: 1) }
        #expect(big.rows.map(\.id) == [ids[3]] && !big.isLast, "one row even when it alone is over")
        let rest = try await store.readNow { try $0.children(of: parent, afterSeq: big.rows[0].seq, limit: 100) }
        #expect(rest.rows.map(\.id) == Array(ids[4...]) && rest.isLast)
        // Tree pages the same way, across the ordered and the NULL-order children.
        try sqlite3CLI(store.path, """
            INSERT INTO orchestration_session_log VALUES
              ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', NULL, '\(parent)', replace(hex(zeroblob(1500)), '0', 'y'), NULL, NULL);
            """)
        var seen: [TreeChild] = []
        var pages = 0
        while true {
            let after = seen.last?.position
            let page = try await store.readNow { try $0.treeChildren(of: parent, depth: 1, after: after, limit: 100, maxBytes: 4000) }
            #expect(!page.rows.isEmpty)
            seen += page.rows
            pages += 1
            if page.isLast { break }
        }
        #expect(seen.count == 11 && Set(seen.map(\.item.record.id)).count == 11)
        #expect(pages >= 8, "pages of at most ~4,000 bytes: \(pages)")
        // The walker stops a batch at its bytes too.
        let items = try await store.tree(parent)
        #expect(items.count == 12)
        let batch = try await store.readNow { reader in
            var walker = TreeWalker(root: try #require(try reader.entry(id: parent)), maxDepth: 0, pageBytes: 2500)
            return try walker.next(limit: 100, maxBytes: 2500, using: reader)
        }
        #expect(batch.count == 3, "the root, 1,000 and 2,000 bytes reach 2,500")
    }

    @Test("GetTree order: preorder, siblings by sibling_order with NULL last, then seq; depths")
    func treeOrder() async throws {
        let store = try LogStore.temporary(in: self.directory)
        // Created in an order unlike tree order: explicit orders, NULL orders (set via SQL below), ties.
        let root = try #require(await store.append(content: "root").value).record.id
        let b = try #require(await store.append(parent: root, content: "b", order: 2).value).record.id
        let a = try #require(await store.append(parent: root, content: "a", order: 1).value).record.id
        _ = await store.append(parent: root, content: "b2", order: 2)  // tie with b: by seq, after b
        let n1 = try #require(await store.append(parent: root, content: "n1", order: 100).value).record.id
        let n2 = try #require(await store.append(parent: root, content: "n2", order: 101).value).record.id
        _ = await store.append(parent: a, content: "a.1", order: 1)
        _ = await store.append(parent: b, content: "b.1")
        _ = await store.append(parent: n1, content: "n1.1")
        try sqlite3CLI(store.path, """
            UPDATE orchestration_session_log SET sibling_order = NULL WHERE orchestration_session_log_id IN ('\(n1)', '\(n2)');
            """)
        _ = await store.append(parent: root, content: "z", order: -5)

        let items = try await store.tree(root)
        #expect(items.map(\.record.content) == ["root", "z", "a", "a.1", "b", "b.1", "b2", "n1", "n1.1", "n2"])
        #expect(items.map(\.depth) == [0, 1, 1, 2, 1, 2, 1, 1, 2, 1])

        let shallow = try await store.tree(root, maxDepth: 1)
        #expect(shallow.map(\.record.content) == ["root", "z", "a", "b", "b2", "n1", "n2"])
        let leaf = try await store.tree(n2)
        #expect(leaf.map(\.record.content) == ["n2"])
    }

    @Test("GetTree pages through wide and deep trees whatever the page size", arguments: [1, 2, 3, 64])
    func treePaging(pageSize: Int) async throws {
        let store = try LogStore.temporary(in: self.directory)
        let root = try #require(await store.append(content: "r").value).record.id
        var expected = ["r"]
        for i in 0..<7 {
            let child = try #require(await store.append(parent: root, content: "c\(i)").value).record.id
            expected.append("c\(i)")
            var parent = child
            for d in 0..<3 {
                parent = try #require(await store.append(parent: parent, content: "c\(i).\(d)").value).record.id
                expected.append("c\(i).\(d)")
            }
        }
        let items = try await store.tree(root, pageSize: pageSize)
        #expect(items.map(\.record.content) == expected)
    }

    @Test("GetTree holds one level for a chain, and at most its read-ahead budget for siblings left behind")
    func treeWalkHoldsLittle() async throws {
        let store = try LogStore.temporary(in: self.directory)
        func id(_ n: Int) -> String { String(format: "00000000-0000-4000-8000-%012d", n) }
        // A chain of 2,000 (ids 1…2,000); then a spine of 300 (10,001…10,300), each with a leaf
        // of 8 KB after its spine child (20,001…20,300).
        try sqlite3CLI(store.path, """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
            INSERT INTO orchestration_session_log SELECT printf('00000000-0000-4000-8000-%012d', i), NULL,
              CASE i WHEN 1 THEN NULL ELSE printf('00000000-0000-4000-8000-%012d', i - 1) END, 'link', NULL, NULL FROM n;
            WITH RECURSIVE n(i) AS (SELECT 10001 UNION ALL SELECT i + 1 FROM n WHERE i < 10300)
            INSERT INTO orchestration_session_log SELECT printf('00000000-0000-4000-8000-%012d', i), NULL,
              CASE i WHEN 10001 THEN NULL ELSE printf('00000000-0000-4000-8000-%012d', i - 1) END, 'spine', 1, NULL FROM n;
            WITH RECURSIVE n(i) AS (SELECT 10001 UNION ALL SELECT i + 1 FROM n WHERE i < 10299)
            INSERT INTO orchestration_session_log SELECT printf('00000000-0000-4000-8000-%012d', i + 10000), NULL,
              printf('00000000-0000-4000-8000-%012d', i), replace(hex(zeroblob(4096)), '0', 'L'), 2, NULL FROM n;
            """)
        func walk(_ root: String, heldBytes: Int) async throws -> (contents: [String], levels: Int, bytes: Int) {
            try await store.readNow { reader in
                var walker = TreeWalker(root: try #require(try reader.entry(id: root)), maxDepth: 0, pageBytes: 16 * 1024, heldBytes: heldBytes)
                var contents: [String] = []
                var levels = 0
                var bytes = 0
                while !walker.isFinished {
                    contents += try walker.next(limit: 7, using: reader).map { $0.record.content }
                    levels = max(levels, walker.held.levels)
                    bytes = max(bytes, walker.held.bytes)
                }
                return (contents, levels, bytes)
            }
        }
        let chain = try await walk(id(1), heldBytes: 1 << 20)
        #expect(chain.contents == Array(repeating: "link", count: 2000))
        #expect(chain.levels == 1, "a chain needs one level at a time: \(chain.levels)")

        // Preorder: each spine node, then its spine child's subtree, then its leaf.
        let leaf = String(repeating: "L", count: 8192)
        let expected = Array(repeating: "spine", count: 300) + Array(repeating: leaf, count: 299)
        let unbounded = try await walk(id(10001), heldBytes: .max)
        #expect(unbounded.contents == expected)
        #expect(unbounded.bytes > 299 * 8192, "without a budget every leaf waits in memory: \(unbounded.bytes)")
        let bounded = try await walk(id(10001), heldBytes: 64 * 1024)
        #expect(bounded.contents == expected)
        #expect(bounded.bytes <= 64 * 1024 + 16 * 1024, "the budget and one page: \(bounded.bytes)")
    }

    @Test("a read goes to an idle reader instead of waiting behind a long one")
    func readsAvoidABusyReader() throws {
        let store = try LogStore.temporary(in: self.directory)  // two readers
        let release = DispatchSemaphore(value: 0)
        let longReadDone = DispatchSemaphore(value: 0)
        store.read({ _ throws(RPCStatus) in release.wait() }, completion: { _ in longReadDone.signal() })
        // Taken in turn, every second read would queue behind the long one and time out.
        var finished = 0
        for _ in 0..<6 {
            let done = DispatchSemaphore(value: 0)
            store.read({ reader throws(RPCStatus) in try reader.count() }, completion: { _ in done.signal() })
            if done.wait(timeout: .now() + 5) == .success { finished += 1 }
        }
        release.signal()
        #expect(longReadDone.wait(timeout: .now() + 5) == .success)
        #expect(finished == 6)
    }

    @Test("a tree page says which children have children of their own, across pages")
    func treeChildrenKnowTheirChildren() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let root = try #require(await store.append(content: "r").value).record.id
        var children: [String] = []
        for i in 0..<300 {
            children.append(try #require(await store.append(parent: root, content: "c\(i)").value).record.id)
        }
        let parents = Set([0, 1, 127, 128, 129, 200, 299].map { children[$0] })
        for parent in parents { _ = await store.append(parent: parent, content: "grandchild") }
        var seen: [TreeChild] = []
        while true {
            let after = seen.last?.position
            let page = try await store.readNow { try $0.treeChildren(of: root, depth: 1, after: after, limit: 128) }
            seen += page.rows
            #expect(page.isLast == (page.rows.count < 128))
            if page.isLast { break }
        }
        #expect(seen.map(\.item.record.id) == children)
        #expect(seen.map(\.item.depth) == Array(repeating: 1, count: children.count))
        #expect(Set(seen.compactMap(\.idToDescend)) == parents)
    }

    @Test("a tree page's entry bytes, read straight from SQLite, are the record's, whatever another tool stored")
    func treeEntryBytesMatchRecords() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let root = try #require(await store.append(content: "root").value).record.id
        _ = await store.append(category: "error", parent: root, content: "disk full ✗ — 日本語", order: -3, elaboration: #"{"a":[1]}"#)
        _ = await store.append(parent: root, content: "", order: Int64.min)
        _ = await store.append(category: "", parent: root, content: String(repeating: "long ", count: 20_000))
        // Values only another tool writes: invalid UTF-8, a number in a text column, text in
        // sibling_order, NULL content (allowed by no CHECK but NOT NULL, so an empty blob instead).
        try sqlite3CLI(store.path, """
            INSERT INTO orchestration_session_log VALUES
              ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', CAST(x'ff6f6bc3' AS TEXT), '\(root)', CAST(x'6869e282ac80fe' AS TEXT), 7, NULL),
              ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 42, '\(root)', 12345, 'not a number', NULL),
              ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', NULL, '\(root)', x'', NULL, '"s"');
            """)
        let page = try await store.readNow { try $0.treeChildren(of: root, depth: 1, after: nil, limit: 100).rows }
        #expect(page.count == 6)
        for child in page {
            let id = child.item.record.id
            let record = try #require(try await store.readNow { try $0.entry(id: id) })
            #expect(child.item == TreeItem(record: record, depth: 1), "\(id)")
            #expect(child.position.rowID == Int64(record.seq))
            switch child.position.siblingOrder {
            case .integer(let order)?: #expect(order == record.siblingOrder)
            case nil: #expect(record.siblingOrder == nil)
            default: #expect(id == "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "only the text order is not an integer")
            }
            #expect(child.item.record.content == record.content)
        }
    }

    @Test("GetTree pages over real, text and blob orders and negative rowids another tool stored, each child once")
    func treePagesOverForeignOrders() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let root = try #require(await store.append(content: "root").value).record.id
        // (rowid, sibling_order) in the order GetTree must send them: numbers, then text, then
        // blobs, then NULL; equal orders by rowid.
        let rows: [(Int64, String)] = [
            (-20, "1"), (-7, "2.5"), (30, "2.5"), (31, "2.5"), (32, "2.5"), (-1, "'x'"), (33, "'x'"), (34, "'x'"),
            (35, "x'00'"), (36, "x'00'"), (-5, "NULL"), (-3, "NULL"), (37, "NULL"),
        ]
        let ids = rows.indices.map { String(format: "00000000-0000-4000-8000-%012d", $0) }
        let inserts = zip(ids, rows).map { id, row in
            "(\(row.0), '\(id)', '\(root)', 'c', \(row.1))"
        }.joined(separator: ",\n")
        try sqlite3CLI(store.path, """
            INSERT INTO orchestration_session_log (rowid, orchestration_session_log_id, parent_exec_id, content, sibling_order)
            VALUES \(inserts);
            """)
        for pageSize in [1, 2, 3, 100] {
            let items = try await store.tree(root, pageSize: pageSize)
            #expect(items.map(\.record.id) == [root] + ids, "page size \(pageSize)")
        }
    }
}
