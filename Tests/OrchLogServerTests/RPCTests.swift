import Foundation
import OrchLogWire
import Testing

@Suite("RPCs end to end")
struct RPCTests {
    @Test("hello_ack announces version 1 and the limits")
    func helloAck() throws {
        let server = try TestServer { $0.maxConcurrentCalls = 77; $0.maxFrameBytes = 123_456 }
        let client = try RawClient(port: server.port)
        let ack = try client.hello()
        #expect(ack.protocolVersion == 1)
        #expect(ack.maxConcurrentCalls == 77)
        #expect(ack.maxFrameBytes == 123_456)
        #expect(ack.serverName.hasPrefix("orchlogd"))
    }

    @Test("Health reports serving status, version and entry count")
    func health() throws {
        let server = try TestServer()
        let client = try server.client()
        _ = try client.append(entry(content: "one"))
        _ = try client.append(entry(content: "two"))
        let outcome = try client.call(MethodPath.health, Orchlog_V1_HealthRequest())
        #expect(outcome.code == .ok)
        let health = try #require(try outcome.decode(Orchlog_V1_HealthResponse.self).first)
        #expect(health.status == "SERVING")
        #expect(health.entryCount == 2)
        #expect(!health.version.isEmpty)
    }

    @Test("AppendLog returns the stored entry; GetLog reads it back; a retry is created=false")
    func appendAndGet() throws {
        let server = try TestServer()
        let client = try server.client()
        let root = try client.append(entry(category: "note", content: "root", elaboration: "{\"a\":1}"))
        #expect(root.hasOrchestrationSessionLogID && root.seq == 1 && root.siblingOrder == 1)
        #expect(!root.hasParentExecID)

        let got = try client.call(MethodPath.getLog, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = root.orchestrationSessionLogID.uppercased() })
        #expect(got.code == .ok)
        #expect(try got.decode(LogEntryMessage.self) == [root])

