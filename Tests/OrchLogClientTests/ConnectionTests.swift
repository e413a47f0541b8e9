import Foundation
@testable import OrchLogClient
import OrchLogNet
import OrchLogTestSupport
import OrchLogWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The client's one connection: how it is made, shared, bounded and closed.
@Suite("Client connections")
struct ConnectionTests {
    /// Polls `condition` for up to 5 s.
    static func eventually(_ condition: () -> Bool) async throws {
        let started = ContinuousClock.now
        while !condition() && ContinuousClock.now - started < .seconds(5) { try await Task.sleep(for: .milliseconds(5)) }
    }

    /// Set by dev/test.sh for the sanitizer runs.
    static let underSanitizer = ProcessInfo.processInfo.environment["ORCHLOG_SANITIZER"] != nil

    @Test("16 appends of 1 MiB at once: the client reads its replies while its own requests still wait to be written",
          .disabled(if: Self.underSanitizer, "16 MiB through a sanitized debug build takes minutes"))
    func bigConcurrentAppends() async throws {
        let server = try RestartableServer()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        let content = String(repeating: "x", count: 1 << 20)
        let options = CallOptions(timeout: .seconds(60))
        // Before, both sides stopped reading above their watermark, each waiting for the other.
        let created = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<16 {
                group.addTask { try await client.appendLog(LogEntry(content: content), options: options).created }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(created == 16)
        #expect(try await client.health().entryCount == 16)
        await client.close()
    }

    @Test("calls beyond the server's max_concurrent_calls wait in the client, in order, instead of failing")
    func callsWaitForTheServersLimit() async throws {
        let server = try RestartableServer { $0.maxConcurrentCalls = 8 }
        let attempts = Observed()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest(attempts: attempts))
        let parent = try await client.appendLog(LogEntry(content: "parent")).entry
        // Two follows hold 2 of the 8 the whole time.
        let follows = (0..<2).map { _ in Task { for try await _ in client.streamChildren(of: parent.id, follow: true) {} } }
        // Before, about 190 of 200 came back RESOURCE_EXHAUSTED, retried until the throttle ran dry.
        let created = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask { try await client.appendLog(LogEntry(content: "child \(i)", parentID: parent.id)).created }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(created == 200)
        #expect(attempts.attemptsPerCall.allSatisfy { $0 == 1 }, "no call was refused and retried")
        for follow in follows { follow.cancel() }
        await client.close()
    }

