import Dispatch
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("Appends")
struct AppendTests {
    let directory = TemporaryDirectory()

    @Test("the stored entry comes back with seq and every field; NULLs stay NULL")
    func roundTrip() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let root = try #require(await store.append(category: "note", content: "root", order: 5, elaboration: "{\"k\":[1]}").value)
        #expect(root.created)
        #expect(root.record.category == "note" && root.record.content == "root")
        #expect(root.record.siblingOrder == 5 && root.record.elaboration == "{\"k\":[1]}")
        #expect(root.record.parentID == nil && root.record.seq == 1)
        let read = try await store.readNow { try $0.entry(id: root.record.id) }
        #expect(read == root.record)

        let bare = try #require(await store.append(content: "bare").value)
        #expect(bare.record.category == nil && bare.record.elaboration == nil && bare.record.seq == 2)
    }

    @Test("same id and same fields again is OK with created=false; different fields are ALREADY_EXISTS")
    func idempotentRetry() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let id = LogID.generateV7()
        let first = try #require(await store.append(id: id, category: "a", content: "x").value)
        let again = try #require(await store.append(id: id, category: "a", content: "x").value)
        #expect(first.created && !again.created)
        #expect(again.record == first.record)
        // An absent order matches the assigned one; the same explicit order matches too.
        #expect(await store.append(id: id, category: "a", content: "x", order: first.record.siblingOrder).value?.created == false)
        #expect(await store.append(id: id, category: "a", content: "y").status?.code == .alreadyExists)
        #expect(await store.append(id: id, category: nil, content: "x").status?.code == .alreadyExists)
        #expect(await store.append(id: id, category: "a", content: "x", order: 99).status?.code == .alreadyExists)
        #expect(store.entryCount == 1)
    }

    @Test("text with an embedded NUL and the empty string are stored exactly; a retry matches")
    func exactText() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let id = LogID.generateV7()
        let first = await store.append(id: id, category: "", content: "x\u{0}y")
        #expect(first.value?.created == true, "\(String(describing: first.status))")
        let stored = try #require(try await store.readNow { try $0.entry(id: id) })
        #expect(stored.content == "x\u{0}y" && stored.content.utf8.count == 3)
        #expect(stored.category == "")
        #expect(await store.append(id: id, category: "", content: "x\u{0}y").value?.created == false)
        #expect(await store.append(id: id, category: "", content: "x").status?.code == .alreadyExists)
        #expect(await store.append(elaboration: "\"a\u{0}b\"").status?.code == .invalidArgument, "a raw NUL is not JSON")
    }

    @Test("a retry whose text is canonically equivalent but not the same bytes is ALREADY_EXISTS")
    func retryComparesBytes() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let id = LogID.generateV7()
        let composed = "caf\u{E9}"  // é as one code point
        let decomposed = "cafe\u{301}"  // e + combining acute accent
        #expect(composed == decomposed, "Swift's String equality calls them equal")
        #expect(await store.append(id: id, category: composed, content: composed).value?.created == true)
        #expect(await store.append(id: id, category: composed, content: decomposed).status?.code == .alreadyExists)
        #expect(await store.append(id: id, category: decomposed, content: composed).status?.code == .alreadyExists)
        #expect(await store.append(id: id, category: composed, content: composed).value?.created == false)
    }

    @Test("an absent sibling_order is 1 + the highest among the parent's children")
    func siblingOrderAssignment() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let parent = try #require(await store.append(content: "p").value).record.id
        let other = try #require(await store.append(content: "other").value).record.id
        #expect(await store.append(parent: parent).value?.record.siblingOrder == 1)
        #expect(await store.append(parent: parent).value?.record.siblingOrder == 2)
        #expect(await store.append(parent: parent, order: 10).value?.record.siblingOrder == 10)
        #expect(await store.append(parent: parent).value?.record.siblingOrder == 11)
        // Another parent counts on its own; roots count among roots.
        #expect(await store.append(parent: other).value?.record.siblingOrder == 1)
        #expect(await store.append(content: "third root").value?.record.siblingOrder == 3)
    }

    @Test("the next sibling_order follows orders other processes wrote and forgets batches that rolled back")
    func siblingOrderAfterOthersAndRollbacks() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let parent = try #require(await store.append(content: "p").value).record.id
        let first = try #require(await store.append(parent: parent).value).record
        #expect(first.siblingOrder == 1)
        #expect(await store.append(parent: parent).value?.record.siblingOrder == 2)

        // Another process raises an order, then adds a child of its own.
        try sqlite3CLI(store.path, """
            UPDATE orchestration_session_log SET sibling_order = 50 WHERE orchestration_session_log_id = '\(first.id)';
            """)
        #expect(await store.append(parent: parent).value?.record.siblingOrder == 51)
        try sqlite3CLI(store.path, """
            INSERT INTO orchestration_session_log (orchestration_session_log_id, parent_exec_id, content, sibling_order)
            VALUES ('\(LogID.generateV7())', '\(parent)', 'from elsewhere', 70);
            """)
        #expect(await store.append(parent: parent).value?.record.siblingOrder == 71)

        // A batch whose first entry took order 72 fails as a whole: 72 is free again.
        let taken = try NewEntry.validate(id: nil, category: nil, parentID: parent, content: "rolled back", siblingOrder: nil, elaboration: nil, fieldPath: "entries[0]", maxContentBytes: 100)
        let orphan = try NewEntry.validate(id: nil, category: nil, parentID: LogID.generateV7(), content: "x", siblingOrder: nil, elaboration: nil, fieldPath: "entries[1]", maxContentBytes: 100)
        #expect(await store.append([taken, orphan]).status?.code == .failedPrecondition)
        #expect(await store.append(parent: parent).value?.record.siblingOrder == 72)
    }

    @Test("a batch is atomic: one bad entry fails all, nothing is written")
    func batchAtomic() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let good = try NewEntry.validate(id: nil, category: nil, parentID: nil, content: "ok", siblingOrder: nil, elaboration: nil, fieldPath: "entries[0]", maxContentBytes: 100)
        let orphan = try NewEntry.validate(id: nil, category: nil, parentID: LogID.generateV7(), content: "x", siblingOrder: nil, elaboration: nil, fieldPath: "entries[1]", maxContentBytes: 100)
        let result = await store.append([good, orphan])
        #expect(result.status?.code == .failedPrecondition)
        #expect(result.status?.message.contains("entries[1]") == true)
        #expect(store.entryCount == 0)
        #expect(try await store.readNow { try $0.entry(id: good.id) } == nil)
    }

    @Test("a batch may name a parent that comes earlier in the same batch")
    func batchParentInBatch() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let parent = try NewEntry.validate(id: nil, category: nil, parentID: nil, content: "p", siblingOrder: nil, elaboration: nil, fieldPath: "entries[0]", maxContentBytes: 100)
        let child = try NewEntry.validate(id: nil, category: nil, parentID: parent.id, content: "c", siblingOrder: nil, elaboration: nil, fieldPath: "entries[1]", maxContentBytes: 100)
        let outcomes = try #require(await store.append([parent, child]).value)
        #expect(outcomes.map(\.created) == [true, true])
        #expect(outcomes[1].record.parentID == parent.id && outcomes[1].record.siblingOrder == 1)
        #expect(outcomes[1].record.seq == outcomes[0].record.seq + 1)
    }

    @Test("a group's completions are all handed over before what they return is woken, once each")
    func wakeupsAfterTheWholeGroup() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let events = Locked<[String]>([])
        let targets = [RecordingWakeable("a", events), RecordingWakeable("b", events)]
        let entry = {
            try NewEntry.validate(
                id: nil, category: nil, parentID: nil, content: "c", siblingOrder: nil, elaboration: nil,
                fieldPath: "entry", maxContentBytes: 1_000
            )
        }
        // The first append's completion holds the writer until the others are queued, so that
        // they form the next group, all ten; they are queued only once it holds it, so that none
        // joins the first append's group.
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        store.append([try entry()]) { _ in
            holding.signal()
            release.wait()
            return nil
        }
        try #require(holding.wait(timeout: .now() + .seconds(30)) == .success)
        for index in 0..<10 {
            store.append([try entry()]) { result in
                events.withLock { $0.append(result.value != nil ? "done \(index)" : "failed \(index)") }
                return targets[index % 2]
            }
        }
        release.signal()
        _ = store.pageCount()  // runs on the writer's queue, after the group and its wake-ups
        let log = events.withLock { $0 }
        #expect(log.count == 12)
        #expect(Set(log.prefix(10)) == Set((0..<10).map { "done \($0)" }))
        #expect(log.suffix(2).sorted() == ["wake a", "wake b"])
    }

    @Test("concurrent appends are grouped, one bad append fails alone, every good one lands once")
    func groupCommitIsolation() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let results = await withTaskGroup(of: Result<AppendOutcome, RPCStatus>.self) { group in
            for i in 0..<400 {
                group.addTask {
                    i % 10 == 0
                        ? await store.append(parent: LogID.generateV7(), content: "orphan \(i)")
                        : await store.append(content: "entry \(i)")
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let ok = results.compactMap(\.value)
        #expect(ok.count == 360)
        #expect(results.compactMap(\.status).allSatisfy { $0.code == .failedPrecondition })
        #expect(Set(ok.map(\.record.seq)).count == 360)
        #expect(try await store.readNow { try $0.count() } == 360)
        #expect(store.entryCount == 360)
    }
}

/// Notes each wake-up in a shared log.
private final class RecordingWakeable: Wakeable {
    let name: String
    let events: Locked<[String]>

    init(_ name: String, _ events: Locked<[String]>) {
        self.name = name
        self.events = events
    }

    func wake() {
        self.events.withLock { $0.append("wake \(self.name)") }
    }
}