        let retry = try client.call(MethodPath.appendLog, AppendLogRequest.with {
            $0.entry = entry(id: root.orchestrationSessionLogID, category: "note", content: "root", elaboration: "{\"a\":1}")
        })
        let response = try #require(try retry.decode(AppendLogResponse.self).first)
        #expect(retry.code == .ok && !response.created && response.entry == root)
    }

    @Test("a start with metadata, or with its fields in another order, is served like the common shape")
    func startShapes() throws {
        let server = try TestServer()
        let client = try server.client()
        let root = try client.append(entry(content: "root"))
        let request: [UInt8] = try Orchlog_V1_GetLogRequest.with {
            $0.orchestrationSessionLogID = root.orchestrationSessionLogID
        }.serializedBytes()

        // Metadata is accepted and ignored; the server reads this frame with SwiftProtobuf.
        let withMetadata = Frame.with {
            $0.callID = 101
            $0.start = .with { $0.method = MethodPath.getLog; $0.metadata = ["trace": "abc"]; $0.request = Data(request) }
        }
        #expect(ClientFrame.readCommonStart(FrameEncoder.encode(withMetadata).dropFirst(4)) == nil)
        try client.send(withMetadata)
        let first = try client.collect(101)
        #expect(first.code == .ok)
        #expect(try first.decode(LogEntryMessage.self) == [root])

        // `request` before `method`, written by hand: also SwiftProtobuf's to read.
        func field(_ tag: UInt8, _ bytes: [UInt8]) -> [UInt8] {
            var out = [tag]
            WireFormat.appendVarint(UInt64(bytes.count), to: &out)
            return out + bytes
        }
        let start = field(0x2A, request) + field(0x0A, Array(MethodPath.getLog.utf8))
        let payload: [UInt8] = [0x08, 102] + field(0x22, start)
        #expect(ClientFrame.readCommonStart(ArraySlice(payload)) == nil)
        let length = UInt32(payload.count)
        try client.send(bytes: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) } + payload)
        let second = try client.collect(102)
        #expect(second.code == .ok)
        #expect(try second.decode(LogEntryMessage.self) == [root])

        // And the common shape, read directly, on the same connection.
        let third = try client.call(MethodPath.getLog, Orchlog_V1_GetLogRequest.with {
            $0.orchestrationSessionLogID = root.orchestrationSessionLogID
        })
        #expect(third.code == .ok)
        #expect(try third.decode(LogEntryMessage.self) == [root])
    }

    @Test("AppendLogs stores a batch atomically with a parent earlier in the batch")
    func appendBatch() throws {
        let server = try TestServer()
        let client = try server.client()
        let parentID = LogID.generateV7()
        let outcome = try client.call(MethodPath.appendLogs, Orchlog_V1_AppendLogsRequest.with {
            $0.entries = [entry(id: parentID, content: "p"), entry(parent: parentID, content: "c1"), entry(parent: parentID, content: "c2")]
        })
        #expect(outcome.code == .ok)
        let results = try #require(try outcome.decode(Orchlog_V1_AppendLogsResponse.self).first).results
        #expect(results.map(\.created) == [true, true, true])
        #expect(results.map(\.entry.siblingOrder) == [1, 1, 2])

        let failed = try client.call(MethodPath.appendLogs, Orchlog_V1_AppendLogsRequest.with {
            $0.entries = [entry(content: "fine"), entry(parent: LogID.generateV7(), content: "orphan")]
        })
        #expect(failed.code == .failedPrecondition && failed.message.contains("entries[1].parent_exec_id"))
        let health = try client.call(MethodPath.health, Orchlog_V1_HealthRequest())
        #expect(try health.decode(Orchlog_V1_HealthResponse.self).first?.entryCount == 3)
    }

    @Test("GetTree streams the subtree in preorder with depths; max_depth bounds it")
    func getTree() throws {
        let server = try TestServer()
        let client = try server.client()
        let root = try client.append(entry(content: "root")).orchestrationSessionLogID
        let b = try client.append(entry(parent: root, content: "b", order: 2)).orchestrationSessionLogID
        let a = try client.append(entry(parent: root, content: "a", order: 1)).orchestrationSessionLogID
        _ = try client.append(entry(parent: b, content: "b.1"))
        _ = try client.append(entry(parent: a, content: "a.1"))
        _ = try client.append(entry(parent: a, content: "a.2"))

        let all = try client.call(MethodPath.getTree, Orchlog_V1_GetTreeRequest.with { $0.rootID = root })
        #expect(all.code == .ok)
        let nodes = try all.decode(Orchlog_V1_TreeNode.self)
        #expect(nodes.map(\.entry.content) == ["root", "a", "a.1", "a.2", "b", "b.1"])
        #expect(nodes.map(\.depth) == [0, 1, 2, 2, 1, 2])

        let top = try client.call(MethodPath.getTree, Orchlog_V1_GetTreeRequest.with { $0.rootID = root; $0.maxDepth = 1 })
        #expect(try top.decode(Orchlog_V1_TreeNode.self).map(\.entry.content) == ["root", "a", "b"])
    }

    @Test("StreamChildren without follow sends the backlog after after_seq, honours limit, then ends OK")
    func streamChildrenBacklog() throws {
        let server = try TestServer { $0.streamPageSize = 4 }
        let client = try server.client()
        let parent = try client.append(entry(content: "p")).orchestrationSessionLogID
        var seqs: [UInt64] = []
        for i in 0..<10 { seqs.append(try client.append(entry(parent: parent, content: "\(i)")).seq) }

        let all = try client.call(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent })
        #expect(all.code == .ok)
        #expect(try all.decode(LogEntryMessage.self).map(\.seq) == seqs)

        let after = try client.call(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with {
            $0.parentExecID = parent; $0.afterSeq = seqs[5]; $0.limit = 3
        })
        #expect(try after.decode(LogEntryMessage.self).map(\.seq) == Array(seqs[6..<9]))

        let roots = try client.call(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest())
        #expect(try roots.decode(LogEntryMessage.self).map(\.content) == ["p"])
    }

    @Test("every error in the design's table gets its status over the wire", arguments: ErrorCase.all)
    func errorStatuses(errorCase: ErrorCase) throws {
        let server = try TestServer(storeOptions: {
            var options = StoreOptions()
            options.maxContentBytes = 1000
            return options
        }())
        let client = try server.client()
        let existing = try client.append(entry(content: "x")).orchestrationSessionLogID
        let outcome = try errorCase.run(client, existing)
        #expect(outcome.code == errorCase.code, "\(errorCase.name): \(outcome.code.name) \(outcome.message)")
        #expect(outcome.message.contains(errorCase.messageContains), "\(errorCase.name): \(outcome.message)")
        #expect(outcome.messages.isEmpty)
    }
}

