import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("Append validation")
struct ValidationTests {
    let directory = TemporaryDirectory()

    @Test("a malformed id is INVALID_ARGUMENT naming the field")
    func malformedID() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let status = try #require(await store.append(id: "nope").status)
        #expect(status.code == .invalidArgument)
        #expect(status.message.contains("entry.orchestration_session_log_id"))
    }

    @Test("a malformed parent is INVALID_ARGUMENT naming the field")
    func malformedParent() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let status = try #require(await store.append(parent: "123").status)
        #expect(status.code == .invalidArgument)
        #expect(status.message.contains("entry.parent_exec_id"))
    }

    @Test("an entry cannot be its own parent")
    func selfParent() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let id = LogID.generateV7()
        let status = try #require(await store.append(id: id, parent: id.uppercased()).status)
        #expect(status.code == .invalidArgument)
        #expect(status.message.contains("own parent"))
    }

    @Test("missing content is INVALID_ARGUMENT (NOT NULL column)")
    func missingContent() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let status = try #require(await store.append(content: nil).status)
        #expect(status.code == .invalidArgument)
        #expect(status.message.contains("entry.content"))
    }

    @Test("content over the limit is INVALID_ARGUMENT with limit and size")
    func contentTooLarge() async throws {
        var options = StoreOptions()
        options.maxContentBytes = 100
        let store = try LogStore.temporary(in: self.directory, options: options)
        let status = try #require(await store.append(content: String(repeating: "x", count: 101)).status)
        #expect(status.code == .invalidArgument)
        #expect(status.message.contains("101") && status.message.contains("100"))
        #expect(await store.append(content: String(repeating: "x", count: 100)).value != nil)
    }

    @Test("invalid JSON elaboration is INVALID_ARGUMENT; valid JSON and NULL are stored", arguments: [
        ("{\"a\": 1}", true), ("[1,2,3]", true), ("42", true), ("\"s\"", true), ("null", true),
        ("{a: 1}", false), ("{\"a\": }", false), ("", false), ("[1,", false),
    ])
    func elaboration(text: String, valid: Bool) async throws {
        let store = try LogStore.temporary(in: self.directory)
        let result = await store.append(elaboration: text)
        if valid {
            #expect(result.value?.record.elaboration == text)
        } else {
            #expect(result.status?.code == .invalidArgument)
            #expect(result.status?.message.contains("entry.elaboration") == true)
        }
    }

    @Test("a missing parent is FAILED_PRECONDITION")
    func missingParent() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let status = try #require(await store.append(parent: LogID.generateV7()).status)
        #expect(status.code == .failedPrecondition)
        #expect(status.message.contains("entry.parent_exec_id"))
    }

    @Test("the first rule broken wins: ids, self-parent, content, JSON, parent")
    func ruleOrder() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let id = LogID.generateV7()
        let absent = LogID.generateV7()
        // malformed id beats everything
        #expect(await store.append(id: "x", parent: "x", content: nil, elaboration: "{").status?.message.contains("orchestration_session_log_id") == true)
        // self-parent beats missing content and JSON
        #expect(await store.append(id: id, parent: id, content: nil, elaboration: "{").status?.message.contains("own parent") == true)
        // missing content beats JSON and parent
        #expect(await store.append(parent: absent, content: nil, elaboration: "{").status?.message.contains("content") == true)
        // JSON beats the parent's existence
        let json = await store.append(parent: absent, elaboration: "{").status
        #expect(json?.code == .invalidArgument && json?.message.contains("elaboration") == true)
        #expect(await store.append(parent: absent).status?.code == .failedPrecondition)
    }

    @Test("the table's constraints find existing ids and missing parents in rule order, whatever the order assignment")
    func constraintOrder() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let parent = try #require(await store.append(content: "p").value).record.id
        let id = try #require(await store.append(parent: parent, content: "child").value).record.id
        let absent = LogID.generateV7()
        // An existing id beats a missing parent: the retry names another, absent parent.
        #expect(await store.append(id: id, parent: absent, content: "child").status?.code == .alreadyExists)
        // A missing parent with an explicit order, and without one.
        #expect(await store.append(parent: absent, order: 5).status?.message.contains("does not exist") == true)
        #expect(await store.append(parent: absent).status?.code == .failedPrecondition)

        // No order after Int64.max: OUT_OF_RANGE, but a retry of a stored entry still succeeds
        // and a missing parent is still FAILED_PRECONDITION.
        let top = try #require(await store.append(parent: parent, content: "top", order: Int64.max).value).record.id
        let overflow = await store.append(parent: parent, content: "next").status
        #expect(overflow?.code == .outOfRange && overflow?.message.contains("sibling_order") == true)
        #expect(await store.append(id: top, parent: parent, content: "top").value?.created == false)
        #expect(await store.append(id: id, parent: parent, content: "child").value?.created == false)
        #expect(await store.append(id: id, parent: parent, content: "changed").status?.code == .alreadyExists)
        #expect(store.entryCount == 3)
    }

    @Test("ids are stored lowercase; an absent id gets a UUIDv7")
    func idNormalisation() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let upper = "0190F3A2-7C4B-7D2E-8F00-0123456789AB"
        #expect(await store.append(id: upper).value?.record.id == upper.lowercased())
        let generated = try #require(await store.append().value?.record.id)
        #expect(LogID.canonical(generated) == generated)
        #expect(Array(generated)[14] == "7")
    }

    @Test("a failed append changes nothing")
    func failureWritesNothing() async throws {
        let store = try LogStore.temporary(in: self.directory)
        _ = await store.append(parent: LogID.generateV7())
        _ = await store.append(elaboration: "{")
        #expect(store.entryCount == 0)
        #expect(try await store.readNow { try $0.count() } == 0)
    }
}
