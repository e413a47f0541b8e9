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
            let page = try await store.readNow { try $0.children(of: parent, afterSeq: after, limit: 7) }
            if page.isEmpty { break }
            seen += page.map(\.seq)
            cursor = page.last!.seq
        }
        #expect(seen == seqs)
        let after19 = seqs[19]
        let tail = try await store.readNow { try $0.children(of: parent, afterSeq: after19, limit: 100) }
        #expect(tail.map(\.seq) == Array(seqs[20...]))
        let roots = try await store.readNow { try $0.children(of: nil, afterSeq: 0, limit: 1000) }
        #expect(roots.count == 26 && roots.allSatisfy { $0.parentID == nil })
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
            let after = seen.last
            let page = try await store.readNow { try $0.treeChildren(of: root, depth: 1, after: after, limit: 128) }
            seen += page
            if page.count < 128 { break }
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
        let page = try await store.readNow { try $0.treeChildren(of: root, depth: 1, after: nil, limit: 100) }
        #expect(page.count == 6)
        for child in page {
            let id = child.item.record.id
            let record = try #require(try await store.readNow { try $0.entry(id: id) })
            #expect(child.item == TreeItem(record: record, depth: 1), "\(id)")
            #expect(child.siblingOrder == record.siblingOrder && child.seq == record.seq)
            #expect(child.item.record.content == record.content)
        }
    }
}