import OrchLogStore

/// One row of DESIGN.md's error table, driven over the wire.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let code: StatusCode
    let messageContains: String
    let run: @Sendable (RawClient, String) throws -> CallOutcome

    var testDescription: String { self.name }

    static func append(_ e: LogEntryMessage) -> @Sendable (RawClient, String) throws -> CallOutcome {
        { client, _ in try client.call(MethodPath.appendLog, AppendLogRequest.with { $0.entry = e }) }
    }

    static let all: [ErrorCase] = [
        ErrorCase(name: "malformed id", code: .invalidArgument, messageContains: "entry.orchestration_session_log_id", run: append(entry(id: "zzz"))),
        ErrorCase(name: "malformed parent", code: .invalidArgument, messageContains: "entry.parent_exec_id", run: append(entry(parent: "1234"))),
        ErrorCase(name: "invalid JSON", code: .invalidArgument, messageContains: "entry.elaboration", run: append(entry(elaboration: "{oops"))),
        ErrorCase(name: "self-parent", code: .invalidArgument, messageContains: "own parent",
                  run: append(entry(id: "0190f3a2-7c4b-7d2e-8f00-0123456789ab", parent: "0190F3A2-7C4B-7D2E-8F00-0123456789AB"))),
        ErrorCase(name: "missing content", code: .invalidArgument, messageContains: "entry.content", run: append(entry(content: nil))),
        ErrorCase(name: "content over the limit", code: .invalidArgument, messageContains: "1001 bytes exceeds the limit of 1000",
                  run: append(entry(content: String(repeating: "é", count: 500) + "x"))),
        ErrorCase(name: "missing entry", code: .invalidArgument, messageContains: "entry: required",
                  run: { client, _ in try client.call(MethodPath.appendLog, AppendLogRequest()) }),
        ErrorCase(name: "request of the wrong shape", code: .invalidArgument, messageContains: "AppendLogRequest",
                  run: { client, _ in
                      let id = try client.start(MethodPath.appendLog, bytes: [0x0A, 0x05, 0x01])
                      return try client.collect(id)
                  }),
        ErrorCase(name: "parent does not exist", code: .failedPrecondition, messageContains: "does not exist",
                  run: append(entry(parent: "0190f3a2-7c4b-7d2e-8f00-0123456789ab"))),
        ErrorCase(name: "same id, other fields", code: .alreadyExists, messageContains: "already exists",
                  run: { client, existing in
                      try client.call(MethodPath.appendLog, AppendLogRequest.with { $0.entry = entry(id: existing, content: "other") })
                  }),
        ErrorCase(name: "GetLog unknown id", code: .notFound, messageContains: "not found",
                  run: { client, _ in try client.call(MethodPath.getLog, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = LogID.generateV7() }) }),
        ErrorCase(name: "GetLog malformed id", code: .invalidArgument, messageContains: "orchestration_session_log_id",
                  run: { client, _ in try client.call(MethodPath.getLog, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = "nope" }) }),
        ErrorCase(name: "GetTree unknown root", code: .notFound, messageContains: "root_id",
                  run: { client, _ in try client.call(MethodPath.getTree, Orchlog_V1_GetTreeRequest.with { $0.rootID = LogID.generateV7() }) }),
        ErrorCase(name: "GetTree without root", code: .invalidArgument, messageContains: "root_id: required",
                  run: { client, _ in try client.call(MethodPath.getTree, Orchlog_V1_GetTreeRequest()) }),
        ErrorCase(name: "StreamChildren unknown parent", code: .notFound, messageContains: "parent_exec_id",
                  run: { client, _ in try client.call(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = LogID.generateV7(); $0.follow = true }) }),
        ErrorCase(name: "unknown method", code: .unimplemented, messageContains: "/orchlog.v1.OrchestrationLog/DeleteLog",
                  run: { client, _ in try client.call("/orchlog.v1.OrchestrationLog/DeleteLog", Orchlog_V1_HealthRequest()) }),
        ErrorCase(name: "deadline passed", code: .deadlineExceeded, messageContains: "deadline of 50 ms",
                  run: { client, existing in
                      try client.call(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = existing; $0.follow = true }, timeoutMillis: 50)
                  }),
    ]
}
