import Foundation
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("Following children")
struct FollowTests {
    @Test("a follower gets the backlog, then live children in seq order, exactly once")
    func liveInOrder() throws {
        let server = try TestServer { $0.streamPageSize = 8 }
        let follower = try server.client()
        let writer = try server.client()
        let parent = try writer.append(entry(content: "p")).orchestrationSessionLogID
        var expected: [UInt64] = []
        for i in 0..<20 { expected.append(try writer.append(entry(parent: parent, content: "early \(i)")).seq) }

        let id = try follower.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true })
        // Appends race the backlog read: from another thread, through several connections.
        let writers = try (0..<4).map { _ in try server.client() }
        let live = Locked<[UInt64]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { w in
            for i in 0..<25 {
                if let seq = try? writers[w].append(entry(parent: parent, content: "live \(w).\(i)")).seq {
                    live.withLock { $0.append(seq) }
                }
                if i % 10 == 0 { _ = try? writers[w].append(entry(content: "other root")) }
            }
        }
        expected += live.withLock { $0 }
        #expect(expected.count == 120)
        let received = try follower.messages(id, count: 120).map { try LogEntryMessage(serializedBytes: $0) }
        #expect(received.map(\.seq) == expected.sorted())
        #expect(received.allSatisfy { $0.parentExecID == parent })
        #expect(try follower.isQuiet(forMilliseconds: 200))
    }

    @Test("resuming with the last seen seq repeats and loses nothing")
    func resume() throws {
        let server = try TestServer()
        let writer = try server.client()
        let parent = try writer.append(entry(content: "p")).orchestrationSessionLogID
        var all: [UInt64] = []
        for i in 0..<10 { all.append(try writer.append(entry(parent: parent, content: "\(i)")).seq) }

        let first = try server.client()
        let id = try first.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true })
        let seen = try first.messages(id, count: 4).map { try LogEntryMessage(serializedBytes: $0).seq }
        // The first follower goes away; more children arrive meanwhile.
        try first.cancel(id)
        for i in 10..<15 { all.append(try writer.append(entry(parent: parent, content: "\(i)")).seq) }

        let second = try server.client()
        let resumed = try second.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with {
            $0.parentExecID = parent; $0.follow = true; $0.afterSeq = seen.last!
        })
        for i in 15..<20 { all.append(try writer.append(entry(parent: parent, content: "\(i)")).seq) }
        let rest = try second.messages(resumed, count: 16).map { try LogEntryMessage(serializedBytes: $0).seq }
        #expect(seen + rest == all)
        #expect(try second.isQuiet(forMilliseconds: 200))
    }

    @Test("a follower that does not read falls back to the database and still gets everything in order")
    func slowFollowerCatchesUp() throws {
        let server = try TestServer { $0.streamPageSize = 50 }
        let writer = try server.client()
        let parent = try writer.append(entry(content: "p")).orchestrationSessionLogID
        let follower = try server.client()
        let id = try follower.start(
            MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true }, credit: 1
        )
        // More children than a feed mailbox holds (1024) arrive while the follower has no credit.
        var expected: [UInt64] = []
        for batch in 0..<15 {
            let outcome = try writer.call(MethodPath.appendLogs, Orchlog_V1_AppendLogsRequest.with {
                $0.entries = (0..<100).map { entry(parent: parent, content: "\(batch).\($0)") }
            })
            expected += try outcome.decode(Orchlog_V1_AppendLogsResponse.self)[0].results.map(\.entry.seq)
        }
        try follower.credit(id, 10_000)
        let received = try follower.messages(id, count: 1500).map { try LogEntryMessage(serializedBytes: $0).seq }
        #expect(received == expected)
        #expect(try follower.isQuiet(forMilliseconds: 200))
    }

    @Test("a follower also gets children that another process wrote into the file")
    func externalWriter() throws {
        let server = try TestServer()
        let writer = try server.client()
        let parent = try writer.append(entry(content: "p")).orchestrationSessionLogID
        let follower = try server.client()
        let id = try follower.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true })
        let mine = try writer.append(entry(parent: parent, content: "through orchlog"))
        try sqlite3CLI(server.store.path, """
            INSERT INTO orchestration_session_log (orchestration_session_log_id, parent_exec_id, content)
            VALUES ('0190f3a2-7c4b-7d2e-8f00-0123456789ab', '\(parent)', 'from another tool');
            """)
        let later = try writer.append(entry(parent: parent, content: "through orchlog again"))
        let got = try follower.messages(id, count: 3).map { try LogEntryMessage(serializedBytes: $0) }
        #expect(got.map(\.content) == ["through orchlog", "from another tool", "through orchlog again"])
        #expect(got.map(\.seq) == [mine.seq, mine.seq + 1, later.seq])
        #expect(server.store.entryCount == 4)
    }

    @Test("a row another tool stored larger than a frame ends the stream with its seq, and after_seq gets past it")
    func rowOverAFrame() throws {
        let server = try TestServer { $0.maxFrameBytes = 64 * 1024 }
        let client = try server.client()
        let parent = try client.append(entry(content: "p")).orchestrationSessionLogID
        let before = try client.append(entry(parent: parent, content: "before"))
        try sqlite3CLI(server.store.path, """
            INSERT INTO orchestration_session_log (orchestration_session_log_id, parent_exec_id, content)
            VALUES ('0190f3a2-7c4b-7d2e-8f00-0123456789ab', '\(parent)', replace(hex(zeroblob(40000)), '0', 'x'));
            """)
        let after = try client.append(entry(parent: parent, content: "after"))
        let big = before.seq + 1

        let cut = try client.call(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent })
        #expect(try cut.decode(LogEntryMessage.self) == [before])
        #expect(cut.code == .resourceExhausted)
        #expect(cut.message.contains("seq \(big)") && cut.message.contains("after_seq \(big)"), "\(cut.message)")
        let rest = try client.call(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.afterSeq = big })
        #expect(rest.code == .ok)
        #expect(try rest.decode(LogEntryMessage.self) == [after])
    }

    @Test("roots can be followed")
    func followRoots() throws {
        let server = try TestServer()
        let follower = try server.client()
        let writer = try server.client()
        let id = try follower.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.follow = true })
        let root = try writer.append(entry(content: "r1"))
        _ = try writer.append(entry(parent: root.orchestrationSessionLogID, content: "not a root"))
        let root2 = try writer.append(entry(content: "r2"))
        let got = try follower.messages(id, count: 2).map { try LogEntryMessage(serializedBytes: $0) }
        #expect(got == [root, root2])
    }
}
