import Foundation
import OrchLogWire

extension Bench {
    /// Followers of one parent, one connection each, while children are appended at a steady
    /// rate on another connection: the delay from each append's OK to each follower receiving
    /// that child (issue 5's measure), the delay from the append's request (which does not
    /// depend on when the OK comes), and that every follower got every child exactly once, in order.
    func follow() throws {
        let server = try self.startServer("follow")
        defer { server.stop() }
        let appender = try self.connect(server)
        let parent = try self.appendRoot(on: appender, content: "follow")
        var connections = [appender]
        for index in 1...self.sizes.followers {
            connections.append(try LoadConnection(port: server.port, index: index))
        }
        let followRequest = Orchlog_V1_StreamChildrenRequest.with {
            $0.parentExecID = parent
            $0.follow = true
        }.encodedBytes()
        for follower in connections.dropFirst() {
            _ = follower.start(MethodPath.streamChildren, request: followRequest)
        }

        // What each follower received (kept raw, decoded after the run so that the one loop
        // reading 100 followers spends its time reading), and each append's seq and OK time.
        // Sized up front: 100 followers' buffers growing (and being copied) at the same moments
        // would stall this loop for milliseconds in the middle of the measure.
        let total = self.sizes.followAppends + 1  // a warm-up child first: every follow is open once it arrived
        var received = connections.map { _ in ReceivedMessages(expected: total) }  // each its own storage
        var acknowledged: [UInt64: UInt64] = Dictionary(minimumCapacity: total)
        var requested: [UInt64: UInt64] = Dictionary(minimumCapacity: total)
        var appendLatencies = Latencies(capacity: self.sizes.followAppends)
        var appendSent: [UInt32: UInt64] = Dictionary(minimumCapacity: 1024)
        var failures: [String] = []
        var sent = 0
        var pacedFrom: UInt64 = 0
        let interval = 1e9 / Double(self.sizes.followRate)

        func sendAppend(at now: UInt64) {
            let request = Orchlog_V1_AppendLogRequest.with {
                $0.entry = SampleEntry.child(of: parent, index: sent, ids: .v7)
            }
            appendSent[appender.start(MethodPath.appendLog, request: request.encodedBytes())] = now
            sent += 1
        }

        var answered = 0
        let loop = LoadLoop(connections: connections)
        sendAppend(at: MonotonicClock.now())
        let deadline = MonotonicClock.now() + UInt64((Double(total) / Double(self.sizes.followRate) + 60) * 1e9)
        try loop.run(
            waitMillis: 1,
            onFrame: { connection, raw, now in
                // Messages are decoded from their payload; the frame around them needs no decoder.
                if raw.kind == RawFrame.message {
                    if connection.index == 0 {
                        let response = try Orchlog_V1_AppendLogResponse(serializedBytes: Data(raw.messagePayload))
                        acknowledged[response.entry.seq] = now
                        requested[response.entry.seq] = appendSent[raw.callID]
                    } else {
                        received[connection.index].append(raw.messagePayload, at: now)
                    }
                    return
                }
                guard raw.kind == RawFrame.end, case .end(let end) = try raw.decode().kind else { return }
                if connection.index == 0 {
                    guard let started = appendSent.removeValue(forKey: raw.callID) else { return }
                    answered += 1
                    if end.code != .ok { failures.append("AppendLog: \(end.code) \(end.message)") }
                    if answered > 1 { appendLatencies.record(now - started) }
                } else {
                    failures.append("follower \(connection.index) ended: \(end.code) \(end.message)")
                }
            },
            onTurn: { now in
                guard now < deadline else { throw BenchError("follow did not finish within its deadline") }
                if pacedFrom == 0 {
                    // Paced appends start once every follower has the warm-up child.
                    if answered == 1 && received.dropFirst().allSatisfy({ $0.count > 0 }) { pacedFrom = now }
                    return
                }
                while sent < total && Double(now - pacedFrom) >= Double(sent - 1) * interval {
                    sendAppend(at: now)
                }
            },
            isDone: {
                answered == total && received.dropFirst().allSatisfy { $0.count >= total } || !failures.isEmpty
            }
        )

        // Exactly once, in order; delay from the append's OK (0 when the child came first), and
        // from its request.
        var delays = Latencies(capacity: self.sizes.followers * self.sizes.followAppends)
        var fromRequest = Latencies(capacity: self.sizes.followers * self.sizes.followAppends)
        var lost = 0, repeated = 0, disordered = 0, beforeOK = 0
        let expected = acknowledged.keys.sorted()
        for messages in received.dropFirst() {
            let follower = try messages.map { payload, at in
                (seq: try Orchlog_V1_LogEntry(serializedBytes: Data(payload)).seq, at: at)
            }
            let seqs = follower.map(\.seq)
            if seqs != expected {
                lost += Set(expected).subtracting(seqs).count
                repeated += seqs.count - Set(seqs).count
                disordered += zip(seqs, seqs.dropFirst()).filter { $0.0 >= $0.1 }.count
            }
            for (seq, at) in follower.dropFirst() {
                guard let ok = acknowledged[seq] else { continue }
                if at < ok { beforeOK += 1 }
                delays.record(at > ok ? at - ok : 0)
                if let sent = requested[seq] { fromRequest.record(at - sent) }
            }
        }
        failures.forEach { self.report.fail("follow: \($0)") }
        if lost + repeated + disordered > 0 {
            self.report.fail("follow: \(lost) children lost, \(repeated) repeated, \(disordered) out of order")
        }
        let (p50, p99, p999) = delays.summary()
        self.report.add(Measurement(
            key: "follow/orchlog/delivery", scenario: "follow", system: "orchlog",
            label: "orchlog \(self.sizes.followers) followers, \(self.sizes.followAppends) appends at \(self.sizes.followRate)/s",
            value: Double(delays.count), unit: "deliveries", operations: delays.count, errors: lost + repeated + disordered,
            p50Micros: p50, p99Micros: p99, p999Micros: p999,
            notes: "delay from the append's OK; \(beforeOK) arrived before the OK; lost \(lost), repeated \(repeated)"
        ))
        let (r50, r99, r999) = fromRequest.summary()
        self.report.add(Measurement(
            key: "follow/orchlog/delivery-from-request", scenario: "follow", system: "orchlog",
            label: "the same deliveries, delay from the append's request", value: Double(fromRequest.count),
            unit: "deliveries", operations: fromRequest.count, p50Micros: r50, p99Micros: r99, p999Micros: r999
        ))
        let (a50, a99, a999) = appendLatencies.summary()
        self.report.add(Measurement(
            key: "follow/orchlog/append", scenario: "follow", system: "orchlog",
            label: "the appends' own round trip (baseline)", value: Double(appendLatencies.count), unit: "appends",
            operations: appendLatencies.count, p50Micros: a50, p99Micros: a99, p999Micros: a999
        ))
    }
}

/// One follower's messages as they arrived: their payloads back to back, and when each was read.
private struct ReceivedMessages {
    private let expected: Int
    private var payloads: [UInt8] = []
    private var ends: [(end: Int, at: UInt64)] = []

    init(expected: Int) {
        self.expected = expected
        self.ends.reserveCapacity(expected)
    }

    var count: Int { self.ends.count }

    mutating func append(_ payload: UnsafeRawBufferPointer, at time: UInt64) {
        if self.payloads.isEmpty {
            // The children differ only in their index, so the first one's size (with room for
            // longer indexes) sizes them all.
            self.payloads.reserveCapacity((payload.count + 16) * self.expected)
        }
        self.payloads.append(contentsOf: payload)
        self.ends.append((self.payloads.count, time))
    }

    /// `transform` of each payload with its arrival time, in arrival order.
    func map<T>(_ transform: (ArraySlice<UInt8>, UInt64) throws -> T) rethrows -> [T] {
        var start = 0
        return try self.ends.map { end, at in
            defer { start = end }
            return try transform(self.payloads[start..<end], at)
        }
    }
}
