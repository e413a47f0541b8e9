import ArgumentParser
import OrchLogWire
import Synchronization

/// Fan-out latency: F followers of one parent (StreamChildren, follow=true), one appender adding
/// A children at R per second; for every child and follower, receive time - the time the
/// appender got its AppendLog OK, and receive time - the time the appender sent it.
///
/// Followers share `--follower-connections` clients (default min(F, 8)), round-robin, so F
/// streams are multiplexed on a few HTTP/2 connections as one process with many watchers would
/// do it, and the load generator's own cost stays small next to the server's. The appender has
/// its own connection.
struct FollowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow", abstract: "Follow latency: StreamChildren(follow) fan-out of paced appends."
    )

    @Option(help: "The peer, HOST:PORT.")
    var target: Target

    @Option(help: "Follow streams on the parent.")
    var followers = 1

    @Option(help: "Children appended after all followers are open.")
    var appends = 100

    @Option(help: "Appends per second (steady pacing, one in flight).")
    var rate = 100.0

    @Option(help: "Client connections the followers share (default: min(followers, 8)).")
    var followerConnections: Int?

    @Option(help: "Seconds to wait for followers to open, and for the last deliveries after the last append.")
    var timeout = 30.0

    func validate() throws {
        guard self.followers >= 1 else { throw ValidationError("--followers must be at least 1") }
        guard self.appends >= 1 else { throw ValidationError("--appends must be at least 1") }
        guard self.rate > 0 else { throw ValidationError("--rate must be positive") }
        if let n = self.followerConnections, n < 1 { throw ValidationError("--follower-connections must be at least 1") }
        guard self.timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        raiseDescriptorLimit()
        let clock = ContinuousClock()
        let base = clock.now
        let followerCount = self.followers
        let appendCount = self.appends
        let timeout = Duration.nanoseconds(Int64(self.timeout * 1e9))

        let appender = try ClientPool(target: self.target, count: 1)
        let followerPool = try ClientPool(
            target: self.target, count: self.followerConnections ?? min(followerCount, 8)
        )
        try await appender.connectAll()
        try await followerPool.connectAll()

        let parent = try await appender.clients[0].appendLog(Entries.root("follow benchmark parent")).entry.orchestrationSessionLogID
        let warmUpID = LogID.generateV7()
        let childIDs = (0..<appendCount).map { _ in LogID.generateV7() }
        let indexOf = Dictionary(uniqueKeysWithValues: childIDs.enumerated().map { ($0.element, $0.offset) })
        let ready = Latch(count: followerCount)
        let complete = Latch(count: followerCount)
        let request = Orchlog_V1_StreamChildrenRequest.with {
            $0.parentExecID = parent
            $0.follow = true
        }
        progress("follow: \(followerCount) followers on \(followerPool.clients.count) connections, \(appendCount) appends at \(self.rate)/s")

        var okAt = [Int64?](repeating: nil, count: appendCount)
        var sentAt = [Int64?](repeating: nil, count: appendCount)
        var appendLatencies = Latencies()
        var appendErrors = 0
        let recordings = (0..<followerCount).map { _ in Recording(count: appendCount) }

        let streamErrors = await withTaskGroup(of: String?.self) { group -> [String] in
            for (index, recording) in recordings.enumerated() {
                let client = followerPool.clients[index % followerPool.clients.count]
                group.addTask {
                    do {
                        try await client.streamChildren(request) { messages in
                            for try await message in messages {
                                let now = clock.now
                                let id = message.orchestrationSessionLogID
                                if id == warmUpID {
                                    ready.arrive()
                                    continue
                                }
                                guard let child = indexOf[id] else { continue }
                                recording.receive(child, seq: message.seq, atNanos: (now - base).nanoseconds)
                                if recording.delivered == appendCount {
                                    complete.arrive()
                                    return
                                }
                            }
                        }
                        return nil
                    } catch {
                        return Task.isCancelled ? nil : "\(error)"
                    }
                }
            }

            // Open: every follower has seen the warm-up child, so its stream is live.
            do {
                _ = try await appender.clients[0].appendLog(Entries.child(of: parent, step: -1, id: warmUpID))
            } catch {
                progress("warm-up append failed: \(error)")
            }
            if await ready.wait(timeout: timeout) == false {
                progress("only \(followerCount - ready.remaining) of \(followerCount) followers opened in time")
            }

            // Steady pacing, open loop as in orchlog-bench's follow: child i is sent at
            // start + i/rate whether or not earlier appends were answered, so the followers get
            // the rate asked for even when an append takes longer than the interval.
            let start = clock.now
            let interval = 1.0 / self.rate
            let client = appender.clients[0]
            let answers = await withTaskGroup(of: AppendAnswer.self) { appends in
                for i in 0..<appendCount {
                    let due = start + .nanoseconds(Int64(Double(i) * interval * 1e9))
                    if due > clock.now { try? await clock.sleep(until: due) }
                    let entry = Entries.child(of: parent, step: i, id: childIDs[i])
                    appends.addTask {
                        let sent = (clock.now - base).nanoseconds
                        do {
                            _ = try await client.appendLog(entry)
                            return AppendAnswer(index: i, sent: sent, ok: (clock.now - base).nanoseconds, error: nil)
                        } catch {
                            return AppendAnswer(index: i, sent: sent, ok: nil, error: "\(error)")
                        }
                    }
                }
                return await appends.reduce(into: []) { $0.append($1) }
            }
            for answer in answers {
                sentAt[answer.index] = answer.sent
                if let ok = answer.ok {
                    okAt[answer.index] = ok
                    appendLatencies.record(nanoseconds: ok - answer.sent)
                } else {
                    appendErrors += 1
                    if appendErrors == 1 { progress("append failed: \(answer.error ?? "")") }
                }
            }

            if await complete.wait(timeout: timeout) == false {
                progress("\(complete.remaining) followers still missing children after the timeout")
            }
            group.cancelAll()
            var errors: [String] = []
            for await error in group { if let error { errors.append(error) } }
            return errors
        }
        if let first = streamErrors.first { progress("\(streamErrors.count) streams failed; first: \(first)") }

        var latencies = Latencies()
        var fromRequest = Latencies()
        var delivered = 0, duplicates = 0, outOfOrder = 0, beforeOK = 0
        for recording in recordings {
            let snapshot = recording.snapshot()
            delivered += snapshot.delivered
            duplicates += snapshot.duplicates
            outOfOrder += snapshot.outOfOrder
            for i in 0..<appendCount {
                if let received = snapshot.receivedAt[i], let sent = sentAt[i] {
                    fromRequest.record(nanoseconds: received - sent)
                }
                guard let received = snapshot.receivedAt[i], let ok = okAt[i] else { continue }
                var latency = received - ok
                if latency < 0 {
                    // The follower saw it before the appender saw its OK.
                    beforeOK += 1
                    latency = 0
                }
                latencies.record(nanoseconds: latency)
            }
        }
        let summary = latencies.summary()
        let appendSummary = appendLatencies.summary()
        let requestSummary = fromRequest.summary()
        emitJSON([
            "scenario": .string("follow"), "followers": .int(followerCount), "appends": .int(appendCount),
            "rate": .double(self.rate), "follower_connections": .int(followerPool.clients.count),
            "delivered": .int(delivered), "expected": .int(followerCount * appendCount),
            "duplicates": .int(duplicates), "out_of_order": .int(outOfOrder), "before_ok": .int(beforeOK),
            "errors": .int(appendErrors + streamErrors.count),
            "p50_us": .double(summary.micros(0.50)), "p99_us": .double(summary.micros(0.99)),
            "p999_us": .double(summary.micros(0.999)), "max_us": .double(summary.maxMicros),
            "append_p50_us": .double(appendSummary.micros(0.50)), "append_p99_us": .double(appendSummary.micros(0.99)),
            "request_p50_us": .double(requestSummary.micros(0.50)), "request_p99_us": .double(requestSummary.micros(0.99)),
            "request_p999_us": .double(requestSummary.micros(0.999)),
        ])
        await appender.shutdown()
        await followerPool.shutdown()
    }
}

