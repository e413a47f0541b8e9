import Foundation
@testable import OrchLogClient
import OrchLogTestSupport
import OrchLogWire
import Testing

/// Retries, reconnects and resumable follows, through a fault-injecting proxy and real restarts.
@Suite("Retries and reconnects")
struct RetryTests {
    @Test("an append whose reply was lost is retried and not duplicated")
    func lostReplyNotDuplicated() async throws {
        let server = try RestartableServer()
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        let attempts = Observed()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(proxy.port), configuration: .fastTest(attempts: attempts))
        // The first connection forwards hello_ack, then loses the append's reply.
        proxy.setNextConnectionMode(.cutAfterServerFrames(1))
        let entry = LogEntry(content: "exactly once")
        let result = try await client.appendLog(entry)
        #expect(!result.created, "the first attempt committed; the retry must find it")
        #expect(result.entry.id == entry.id)
        #expect(attempts.attemptsPerCall == [2])
        #expect(server.store.entryCount == 1)
        await client.close()
    }

    @Test("appends during a server restart all land exactly once")
    func appendsAcrossRestart() async throws {
        let server = try RestartableServer()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        let restart = Task.detached {
            try await Task.sleep(for: .milliseconds(100))
            try server.restart(downFor: 0.3)
        }
        var ids: [UUID] = []
        let started = Date()
        while ids.count < 300 && Date().timeIntervalSince(started) < 20 {
            let entry = LogEntry(content: "append \(ids.count)")
            _ = try await client.appendLog(entry)
            ids.append(entry.id)
            if ids.count % 10 == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        try await restart.value
        #expect(ids.count == 300)
        let stored = try sqlite3CLI(server.dbPath, "SELECT orchestration_session_log_id FROM orchestration_session_log;")
            .split(separator: "\n").map(String.init)
        #expect(stored.count == 300)
        #expect(Set(stored) == Set(ids.map { $0.uuidString.lowercased() }))
        await client.close()
    }

    @Test("a follower across 3 forced disconnects and a server restart sees every child once, in order")
    func followerSurvivesDisconnectsAndRestart() async throws {
        let server = try RestartableServer()
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        let writer = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        let reader = try OrchLogClient(host: "127.0.0.1", port: Int(proxy.port), configuration: .fastTest())
        let parent = try await writer.appendLog(LogEntry(content: "parent")).entry
        let total = 120

        let follower = Task {
            var seqs: [UInt64] = []
            for try await child in reader.streamChildren(of: parent.id, follow: true) {
                seqs.append(child.seq)
                if seqs.count == total { break }
            }
            return seqs
        }
        var expected: [UInt64] = []
        for i in 0..<total {
            expected.append(try await writer.appendLog(LogEntry(content: "child \(i)", parentID: parent.id)).entry.seq)
            switch i {
            case 20, 45, 70: proxy.dropAll()
            case 90: try server.restart(downFor: 0.2)
            default: break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        let seen = try await follower.value
        #expect(seen == expected)
        #expect(proxy.acceptedCount >= 5)
        await writer.close()
        await reader.close()
    }

    @Test("past call id 2^32 − 1, new calls go to a new connection; a stream open on the old one keeps it until it ends")
    func callIDsUsedUp() async throws {
        let server = try RestartableServer()
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        let attempts = Observed()
        var configuration = OrchLogClient.Configuration.fastTest(attempts: attempts)
        configuration._firstCallID = UInt32.max - 2
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(proxy.port), configuration: configuration)
        func waitFor(_ condition: () -> Bool) async throws {
            let started = ContinuousClock.now
            while !condition() && ContinuousClock.now - started < .seconds(5) { try await Task.sleep(for: .milliseconds(5)) }
        }

        // Connection 1: ids 2^32 − 3 (root), 2^32 − 2 (a), 2^32 − 1 (the follow).
        let root = try await client.appendLog(LogEntry(content: "root")).entry
        let a = try await client.appendLog(LogEntry(content: "a", parentID: root.id)).entry
        var follow: ChildrenSequence.AsyncIterator? = client.streamChildren(of: root.id, follow: true).makeAsyncIterator()
        #expect(try await follow?.next()?.id == a.id)
        #expect(proxy.acceptedCount == 1)

        // Connection 2: three calls, after which it has used its ids and has no call left.
        let b = try await client.appendLog(LogEntry(content: "b", parentID: root.id)).entry
        #expect(try await client.health().entryCount == 3)
        #expect(try await client.getLog(id: b.id) == b)
        #expect(proxy.acceptedCount == 2)
        try await waitFor { proxy.closedCount == 1 }
        #expect(proxy.closedCount == 1, "connection 2 closes once its last call has ended")

        // Connection 3; the follow, still on connection 1, sees b and c live.
        let c = try await client.appendLog(LogEntry(content: "c", parentID: root.id)).entry
        #expect(try await follow?.next()?.id == b.id)
        #expect(try await follow?.next()?.id == c.id)
        #expect(proxy.acceptedCount == 3, "the follow was never reopened")
        #expect(attempts.attemptsPerCall.allSatisfy { $0 == 1 }, "no call needed a retry")

        // Ending the follow ends connection 1's last call, which closes it.
        follow = nil
        try await waitFor { proxy.closedCount == 2 }
        #expect(proxy.closedCount == 2)
        await client.close()
    }

    @Test("non-retryable codes are not retried", arguments: ["FAILED_PRECONDITION", "ALREADY_EXISTS", "INVALID_ARGUMENT"])
    func nonRetryable(code: String) async throws {
        let server = try RestartableServer()
        let attempts = Observed()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest(attempts: attempts))
        let existing = try await client.appendLog(LogEntry(content: "x")).entry
        attempts.reset()
        var bad: LogEntry
        switch code {
        case "FAILED_PRECONDITION": bad = LogEntry(content: "orphan", parentID: .v7())
        case "ALREADY_EXISTS": bad = existing; bad.content = "different"
        default: bad = LogEntry(content: "x", elaboration: "{broken")
        }
        await #expect { try await client.appendLog(bad) } throws: { ($0 as? OrchLogError)?.code.name == code }
        #expect(attempts.attemptsPerCall == [1])
        await client.close()
    }

    @Test("the deadline bounds the whole call, across attempts and reconnects")
    func deadlineBoundsAttempts() async throws {
        let server = try RestartableServer()
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        proxy.mode = .cutAfterServerFrames(1)
        var configuration = OrchLogClient.Configuration.fastTest()
        configuration.retryPolicy = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(150), maxBackoff: .milliseconds(150), backoffMultiplier: 1)
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(proxy.port), configuration: configuration)
        let started = ContinuousClock.now
        await #expect(throws: OrchLogError.self) {
            try await client.appendLog(LogEntry(content: "never acknowledged"), options: CallOptions(timeout: .milliseconds(400)))
        }
        #expect(ContinuousClock.now - started < .milliseconds(700))

        // A server that is down altogether: the call waits for a connection until its deadline.
        proxy.mode = .refuse
        let down = ContinuousClock.now
        await #expect { try await client.health(options: CallOptions(timeout: .milliseconds(300))) } throws: {
            ($0 as? OrchLogError)?.code == .deadlineExceeded
        }
        let waited = ContinuousClock.now - down
        #expect(waited >= .milliseconds(250) && waited < .milliseconds(800))
        await client.close()
    }

    @Test("the retry throttle stops retries while the server keeps failing")
    func throttleStopsRetries() async throws {
        let server = try RestartableServer()
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        proxy.mode = .cutAfterServerFrames(1)
        let attempts = Observed()
        var configuration = OrchLogClient.Configuration.fastTest(attempts: attempts)
        configuration.retryThrottle = RetryThrottle(maxTokens: 4, tokenRatio: 0.1)
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(proxy.port), configuration: configuration)
        for _ in 0..<3 {
            await #expect(throws: OrchLogError.self) { try await client.health() }
        }
        // 4 tokens: failures take one each, retries need more than 2 left.
        #expect(attempts.attemptsPerCall == [2, 1, 1])
        #expect(!configuration.retryThrottle.isRetryPermitted)
        await client.close()
    }

    @Test("RESOURCE_EXHAUSTED is retried only when the server marks it retryable")
    func resourceExhaustedRetriedWhenMarked() {
        let policy = RetryPolicy()
        var marked = OrchLogError(code: .resourceExhausted, message: "too many concurrent calls", serverSaysRetryable: true)
        marked.isFromServer = true
        #expect(policy.isRetryable(marked))
        #expect(!policy.isRetryable(OrchLogError(code: .resourceExhausted, message: "frame too large")))
        #expect(!RetryPolicy(retryableStatusCodes: []).isRetryable(OrchLogError(code: .unavailable, message: "down")))
    }

    @Test("a call waiting for the server's only call slot starts once the follow holding it ends, in one attempt")
    func callWaitsForTheSlot() async throws {
        let server = try RestartableServer { $0.maxConcurrentCalls = 1 }
        let attempts = Observed()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest(attempts: attempts))
        let root = try await client.appendLog(LogEntry(content: "root")).entry
        let follower = Task { for try await _ in client.streamChildren(of: root.id, follow: true) {} }
        try await waitUntil { server.store.feed.subscriberCount == 1 }
        attempts.reset()
        let health = Task { try await client.health() }
        try await Task.sleep(for: .milliseconds(200))
        follower.cancel()
        #expect(try await health.value.status == "SERVING")
        #expect(attempts.attemptsPerCall == [1])
        await client.close()
    }
}
