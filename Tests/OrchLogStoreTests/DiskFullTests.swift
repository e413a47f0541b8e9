import Foundation
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("Disk trouble")
struct DiskFullTests {
    let directory = TemporaryDirectory()

    @Test("an append whose WAL flush cannot be confirmed is answered UNAVAILABLE, never OK, nor sent live, and appends stay refused")
    func failedFlush() async throws {
        let store = try LogStore.temporary(in: self.directory)
        let parent = try #require(await store.append(content: "makes the WAL").value).record.id
        let follower = store.feed.subscribe(parentID: parent) {}
        // The WAL vanishes from under SQLite (which writes on through its descriptor): the
        // commit happens, but its flush cannot be confirmed.
        try FileManager.default.removeItem(atPath: store.path + "-wal")
        let id = LogID.generateV7()
        let result = await store.append(id: id, parent: parent, content: "unconfirmed")
        #expect(result.status?.code == .unavailable)
        #expect(result.status?.message.contains("not confirmed durable") == true)
        #expect(follower.take() == .entries([]), "a row not confirmed durable is not sent live")
        // Later flushes cannot vouch for what the failed one may have lost: appends stay refused.
        let later = await store.append(parent: parent, content: "after the failure")
        #expect(later.status?.code == .unavailable)
        #expect(later.status?.message.contains("until orchlogd is restarted") == true)
        store.feed.unsubscribe(follower)
    }

    @Test("a full database: appends fail with UNAVAILABLE and write nothing, reads go on, appends resume once there is room")
    func fullDatabase() async throws {
        let store = try LogStore.temporary(in: self.directory)
        var before: [LogRecord] = []
        for i in 0..<10 { before.append(try #require(await store.append(content: "before \(i)").value).record) }
        try store.limitSize(toPages: store.pageCount())

        let big = String(repeating: "x", count: 3000)
        let results = await withTaskGroup(of: (String, Result<AppendOutcome, RPCStatus>).self) { group in
            for _ in 0..<100 {
                group.addTask {
                    let id = LogID.generateV7()
                    return (id, await store.append(id: id, content: big))
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let failed = results.filter { $0.1.status != nil }
        #expect(!failed.isEmpty, "the cap must bite")
        #expect(failed.allSatisfy { $0.1.status?.code == .unavailable && $0.1.status?.message.contains("full") == true })
        // Nothing that failed was written; everything acknowledged was.
        for (id, result) in results {
            let stored = try await store.readNow { try $0.entry(id: id) }
            #expect((stored != nil) == (result.value != nil), "\(id): \(result)")
        }
        for record in before {
            #expect(try await store.readNow { try $0.entry(id: record.id) } == record)
        }
        let acknowledged = results.filter { $0.1.value != nil }.count
        #expect(store.entryCount == UInt64(10 + acknowledged))

        try store.limitSize(toPages: nil)
        #expect(await store.append(content: big).value?.created == true)
        #expect(try await store.readNow { try $0.count() } == UInt64(11 + acknowledged))
    }
}