    @Test("calls that need a connection at once share one connect, waiting or not", arguments: [true, false])
    func oneConnectForConcurrentCalls(waits: Bool) async throws {
        let server = try RestartableServer()
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        var configuration = OrchLogClient.Configuration.fastTest()
        configuration.waitsForConnection = waits
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(proxy.port), configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 { group.addTask { _ = try await client.health() } }
            try await group.waitForAll()
        }
        #expect(proxy.acceptedCount == 1)
        await client.close()
        try await Self.eventually { proxy.closedCount == 1 }
        #expect(proxy.closedCount == 1, "close() closes it")
    }

    @Test("without waiting for a connection, a call's deadline and cancellation still bound its connect")
    func connectWithinDeadline() async throws {
        let server = try RestartableServer()
        // A server that accepts but does not answer hello for 30 s.
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        proxy.mode = .delay(milliseconds: 30_000)
        var configuration = OrchLogClient.Configuration.fastTest()
        configuration.waitsForConnection = false
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(proxy.port), configuration: configuration)

        let started = ContinuousClock.now
        await #expect { try await client.health(options: CallOptions(timeout: .seconds(1))) } throws: {
            ($0 as? OrchLogError)?.code == .deadlineExceeded
        }
        #expect(ContinuousClock.now - started < .seconds(3), "before, the connect timeout of 20 s applied")

        let call = Task { try await client.health(options: CallOptions(timeout: .seconds(60))) }
        try await Task.sleep(for: .milliseconds(200))
        let cancelled = ContinuousClock.now
        call.cancel()
        await #expect { try await call.value } throws: { ($0 as? OrchLogError)?.code == .cancelled }
        #expect(ContinuousClock.now - cancelled < .seconds(2))
        await client.close()
    }

    @Test("close() during a connect: the connection is closed when it completes, and no later call uses it")
    func closeDuringConnect() async throws {
        let server = try RestartableServer()
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        proxy.mode = .delay(milliseconds: 300)
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(proxy.port), configuration: .fastTest())
        let call = Task { try await client.health() }
        try await Task.sleep(for: .milliseconds(100))
        await client.close()
        await #expect { try await call.value } throws: { ($0 as? OrchLogError)?.code == .failedPrecondition }
        await #expect { try await client.health() } throws: {
            guard let error = $0 as? OrchLogError else { return false }
            return error.code == .failedPrecondition && error.message == "the client is closed"
        }
        try await Task.sleep(for: .milliseconds(600))
        try await Self.eventually { proxy.closedCount == proxy.acceptedCount }
        #expect(proxy.acceptedCount == 1 && proxy.closedCount == 1, "the connect that completed after close() was closed")
    }

    @Test("close() ends running calls as CANCELLED, without retries")
    func closeCancelsRunningCalls() async throws {
        let server = try RestartableServer()
        // Every chunk each way waits 200 ms: a call is still running 100 ms after it started.
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        proxy.mode = .delay(milliseconds: 200)
        let attempts = Observed()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(proxy.port), configuration: .fastTest(attempts: attempts))
        let parent = try await client.appendLog(LogEntry(content: "parent")).entry
        let follow = Task { for try await _ in client.streamChildren(of: parent.id, follow: true) {} }
        let call = Task { try await client.health() }
        try await Task.sleep(for: .milliseconds(100))
        await client.close()
        await #expect { try await call.value } throws: { ($0 as? OrchLogError)?.code == .cancelled }
        await #expect { try await follow.value } throws: { ($0 as? OrchLogError)?.code == .cancelled }
        #expect(attempts.attemptsPerCall == [1, 1], "the append and the health call, each tried once")
    }

    @Test("a follow that cannot reconnect at once (waitsForConnection false) reopens once the server is back")
    func followWithoutWaitingSurvivesRestart() async throws {
        let server = try RestartableServer()
        var configuration = OrchLogClient.Configuration.fastTest()
        configuration.waitsForConnection = false
        let writer = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        let reader = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: configuration)
        let parent = try await writer.appendLog(LogEntry(content: "parent")).entry
        let follower = Task {
            var seqs: [UInt64] = []
            for try await child in reader.streamChildren(of: parent.id, follow: true) {
                seqs.append(child.seq)
                if seqs.count == 20 { break }
            }
            return seqs
        }
        var expected: [UInt64] = []
        for i in 0..<20 {
            expected.append(try await writer.appendLog(LogEntry(content: "child \(i)", parentID: parent.id)).entry.seq)
            if i == 9 { try server.restart(downFor: 0.5) }
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try await follower.value == expected)
        await writer.close()
        await reader.close()
    }

    @Test("the client takes frames up to the size its server announced, not a fixed 64 MiB")
    func inboundLimitFromHelloAck() async throws {
        let directory = TemporaryDirectory()
        let server = try OrchlogdProcess(db: directory.file("test.db"), arguments: ["--max-frame-bytes", "\(72 << 20)"])
        let connection = try await ClientConnection.connect(
            to: try SocketAddress(host: "127.0.0.1", port: server.port), timeout: .seconds(5), clientName: "test", authToken: nil
        )
        #expect(connection.inboundFrameLimit == 72 << 20)
        connection.close()
        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)
    }

    /// End to end, a 65 MiB entry: 2 minutes in a debug build, so only with ORCHLOG_BIG_FRAMES set.
    @Test("a 65 MiB entry goes in and comes back when the server allows 72 MiB frames",
          .enabled(if: ProcessInfo.processInfo.environment["ORCHLOG_BIG_FRAMES"] != nil))
    func framesUpToTheServersLimit() async throws {
        let directory = TemporaryDirectory()
        let server = try OrchlogdProcess(db: directory.file("test.db"), arguments: ["--max-frame-bytes", "\(72 << 20)"])
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        let entry = LogEntry(content: String(repeating: "y", count: 65 << 20))
        let options = CallOptions(timeout: .seconds(300))
        #expect(try await client.appendLog(entry, options: options).created)
        #expect(try await client.getLog(id: entry.id, options: options).content.utf8.count == 65 << 20)
        await client.close()
        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)
    }

    static func helloAck(version: UInt32 = 1, maxFrameBytes: UInt32 = 4 << 20) -> Frame {
        Frame.with {
            $0.callID = 0
            $0.helloAck = .with {
                $0.protocolVersion = version
                $0.serverName = "scripted"
                $0.maxFrameBytes = maxFrameBytes
                $0.maxConcurrentCalls = 16
            }
        }
    }

    @Test("a hello_ack of another protocol version, or with max_frame_bytes out of bounds, fails the call at once, saying which",
          arguments: [(2, 4 << 20, "protocol version 2"), (1, 1000, "max_frame_bytes 1000")])
    func badHelloAck(version: UInt32, maxFrameBytes: UInt32, words: String) async throws {
        let server = try ScriptedServer { frame in
            if case .hello = frame.kind { return ([Self.helloAck(version: version, maxFrameBytes: maxFrameBytes)], false) }
            return ([], false)
        }
        defer { server.stop() }
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        await #expect { try await client.health() } throws: {
            guard let error = $0 as? OrchLogError else { return false }
            return (error.code == .failedPrecondition || error.code == .internal) && error.message.contains(words)
        }
        #expect(server.connectionCount == 1, "not reconnected: the server would answer the same")
        await client.close()
    }

    @Test("a goaway that ends the connection ends the calls it had accepted with its own code, not as a lost connection")
    func goAwayCodeEndsItsCalls() async throws {
        let server = try ScriptedServer { frame in
            switch frame.kind {
            case .hello: return ([Self.helloAck()], false)
            case .start:
                return ([Frame.with {
                    $0.callID = 0
                    $0.goaway = .with { $0.code = .invalidArgument; $0.message = "scripted violation"; $0.lastCallID = frame.callID }
                }], true)
            default: return ([], false)
            }
        }
        defer { server.stop() }
        let attempts = Observed()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest(attempts: attempts))
        // Before, the call read UNAVAILABLE "connection lost" and was retried 5 times.
        await #expect { try await client.health() } throws: {
            guard let error = $0 as? OrchLogError else { return false }
            return error.code == .invalidArgument && error.message.contains("scripted violation") && error.isFromServer
        }
        #expect(attempts.attemptsPerCall == [1])
        await client.close()
    }

    @Test("a timeout longer than the protocol can carry is sent as its longest, not a crash")
    func hugeTimeout() async throws {
        let server = try RestartableServer()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        #expect(try await client.health(options: CallOptions(timeout: .seconds(Int64.max))).status == "SERVING")
        await client.close()
    }
}
