import Foundation
import OrchLogClient
import Testing

@Suite("OrchLogClient against a live server")
struct ClientTests {
    @Test("appendLog, getLog, appendLogs, health round-trip every field, NULLs included")
    func roundTrip() async throws {
        let server = try RestartableServer()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        let root = try await client.appendLog(LogEntry(content: "root", category: "note", elaboration: "{\"k\":1}"))
        #expect(root.created && root.entry.seq == 1 && root.entry.siblingOrder == 1)
        #expect(try await client.getLog(id: root.entry.id) == root.entry)

        let child = LogEntry(content: "child", parentID: root.entry.id)
        let grandchild = LogEntry(content: "grandchild", parentID: child.id, siblingOrder: 7)
        let batch = try await client.appendLogs([child, grandchild])
        #expect(batch.map(\.created) == [true, true])
        #expect(batch[1].entry.siblingOrder == 7 && batch[0].entry.category == nil && batch[0].entry.elaboration == nil)

        let again = try await client.appendLog(child)
        #expect(!again.created && again.entry == batch[0].entry)
        #expect(try await client.health().entryCount == 3)
        await client.close()
    }

    @Test("server errors arrive as OrchLogError with the status code and message")
    func errors() async throws {
        let server = try RestartableServer()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        let missing = UUID.v7()
        await #expect { try await client.getLog(id: missing) } throws: {
            guard let error = $0 as? OrchLogError else { return false }
            return error.code == .notFound && error.isFromServer
        }
        await #expect { try await client.appendLog(LogEntry(content: "x", parentID: missing)) } throws: {
            ($0 as? OrchLogError)?.code == .failedPrecondition
        }
        let entry = try await client.appendLog(LogEntry(content: "x")).entry
        var changed = entry
        changed.content = "y"
        await #expect { try await client.appendLog(changed) } throws: {
            guard let error = $0 as? OrchLogError else { return false }
            return error.code == .alreadyExists && error.message.contains("already exists")
        }
        await #expect { try await client.appendLog(LogEntry(content: "x", elaboration: "{nope")) } throws: {
            ($0 as? OrchLogError)?.code == .invalidArgument
        }
        await client.close()
    }

    @Test("getTree yields preorder nodes with depths; streamChildren pages through a backlog with a small window")
    func streams() async throws {
        let server = try RestartableServer()
        var configuration = OrchLogClient.Configuration.fastTest()
        configuration.streamWindow = 2
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: configuration)
        let root = try await client.appendLog(LogEntry(content: "root")).entry
        let b = try await client.appendLog(LogEntry(content: "b", parentID: root.id, siblingOrder: 2)).entry
        let a = try await client.appendLog(LogEntry(content: "a", parentID: root.id, siblingOrder: 1)).entry
        _ = try await client.appendLog(LogEntry(content: "b.1", parentID: b.id))
        _ = try await client.appendLog(LogEntry(content: "a.1", parentID: a.id))
        var tree: [String] = []
        for try await node in client.getTree(root: root.id) { tree.append("\(node.depth):\(node.entry.content)") }
        #expect(tree == ["0:root", "1:a", "2:a.1", "1:b", "2:b.1"])

        let many = try await client.appendLogs((0..<50).map { LogEntry(content: "\($0)", parentID: a.id) })
        var seqs: [UInt64] = []
        for try await child in client.streamChildren(of: a.id) { seqs.append(child.seq) }
        #expect(seqs.count == 51)
        #expect(Array(seqs.dropFirst()) == many.map(\.entry.seq))
        var limited: [UInt64] = []
        for try await child in client.streamChildren(of: a.id, after: seqs[10], limit: 5) { limited.append(child.seq) }
        #expect(limited == Array(seqs[11..<16]))
        await client.close()
    }

    @Test("the auth token is sent in hello; a wrong one fails at once with UNAUTHENTICATED")
    func authToken() async throws {
        let server = try RestartableServer { $0.authToken = Array("token-1".utf8) }
        var configuration = OrchLogClient.Configuration.fastTest()
        configuration.authToken = "token-1"
        let good = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: configuration)
        #expect(try await good.health().status == "SERVING")
        configuration.authToken = "token-2"
        let bad = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: configuration)
        let started = ContinuousClock.now
        await #expect { try await bad.health() } throws: { ($0 as? OrchLogError)?.code == .unauthenticated }
        #expect(ContinuousClock.now - started < .seconds(5), "not retried until the deadline")
        await good.close()
        await bad.close()
    }

    @Test("task cancellation ends the call on the server")
    func cancellationReachesServer() async throws {
        let server = try RestartableServer()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        let root = try await client.appendLog(LogEntry(content: "root")).entry
        let follower = Task {
            var count = 0
            for try await _ in client.streamChildren(of: root.id, follow: true) { count += 1 }
            return count
        }
        try await waitUntil { server.store.feed.subscriberCount == 1 }
        follower.cancel()
        try await waitUntil { server.store.feed.subscriberCount == 0 }
        let result = await follower.result
        #expect(throws: OrchLogError.self) { try result.get() }
        await client.close()
    }
}

/// Polls `condition` every 10 ms for up to `seconds`.
func waitUntil(seconds: Double = 5, _ condition: () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else {
            Issue.record("condition not met within \(seconds) s")
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
