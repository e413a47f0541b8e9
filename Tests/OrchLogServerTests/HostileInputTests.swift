import Foundation
import OrchLogWire
import Testing

/// A hostile or broken peer costs its own connection (goaway with the reason, then close);
/// the server and every other connection carry on.
@Suite("Hostile input")
struct HostileInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let hello: Bool
        let bytes: [UInt8]
        let code: StatusCode
        let reason: String
        var testDescription: String { self.name }
    }

    static func frame(_ build: (inout Frame) -> Void) -> [UInt8] {
        var frame = Frame()
        build(&frame)
        return FrameEncoder.encode(frame)
    }

    static let cases: [Case] = [
        Case(name: "length over max_frame", hello: true, bytes: [0x7F, 0xFF, 0xFF, 0xFF], code: .resourceExhausted, reason: "exceeds the limit"),
        Case(name: "zero length", hello: true, bytes: [0, 0, 0, 0], code: .invalidArgument, reason: "length 0"),
        Case(name: "bytes that are not a Frame", hello: true, bytes: [0, 0, 0, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], code: .invalidArgument, reason: "not a valid orchlog.v1.Frame"),
        Case(name: "a call before hello", hello: false,
             bytes: frame { $0.callID = 1; $0.start = .with { $0.method = MethodPath.health } }, code: .invalidArgument, reason: "first frame must be hello"),
        Case(name: "an unknown frame kind", hello: true, bytes: [0, 0, 0, 2, 0x78, 0x01], code: .invalidArgument, reason: "unknown frame kind"),
        Case(name: "a server-only frame kind", hello: true,
             bytes: frame { $0.callID = 1; $0.end = .with { $0.code = .ok } }, code: .invalidArgument, reason: "sent by servers only"),
        Case(name: "start on call 0", hello: true,
             bytes: frame { $0.callID = 0; $0.start = .with { $0.method = MethodPath.health } }, code: .invalidArgument, reason: "call_id other than 0"),
        Case(name: "hello twice", hello: true,
             bytes: frame { $0.hello = .with { $0.protocolVersion = 1 } }, code: .invalidArgument, reason: "hello sent twice"),
        Case(name: "unsupported protocol version", hello: false,
             bytes: frame { $0.hello = .with { $0.protocolVersion = 2 } }, code: .failedPrecondition, reason: "unsupported protocol_version 2"),
    ]

    @Test("each hostile frame closes only its connection, with a goaway naming the reason", arguments: cases)
    func hostileFrame(hostile: Case) throws {
        let server = try TestServer()
        let good = try server.client()
        let parent = try good.append(entry(content: "p")).orchestrationSessionLogID
        let follow = try good.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true })

        let bad = try RawClient(port: server.port)
        if hostile.hello { try bad.hello() }
        try bad.send(bytes: hostile.bytes)
        let goaway = try bad.expectGoAwayAndClose()
        #expect(goaway.code == hostile.code)
        #expect(goaway.message.contains(hostile.reason), "\(goaway.message)")

        // The well-behaved client is still served, its stream included.
        let child = try good.append(entry(parent: parent, content: "after the attack"))
        let delivered = try good.messages(follow, count: 1).map { try LogEntryMessage(serializedBytes: $0) }
        #expect(delivered == [child])
        #expect(try good.call(MethodPath.getLog, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = parent }).code == .ok)
    }

    @Test("garbage after valid frames: the valid frames took effect, then goaway names the last call")
    func garbageAfterValidFrames() throws {
        let server = try TestServer()
        let client = try server.client()
        let id = LogID.generateV7()
        let request: [UInt8] = try AppendLogRequest.with { $0.entry = entry(id: id, content: "before the garbage") }.serializedBytes()
        var bytes = FrameEncoder.encode(Frame.with {
            $0.callID = 5
            $0.start = .with { $0.method = MethodPath.appendLog; $0.request = Data(request) }
        })
        bytes += [0, 0, 0, 3, 0xDE, 0xAD, 0xBE]
        try client.send(bytes: bytes)
        let goaway = try client.expectGoAwayAndClose()
        #expect(goaway.code == .invalidArgument)
        #expect(goaway.lastCallID == 5)
        // The append was accepted before the garbage: it lands (retries with the same id are safe).
        let reader = try server.client()
        var found = false
        for _ in 0..<50 where !found {
            found = try reader.call(MethodPath.getLog, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = id }).code == .ok
            if !found { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(found)
    }

    @Test("with an auth token configured, hello must carry it: missing or wrong is UNAUTHENTICATED")
    func authToken() throws {
        let server = try TestServer { $0.authToken = Array("s3cret-token".utf8) }
        let padded = "s3cret-token" + String(repeating: "\u{0}", count: 256)  // lengths differ by 256
        for (token, reason) in [
            (nil, "auth token required"), ("s3cret-tokex", "invalid auth token"), ("s3cret-token-longer", "invalid auth token"),
            (padded, "invalid auth token"),
        ] {
            let client = try RawClient(port: server.port)
            try client.send(Frame.with {
                $0.hello = .with {
                    $0.protocolVersion = 1
                    if let token { $0.authToken = token }
                }
            })
            let goaway = try client.expectGoAwayAndClose()
            #expect(goaway.code == .unauthenticated)
            #expect(goaway.message == reason)
        }
        let good = try RawClient(port: server.port)
        try good.send(Frame.with { $0.hello = .with { $0.protocolVersion = 1; $0.authToken = "s3cret-token" } })
        guard case .helloAck = try good.readFrame().kind else {
            Issue.record("expected hello_ack")
            return
        }
        #expect(try good.call(MethodPath.health, Orchlog_V1_HealthRequest()).code == .ok)
    }

    @Test("a connection that never says hello is closed after the hello timeout")
    func helloTimeout() throws {
        let server = try TestServer { $0.helloTimeoutMillis = 200 }
        let silent = try RawClient(port: server.port)
        let goaway = try silent.expectGoAwayAndClose()
        #expect(goaway.code == .deadlineExceeded)
        #expect(goaway.message.contains("no hello"))
    }

    @Test("an idle connection is closed after the idle timeout; one with an open call is not")
    func idleTimeout() throws {
        let server = try TestServer { $0.idleTimeoutMillis = 300 }
        let idle = try server.client()
        let busy = try server.client()
        let parent = try busy.append(entry(content: "p")).orchestrationSessionLogID
        let follow = try busy.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true })
        let goaway = try idle.expectGoAwayAndClose()
        #expect(goaway.message.contains("idle"))
        Thread.sleep(forTimeInterval: 0.5)
        let child = try server.client().append(entry(parent: parent, content: "still following"))
        #expect(try busy.messages(follow, count: 1).map { try LogEntryMessage(serializedBytes: $0) } == [child])
    }

    @Test("connections beyond max_connections get RESOURCE_EXHAUSTED; the others are served")
    func tooManyConnections() throws {
        let server = try TestServer { $0.maxConnections = 2 }
        let first = try server.client()
        let second = try server.client()
        let third = try RawClient(port: server.port)
        let goaway = try third.expectGoAwayAndClose()
        #expect(goaway.code == .resourceExhausted)
        #expect(goaway.message.contains("limit 2"))
        #expect(try first.call(MethodPath.health, Orchlog_V1_HealthRequest()).code == .ok)
        #expect(try second.call(MethodPath.health, Orchlog_V1_HealthRequest()).code == .ok)
    }

    @Test("a client that sends requests but never reads is throttled, not buffered without bound")
    func neverReadingClient() throws {
        let server = try TestServer { $0.highWatermark = 64 * 1024; $0.lowWatermark = 16 * 1024 }
        let writer = try server.client()
        let parent = try writer.append(entry(content: "p")).orchestrationSessionLogID
        _ = try writer.call(MethodPath.appendLogs, Orchlog_V1_AppendLogsRequest.with {
            $0.entries = (0..<200).map { _ in entry(parent: parent, content: String(repeating: "x", count: 4000)) }
        })
        let hog = try server.client()
        // Ask for the same 800 KB stream again and again without reading any of it.
        let request: [UInt8] = try Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent }.serializedBytes()
        var bytes: [UInt8] = []
        for i in 0..<50 {
            bytes += FrameEncoder.encode(Frame.with {
                $0.callID = UInt32(i + 1)
                $0.start = .with { $0.method = MethodPath.streamChildren; $0.request = Data(request) }
            })
        }
        try hog.send(bytes: bytes)
        Thread.sleep(forTimeInterval: 0.5)
        // The server keeps serving others meanwhile.
        #expect(try writer.call(MethodPath.health, Orchlog_V1_HealthRequest()).code == .ok)
        // Reading now drains everything that was asked: the hog was paused, not dropped.
        var ended = 0
        while ended < 50 {
            if case .end(let end) = try hog.readFrame().kind {
                #expect(end.code == .ok)
                ended += 1
            }
        }
    }
}
