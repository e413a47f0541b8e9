import Foundation
import OrchLogTestSupport
import OrchLogWire
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile peers against a real orchlogd process while a well-behaved client keeps appending:
/// the server stays up, its memory stays bounded, the good client is served, nothing is lost.
@Suite("Hostile peers", .serialized)
struct HostilePeersTests {
    /// Resident memory of a process, from /proc.
    static func residentBytes(of pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    /// One kind of hostile peer: runs until `stop` is set.
    struct Load: Sendable {
        let name: String
        let run: @Sendable (_ port: UInt16, _ parent: String, _ stop: Flag) -> Void
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { self.value.load(ordering: .relaxed) }
        func set() { self.value.store(true, ordering: .relaxed) }
    }

    static let loads: [Load] = [
        // Slowloris: hello at 1 byte/s, which the hello timeout cuts off; reconnects each time.
        Load(name: "slowloris ×10 (1 byte/s)") { port, _, stop in
            DispatchQueue.concurrentPerform(iterations: 10) { _ in
                let hello = FrameEncoder.encode(Frame.with { $0.hello = .with { $0.protocolVersion = 1 } })
                while !stop.isSet {
                    guard let slow = try? RawClient(port: port) else { usleep(100_000); continue }
                    for byte in hello {
                        if stop.isSet || (try? slow.send(bytes: [byte])) == nil { break }
                        for _ in 0..<10 where !stop.isSet { usleep(100_000) }
                    }
                }
            }
        },
        // Connections up to (and past) the limit, held, dropped and opened again every 5 s.
        Load(name: "220 held connections (limit 200)") { port, _, stop in
            while !stop.isSet {
                var held: [RawClient] = []
                for _ in 0..<220 {
                    if let c = try? RawClient(port: port) { held.append(c) }
                }
                for _ in 0..<50 where !stop.isSet { usleep(100_000) }
                withExtendedLifetime(held) {}
            }
        },
        // Far more calls than max concurrent calls on one connection.
        Load(name: "1,000 follow calls on one connection (limit 64)") { port, parent, stop in
            guard let flood = try? RawClient(port: port), (try? flood.hello()) != nil else { return }
            var bytes: [UInt8] = []
            let request: [UInt8] = (try? Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true }.serializedBytes()) ?? []
            for id in 1...1000 {
                bytes += FrameEncoder.encode(Frame.with {
                    $0.callID = UInt32(id)
                    $0.start = .with { $0.method = MethodPath.streamChildren; $0.request = Data(request) }
                })
            }
            _ = try? flood.send(bytes: bytes)
            while !stop.isSet { usleep(50_000) }
        },
        // A follower that never reads while 10,000 children of 2 KB are appended.
        Load(name: "never-reading follower, 10,000 children of 2 KB") { port, parent, stop in
            guard let lazy = try? RawClient(port: port), (try? lazy.hello()) != nil else { return }
            _ = try? lazy.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true })
            if let writer = try? RawClient(port: port), (try? writer.hello()) != nil {
                for batch in 0..<10 where !stop.isSet {
                    _ = try? writer.call(MethodPath.appendLogs, Orchlog_V1_AppendLogsRequest.with {
                        $0.entries = (0..<1000).map { entry(parent: parent, content: "child \(batch).\($0) " + String(repeating: "z", count: 2000)) }
                    })
                }
            }
            while !stop.isSet { usleep(50_000) }
            withExtendedLifetime(lazy) {}
        },
        // Garbage after a valid frame, and half-open peers that stop mid-frame.
        Load(name: "garbage after valid frames, half-open peers") { port, _, stop in
            while !stop.isSet {
                var half: [RawClient] = []
                for _ in 0..<5 {
                    guard let junk = try? RawClient(port: port), (try? junk.hello()) != nil else { continue }
                    _ = try? junk.send(bytes: FrameEncoder.encode(Frame.with { $0.ping = .init() }) + [0, 0, 0, 9, 0xFF, 0xFE])
                    guard let stalled = try? RawClient(port: port), (try? stalled.hello()) != nil else { continue }
                    _ = try? stalled.send(bytes: [0, 0, 1, 0, 0x22])
                    half.append(stalled)
                }
                for _ in 0..<20 where !stop.isSet { usleep(100_000) }
                withExtendedLifetime(half) {}
            }
        },
    ]

    /// Seconds each phase lasts: 6 in the test command; `ORCHLOG_SOAK_SECONDS` for a soak, which
    /// also runs each load alone before all of them together.
    static let soakSeconds = ProcessInfo.processInfo.environment["ORCHLOG_SOAK_SECONDS"].flatMap { Double($0) }

    /// A fresh orchlogd for `body`; then SIGTERM, which must drain it and exit 0.
    static func withOrchlogd(_ body: (OrchlogdProcess) throws -> Void) throws {
        let directory = TemporaryDirectory()
        let server = try OrchlogdProcess(db: directory.file("test.db"))
        try body(server)
        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)
    }

    /// Set by dev/test.sh for the sanitizer runs, where memory that orchlogd frees stays
    /// resident (ASan's quarantine): the tests of how little it grows mean nothing there.
    static let underSanitizer = ProcessInfo.processInfo.environment["ORCHLOG_SANITIZER"] != nil

    /// Peak RSS allowed, in MiB (`ORCHLOG_HOSTILE_RSS_MIB`; the sanitizer runs raise it, since
    /// their shadow memory counts too).
    static let rssBoundMiB = ProcessInfo.processInfo.environment["ORCHLOG_HOSTILE_RSS_MIB"].flatMap { Int($0) } ?? 128

    @Test("streams that get no more credit hold at most two pages each, however big the entries", .disabled(if: Self.underSanitizer, "freed memory stays resident under a sanitizer"))
    func creditlessStreamsStayBounded() throws {
        try Self.withOrchlogd { server in
            let pid = server.process.processIdentifier
            let client = try RawClient(port: server.port)
            try client.hello()
            let parent = try client.append(entry(content: "parent of big children")).orchestrationSessionLogID
            // 300 children of 50 KB: 15 MB, two of them to a 64 KiB page.
            let content = String(repeating: "x", count: 50_000)
            for _ in 0..<10 {
                let batch = Orchlog_V1_AppendLogsRequest.with {
                    $0.entries = (0..<30).map { _ in entry(parent: parent, content: content) }
                }
                #expect(try client.call(MethodPath.appendLogs, batch).code == .ok)
            }
            let before = Self.residentBytes(of: pid)
            // 20 StreamChildren and 20 GetTree calls that take one message and never grant more.
            var calls: [UInt32] = []
            for _ in 0..<20 {
                calls.append(try client.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent }, credit: 1))
                calls.append(try client.start(MethodPath.getTree, Orchlog_V1_GetTreeRequest.with { $0.rootID = parent }, credit: 1))
            }
            for call in calls { #expect(try client.messages(call, count: 1).count == 1) }
            var peak = 0
            for _ in 0..<20 {
                peak = max(peak, Self.residentBytes(of: pid))
                usleep(50_000)
            }
            // Before pages had a byte bound, each call held every child it read ahead (15 MB each).
            let grown = peak - before
            #expect(grown < 64 * 1_048_576, "40 streams without credit grew the server by \(grown / 1_048_576) MiB")
            #expect(try client.isQuiet(forMilliseconds: 100), "no message beyond the credit")
        }
    }

    @Test("connections that send most of a big frame before hello and close keep nothing once closed", .disabled(if: Self.underSanitizer, "freed memory stays resident under a sanitizer"))
    func closedConnectionsKeepNoBuffers() throws {
        // The default hello timeout (10 s): the timer outlives every one of these connections.
        try Self.withOrchlogd { server in
            let pid = server.process.processIdentifier
            let before = Self.residentBytes(of: pid)
            let maxFrame = 4 * 1024 * 1024
            // A length prefix (big-endian) for the largest frame, and all of it but its last byte.
            var partial = [UInt8(truncatingIfNeeded: maxFrame >> 24), UInt8(truncatingIfNeeded: maxFrame >> 16), UInt8(truncatingIfNeeded: maxFrame >> 8), UInt8(truncatingIfNeeded: maxFrame)]
            partial += [UInt8](repeating: 0x0A, count: maxFrame - 1)
            var peak = 0
            for _ in 0..<30 {
                let peer = try RawClient(port: server.port)
                try peer.send(bytes: partial)
                // Until the server has read it all, it has not closed; give it a moment.
                usleep(30_000)
                peak = max(peak, Self.residentBytes(of: pid))
            }
            usleep(300_000)
            peak = max(peak, Self.residentBytes(of: pid))
            let grown = peak - before
            // Before, each closed connection kept its 4 MiB frame buffer until its hello timer fired.
            #expect(grown < 48 * 1_048_576, "30 closed connections grew the server by \(grown / 1_048_576) MiB")
            let good = try RawClient(port: server.port)
            try good.hello()
            #expect(try good.call(MethodPath.health, Orchlog_V1_HealthRequest()).code == .ok)
        }
    }

    @Test("calls that end long before their deadline leave nothing behind", .disabled(if: Self.underSanitizer, "freed memory stays resident under a sanitizer"))
    func endedCallsKeepNoDeadline() throws {
        try Self.withOrchlogd { server in
            let pid = server.process.processIdentifier
            let client = try RawClient(port: server.port)
            try client.hello()
            var nextID: UInt32 = 1
            func healthBatch(_ count: Int) throws {
                var bytes: [UInt8] = []
                for _ in 0..<count {
                    FrameEncoder.encode(Frame.with {
                        $0.callID = nextID
                        // The longest deadline there is: 49.7 days.
                        $0.start = .with { $0.method = MethodPath.health; $0.timeoutMs = UInt32.max }
                    }, into: &bytes)
                    nextID += 1
                }
                try client.send(bytes: bytes)
                var ended = 0
                while ended < count {
                    if case .end(let end) = try client.readFrame().kind {
                        #expect(end.code == .ok)
                        ended += 1
                    }
                }
            }
            try healthBatch(2_000)
            let before = Self.residentBytes(of: pid)
            for _ in 0..<100 { try healthBatch(1_000) }
            let grown = Self.residentBytes(of: pid) - before
            // Before, each call's deadline work item stayed queued until its deadline.
            #expect(grown < 8 * 1_048_576, "100,000 ended calls grew the server by \(grown / 1024) KiB")
        }
    }

    @Test("slowloris, connection and call floods, a never-reading follower, garbage and half-open sockets")
    func hostilePeers() throws {
        let directory = TemporaryDirectory()
        let server = try OrchlogdProcess(db: directory.file("hostile.db"), arguments: [
            "--max-connections", "200", "--max-concurrent-calls", "64", "--hello-timeout-ms", "1000",
        ])
        let port = server.port
        let pid = server.process.processIdentifier
        let setup = try RawClient(port: port)
        try setup.hello()
        let parent = try setup.append(entry(content: "followed by a peer that never reads")).orchestrationSessionLogID

        let stopGood = Flag()
        let acknowledged = Locked<[String]>([])
        let latencies = Locked<[Double]>([])
        let goodFailures = Atomic<Int>(0)
        let good = DispatchGroup()
        // The well-behaved client: appends one at a time, throughout, and records each round trip.
        DispatchQueue.global().async(group: good) {
            guard let client = try? RawClient(port: port), (try? client.hello()) != nil else {
                goodFailures.add(1, ordering: .relaxed)
                return
            }
            var i = 0
            while !stopGood.isSet {
                let id = LogID.generateV7()
                let started = Date()
                guard (try? client.append(entry(id: id, content: "good \(i)"))) != nil else {
                    goodFailures.add(1, ordering: .relaxed)
                    return
                }
                latencies.withLock { $0.append(Date().timeIntervalSince(started)) }
                acknowledged.withLock { $0.append(id) }
                i += 1
            }
        }

        let seconds = Self.soakSeconds ?? 6
        var phases: [[Load]] = Self.soakSeconds == nil ? [] : Self.loads.map { [$0] }
        phases.append(Self.loads)
        var report: [String] = []
        for loads in phases {
            let stop = Flag()
            let group = DispatchGroup()
            for load in loads {
                DispatchQueue.global().async(group: group) { load.run(port, parent, stop) }
            }
            var peak = 0
            let until = Date().addingTimeInterval(seconds)
            while Date() < until {
                peak = max(peak, Self.residentBytes(of: pid))
                usleep(50_000)
            }
            stop.set()
            group.wait()
            let name = loads.count == 1 ? loads[0].name : "all at once"
            report.append("\(name): peak RSS \(peak / 1_048_576) MiB")
            #expect(server.process.isRunning, "the server survived \(name)")
            #expect(peak > 0 && peak < Self.rssBoundMiB * 1_048_576, "\(name): peak RSS \(peak / 1_048_576) MiB")
        }
        stopGood.set()
        good.wait()

        #expect(goodFailures.load(ordering: .relaxed) == 0, "the good client was served throughout")
        let acked = acknowledged.withLock { $0 }
        #expect(acked.count > 50)
        let stored = try sqlite3CLI(directory.file("hostile.db"), "SELECT content FROM orchestration_session_log WHERE content LIKE 'good %';")
            .split(separator: "\n").map(String.init)
        #expect(stored.count == acked.count, "every acknowledged append stored once: \(stored.count) stored, \(acked.count) acknowledged")
        #expect(Set(stored).count == stored.count, "no good append stored twice")
        let storedIDs = Set(try sqlite3CLI(directory.file("hostile.db"), "SELECT orchestration_session_log_id FROM orchestration_session_log;").split(separator: "\n").map(String.init))
        #expect(Set(acked).isSubset(of: storedIDs), "no acknowledged entry lost")
        let sorted = latencies.withLock { $0 }.sorted()
        let p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        print("hostile peers (\(Int(seconds)) s per phase): good appends \(acked.count), none failed, p50 \(Int((sorted.isEmpty ? 0 : sorted[sorted.count / 2]) * 1e6)) µs, p99 \(Int(p99 * 1e6)) µs")
        for line in report { print("  \(line)") }

        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)
    }
}
