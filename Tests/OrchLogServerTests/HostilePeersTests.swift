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

        let stop = Atomic<Bool>(false)
        let peakRSS = Atomic<Int>(0)
        let acknowledged = Mutex<[String]>([])
        let latencies = Mutex<[Double]>([])
        let goodFailures = Atomic<Int>(0)
        let group = DispatchGroup()
        func spawn(_ body: @escaping @Sendable () -> Void) {
            DispatchQueue.global().async(group: group, execute: body)
        }

        // The well-behaved client: appends one at a time and records each round trip.
        spawn {
            guard let good = try? RawClient(port: port), (try? good.hello()) != nil else {
                goodFailures.add(1, ordering: .relaxed)
                return
            }
            var i = 0
            while !stop.load(ordering: .relaxed) {
                let id = LogID.generateV7()
                let started = Date()
                guard (try? good.append(entry(id: id, content: "good \(i)"))) != nil else {
                    goodFailures.add(1, ordering: .relaxed)
                    return
                }
                latencies.withLock { $0.append(Date().timeIntervalSince(started)) }
                acknowledged.withLock { $0.append(id) }
                i += 1
            }
        }
        // Memory watcher.
        spawn {
            while !stop.load(ordering: .relaxed) {
                let rss = Self.residentBytes(of: pid)
                if rss > peakRSS.load(ordering: .relaxed) { peakRSS.store(rss, ordering: .relaxed) }
                usleep(50_000)
            }
        }
        // Slowloris: hello one byte at a time, too slowly to finish before the hello timeout.
        for _ in 0..<10 {
            spawn {
                guard let slow = try? RawClient(port: port) else { return }
                let hello = FrameEncoder.encode(Frame.with { $0.hello = .with { $0.protocolVersion = 1 } })
                for byte in hello {
                    if stop.load(ordering: .relaxed) || (try? slow.send(bytes: [byte])) == nil { return }
                    usleep(300_000)
                }
            }
        }
        // A peer that opens connections up to (and past) the limit and holds them.
        spawn {
            var held: [RawClient] = []
            for _ in 0..<220 {
                if let c = try? RawClient(port: port) { held.append(c) }
            }
            while !stop.load(ordering: .relaxed) { usleep(50_000) }
            withExtendedLifetime(held) {}
        }
        // A call flood far beyond max concurrent calls on one connection.
        spawn {
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
            while !stop.load(ordering: .relaxed) { usleep(50_000) }
        }
        // A follower that never reads while thousands of 2 KB children are appended.
        spawn {
            guard let lazy = try? RawClient(port: port), (try? lazy.hello()) != nil else { return }
            _ = try? lazy.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true })
            while !stop.load(ordering: .relaxed) { usleep(50_000) }
            withExtendedLifetime(lazy) {}
        }
        spawn {
            guard let writer = try? RawClient(port: port), (try? writer.hello()) != nil else { return }
            for batch in 0..<10 {
                _ = try? writer.call(MethodPath.appendLogs, Orchlog_V1_AppendLogsRequest.with {
                    $0.entries = (0..<1000).map { entry(parent: parent, content: "child \(batch).\($0) " + String(repeating: "z", count: 2000)) }
                })
            }
        }
        // Garbage after a valid frame, and half-open peers that stop mid-frame.
        for _ in 0..<5 {
            spawn {
                guard let junk = try? RawClient(port: port), (try? junk.hello()) != nil else { return }
                _ = try? junk.send(bytes: FrameEncoder.encode(Frame.with { $0.ping = .init() }) + [0, 0, 0, 9, 0xFF, 0xFE])
                guard let half = try? RawClient(port: port), (try? half.hello()) != nil else { return }
                _ = try? half.send(bytes: [0, 0, 1, 0, 0x22])
                while !stop.load(ordering: .relaxed) { usleep(50_000) }
                withExtendedLifetime(half) {}
            }
        }

        Thread.sleep(forTimeInterval: 6)
        stop.store(true, ordering: .relaxed)
        group.wait()

        #expect(server.process.isRunning, "the server survived")
        #expect(goodFailures.load(ordering: .relaxed) == 0, "the good client was served throughout")
        let acked = acknowledged.withLock { $0 }
        #expect(acked.count > 50)
        let peak = peakRSS.load(ordering: .relaxed)
        #expect(peak > 0 && peak < 512 * 1024 * 1024, "peak RSS \(peak / 1_048_576) MiB")
        let stored = Set(try sqlite3CLI(directory.file("hostile.db"), "SELECT orchestration_session_log_id FROM orchestration_session_log;").split(separator: "\n").map(String.init))
        #expect(Set(acked).isSubset(of: stored), "no acknowledged entry lost")
        let sorted = latencies.withLock { $0 }.sorted()
        let p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        print("hostile peers: good appends \(acked.count), p50 \(Int((sorted.isEmpty ? 0 : sorted[sorted.count / 2]) * 1e6)) µs, p99 \(Int(p99 * 1e6)) µs, peak RSS \(peak / 1_048_576) MiB")

        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)
    }
}
