import Foundation
import OrchLogWire
import Testing

@Suite("Calls: multiplexing, cancel, deadlines, credit, ping")
struct CallLifecycleTests {
    @Test("50 calls in flight on one connection are all answered")
    func fiftyInFlight() throws {
        let server = try TestServer()
        let client = try server.client()
        var ids: [UInt32: String] = [:]
        for i in 0..<50 {
            let id = try client.start(MethodPath.appendLog, AppendLogRequest.with { $0.entry = entry(content: "call \(i)") })
            ids[id] = "call \(i)"
        }
        var answered: Set<UInt32> = []
        while answered.count < 50 {
            let frame = try client.readFrame()
            guard case .end(let end) = frame.kind else { continue }
            #expect(end.code == .ok)
            #expect(ids[frame.callID] != nil)
            answered.insert(frame.callID)
        }
        let health = try client.call(MethodPath.health, Orchlog_V1_HealthRequest())
        #expect(try health.decode(Orchlog_V1_HealthResponse.self).first?.entryCount == 50)
    }

    @Test("cancel ends an open call with CANCELLED, and the connection carries on")
    func cancel() throws {
        let server = try TestServer()
        let client = try server.client()
        let parent = try client.append(entry(content: "p")).orchestrationSessionLogID
        let id = try client.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true })
        #expect(try client.isQuiet(forMilliseconds: 100))
        try client.cancel(id)
        let outcome = try client.collect(id)
        #expect(outcome.code == .cancelled)
        #expect(server.store.feed.subscriberCount == 0)
        // A cancel for a call that already ended is ignored.
        try client.cancel(id)
        #expect(try client.call(MethodPath.health, Orchlog_V1_HealthRequest()).code == .ok)
    }

    @Test("a deadline ends a follow stream with DEADLINE_EXCEEDED after the messages it had")
    func deadline() throws {
        let server = try TestServer()
        let client = try server.client()
        let parent = try client.append(entry(content: "p")).orchestrationSessionLogID
        _ = try client.append(entry(parent: parent, content: "c"))
        let started = Date()
        let outcome = try client.call(
            MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true },
            timeoutMillis: 300
        )
        let elapsed = Date().timeIntervalSince(started)
        #expect(outcome.code == .deadlineExceeded)
        #expect(outcome.messages.count == 1)
        #expect(elapsed >= 0.29 && elapsed < 5)
        #expect(server.store.feed.subscriberCount == 0)
    }

    @Test("calls started in any order of deadlines each end at their own, whatever ended before")
    func deadlinesInAnyOrder() throws {
        let server = try TestServer()
        let client = try server.client()
        let parent = try client.append(entry(content: "p")).orchestrationSessionLogID
        let follow = Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true }
        let started = Date()
        // The earliest deadline belongs to a call that ends first without it.
        let quick = try client.start(MethodPath.health, Orchlog_V1_HealthRequest(), timeoutMillis: 50)
        var ids: [UInt32: Double] = [:]
        for millis in [600, 200, 400] as [UInt32] {
            ids[try client.start(MethodPath.streamChildren, follow, timeoutMillis: millis)] = Double(millis) / 1000
        }
        #expect(try client.collect(quick).code == .ok)
        var ended: [(UInt32, Double)] = []
        while ended.count < ids.count {
            let frame = try client.readFrame()
            if case .end(let end) = frame.kind, ids[frame.callID] != nil {
                #expect(end.code == .deadlineExceeded)
                ended.append((frame.callID, Date().timeIntervalSince(started)))
            }
        }
        #expect(ended.map { ids[$0.0]! } == [0.2, 0.4, 0.6], "ended in deadline order")
        for (id, at) in ended {
            #expect(at >= ids[id]! - 0.01 && at < ids[id]! + 2, "call with \(ids[id]!) s ended at \(at) s")
        }
        #expect(try client.call(MethodPath.health, Orchlog_V1_HealthRequest(), timeoutMillis: 1000).code == .ok)
    }

    @Test("credit bounds the messages in flight of a stream")
    func creditHonoured() throws {
        let server = try TestServer { $0.streamPageSize = 3 }
        let client = try server.client()
        let parent = try client.append(entry(content: "p")).orchestrationSessionLogID
        for i in 0..<10 { _ = try client.append(entry(parent: parent, content: "\(i)")) }
        let id = try client.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent }, credit: 3)
        #expect(try client.messages(id, count: 3).count == 3)
        #expect(try client.isQuiet(forMilliseconds: 200))
        try client.credit(id, 4)
        #expect(try client.messages(id, count: 4).count == 4)
        #expect(try client.isQuiet(forMilliseconds: 200))
        try client.credit(id, 100)
        let rest = try client.collect(id)
        #expect(rest.code == .ok && rest.messages.count == 3)
    }

    @Test("credit also paces a follow stream's live children")
    func creditOnFollow() throws {
        let server = try TestServer()
        let client = try server.client()
        let writer = try server.client()
        let parent = try client.append(entry(content: "p")).orchestrationSessionLogID
        let id = try client.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true }, credit: 2)
        var seqs: [UInt64] = []
        for i in 0..<5 { seqs.append(try writer.append(entry(parent: parent, content: "\(i)")).seq) }
        let first = try client.messages(id, count: 2).map { try LogEntryMessage(serializedBytes: $0).seq }
        #expect(first == Array(seqs[0..<2]))
        #expect(try client.isQuiet(forMilliseconds: 200))
        try client.credit(id, 3)
        let rest = try client.messages(id, count: 3).map { try LogEntryMessage(serializedBytes: $0).seq }
        #expect(rest == Array(seqs[2...]))
    }

    @Test("ping is answered with a pong carrying the same payload")
    func ping() throws {
        let server = try TestServer()
        let client = try server.client()
        try client.send(Frame.with { $0.callID = 0; $0.ping = .with { $0.payload = Data("hi there".utf8) } })
        let frame = try client.readFrame()
        guard case .pong(let pong) = frame.kind else {
            Issue.record("expected pong, got \(frame)")
            return
        }
        #expect(pong.payload == Data("hi there".utf8))
    }

    @Test("the pong of a ping of the largest frame size fits in a frame too")
    func pingOfLargestSize() throws {
        let maxFrame = 128 * 1024
        let server = try TestServer { $0.maxFrameBytes = maxFrame }
        let client = try server.client()
        // A ping that leaves call_id out, padded to exactly the largest frame.
        func ping(_ size: Int) -> Frame { Frame.with { $0.ping = .with { $0.payload = Data(repeating: 7, count: size) } } }
        var size = maxFrame - 16
        while try (ping(size + 1).serializedBytes() as [UInt8]).count <= maxFrame { size += 1 }
        #expect(try (ping(size).serializedBytes() as [UInt8]).count == maxFrame)
        try client.send(ping(size))
        let frame = try client.readFrame()
        guard case .pong(let pong) = frame.kind else {
            Issue.record("expected pong, got another frame")
            return
        }
        #expect(pong.payload.count == size)
        #expect(try (frame.serializedBytes() as [UInt8]).count <= maxFrame)
        #expect(try client.call(MethodPath.health, Orchlog_V1_HealthRequest()).code == .ok)
    }

    @Test("an unknown method is quoted in at most 200 bytes, even when it is one long Character")
    func unknownMethodQuoteIsBounded() throws {
        let server = try TestServer()
        let client = try server.client()
        let method = "a" + String(repeating: "\u{301}", count: 20_000)  // one Character, 40 KB
        #expect(method.count == 1)
        let outcome = try client.collect(try client.start(method, Orchlog_V1_HealthRequest()))
        #expect(outcome.code == .unimplemented)
        #expect(outcome.message.utf8.count < 300, "\(outcome.message.utf8.count) bytes")
    }

    @Test("calls beyond max concurrent calls end with RESOURCE_EXHAUSTED; the connection stays")
    func tooManyCalls() throws {
        let server = try TestServer { $0.maxConcurrentCalls = 3 }
        let client = try server.client()
        let parent = try client.append(entry(content: "p")).orchestrationSessionLogID
        let follow = Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true }
        let open = try (0..<3).map { _ in try client.start(MethodPath.streamChildren, follow) }
        let extra = try client.start(MethodPath.streamChildren, follow)
        let outcome = try client.collect(extra)
        #expect(outcome.code == .resourceExhausted)
        #expect(outcome.message.contains("limit 3"))
        try client.cancel(open[0])
        #expect(try client.collect(open[0]).code == .cancelled)
        #expect(try client.call(MethodPath.health, Orchlog_V1_HealthRequest()).code == .ok)
    }
}
