import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Synchronization
import Testing

@Suite("ChangeFeed")
struct ChangeFeedTests {
    let directory = TemporaryDirectory()

    @Test("followers of a parent receive its committed children in seq order, and only those")
    func deliversToParentFollowers() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let parent = try #require(await store.append(content: "p").value).record.id
        let signals = Atomic<Int>(0)
        let subscription = store.feed.subscribe(parentID: parent) { signals.add(1, ordering: .relaxed) }
        var expected: [LogRecord] = []
        for i in 0..<5 {
            expected.append(try #require(await store.append(parent: parent, content: "\(i)").value).record)
            _ = await store.append(content: "unrelated root")
        }
        guard case .entries(let entries) = subscription.take() else {
            Issue.record("expected entries")
            return
        }
        #expect(entries == expected.map(EncodedEntry.init))
        #expect(entries.map(\.bytes) == expected.map { LogEntryMessage($0).encodedBytes() })
        #expect(signals.load(ordering: .relaxed) >= 1)
        #expect(subscription.take() == .entries([]))
        store.feed.unsubscribe(subscription)
        #expect(store.feed.subscriberCount == 0)
    }

    @Test("a follower that does not take overflows to the database instead of growing")
    func overflowFallsBackToDatabase() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let subscription = store.feed.subscribe(parentID: nil) {}
        for i in 0..<1100 { _ = await store.append(content: "\(i)") }
        #expect(subscription.take() == .overflowed)
        // After an overflow the mailbox starts empty and fills again.
        _ = await store.append(content: "after")
        guard case .entries(let entries) = subscription.take() else {
            Issue.record("expected entries")
            return
        }
        #expect(try entries.map { try LogEntryMessage(serializedBytes: $0.bytes).content } == ["after"])
    }
}
