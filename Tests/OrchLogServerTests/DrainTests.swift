import Foundation
import OrchLogWire
import Testing

@Suite("Draining")
struct DrainTests {
    @Test("shutdown: goaway, follow streams end UNAVAILABLE, running streams finish, new calls get UNAVAILABLE")
    func drain() throws {
        let server = try TestServer()
        let client = try server.client()
        let root = try client.append(entry(content: "root")).orchestrationSessionLogID
        for i in 0..<5 { _ = try client.append(entry(parent: root, content: "\(i)")) }
        let follow = try client.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = root; $0.follow = true })
        _ = try client.messages(follow, count: 5)
        // A finite stream held open by credit: it must be allowed to finish.
        let tree = try client.start(MethodPath.getTree, Orchlog_V1_GetTreeRequest.with { $0.rootID = root }, credit: 1)
        _ = try client.messages(tree, count: 1)

        let stopped = DispatchSemaphore(value: 0)
        server.server.shutdown { stopped.signal() }

        var sawGoAway = false
        var followEnd: StatusCode?
        while !(sawGoAway && followEnd != nil) {
            let frame = try client.readFrame()
            switch frame.kind {
            case .goaway(let goaway):
                #expect(goaway.code == .unavailable)
                #expect(goaway.lastCallID == tree)
                sawGoAway = true
            case .end(let end) where frame.callID == follow:
                followEnd = end.code
            default:
                Issue.record("unexpected frame \(frame)")
            }
        }
        #expect(followEnd == .unavailable)
        let late = try client.start(MethodPath.health, Orchlog_V1_HealthRequest())
        #expect(try client.collect(late).code == .unavailable)
        try client.credit(tree, 100)
        let rest = try client.collect(tree)
        #expect(rest.code == .ok && rest.messages.count == 5)
        #expect(stopped.wait(timeout: .now() + 5) == .success)
        #expect(throws: RawClientError.closed) { try client.readFrame() }
    }

    @Test("shutdown closes what is still running after the grace period")
    func graceExpires() throws {
        let server = try TestServer { $0.drainGraceMillis = 300 }
        let client = try server.client()
        let root = try client.append(entry(content: "root")).orchestrationSessionLogID
        _ = try client.append(entry(parent: root, content: "child"))
        let tree = try client.start(MethodPath.getTree, Orchlog_V1_GetTreeRequest.with { $0.rootID = root }, credit: 1)
        _ = try client.messages(tree, count: 1)
        let started = Date()
        server.shutdown()
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(try client.expectGoAwayAndClose().code == .unavailable)
    }
}