/// One paced append: when it was sent and answered (nanoseconds from the start), or why it failed.
struct AppendAnswer: Sendable {
    var index: Int
    var sent: Int64
    var ok: Int64?
    var error: String?
}

/// What one follower received: the first receive time of each child, duplicates, and
/// out-of-order arrivals (a seq not above the previous one).
final class Recording: Sendable {
    struct Snapshot {
        var receivedAt: [Int64?]
        var delivered = 0
        var duplicates = 0
        var outOfOrder = 0
        var lastSeq: UInt64 = 0
    }

    // A Mutex although one task writes it: the snapshot is read from another task afterwards.
    private let state: Mutex<Snapshot>

    init(count: Int) { self.state = Mutex(Snapshot(receivedAt: [Int64?](repeating: nil, count: count))) }

    func receive(_ child: Int, seq: UInt64, atNanos nanos: Int64) {
        self.state.withLock { state in
            if state.receivedAt[child] != nil {
                state.duplicates += 1
                return
            }
            if seq <= state.lastSeq { state.outOfOrder += 1 }
            state.lastSeq = max(state.lastSeq, seq)
            state.receivedAt[child] = nanos
            state.delivered += 1
        }
    }

    var delivered: Int { self.state.withLock { $0.delivered } }

    func snapshot() -> Snapshot { self.state.withLock { $0 } }
}
