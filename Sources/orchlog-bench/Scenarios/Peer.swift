import Foundation
import OrchLogTestSupport

extension Bench {
    /// The same RPCs on grpc-swift 2 (Benchmarks/GRPCPeer) over the same store, driven by its own
    /// grpc-swift load generator, in this run: append-durable, rpc-ceiling, follow, children and
    /// idle connections, each beside orchlog's figure from the scenarios above.
    func peer() throws {
        guard let peerBin else {
            return self.report.skip("peer: run with --peer (needs `swift build -c release --package-path Benchmarks/GRPCPeer`)")
        }
        guard self.externalPort == nil else { return self.report.skip("peer: not with --server") }
        let peer = GRPCPeer(binaries: peerBin)
        guard peer.isBuilt else {
            throw BenchError("no peer binaries in \(peerBin): swift build -c release --package-path Benchmarks/GRPCPeer")
        }
        let seconds = String(self.sizes.peerSeconds)
        for connections in self.sizes.appendConnections {
            try self.peerCalls(peer, "append", connections: connections, inFlight: 1, extra: ["--ids", "v7"], seconds: seconds)
        }
        for connections in Set(self.sizes.appendConnections + [self.sizes.ceilingConnections]).sorted() {
            try self.peerCalls(peer, "health", connections: connections, inFlight: 1, seconds: seconds)
        }
        try self.peerCalls(peer, "health", connections: 1, inFlight: self.sizes.ceilingInFlight, seconds: seconds)
        try self.peerCalls(peer, "get", connections: self.sizes.ceilingConnections, inFlight: 1, seconds: seconds)

        let follow = try peer.load("follow", [
            "--followers", "\(self.sizes.followers)", "--appends", "\(self.sizes.followAppends)",
            "--rate", "\(self.sizes.followRate)",
            // One connection per follower, as orchlog's follow scenario has.
            "--follower-connections", "\(self.sizes.followers)",
        ])
        let lostOrRepeated = Int(follow["expected", default: 0] - follow["delivered", default: 0])
            + Int(follow["duplicates", default: 0]) + Int(follow["out_of_order", default: 0])
        self.report.add(Measurement(
            key: "peer/grpc/follow/delivery", scenario: "peer", system: "grpc-peer",
            label: "grpc-swift 2 peer: \(self.sizes.followers) followers, \(self.sizes.followAppends) appends at \(self.sizes.followRate)/s",
            value: follow["delivered", default: 0], unit: "deliveries", errors: lostOrRepeated,
            p50Micros: follow["p50_us"], p99Micros: follow["p99_us"], p999Micros: follow["p999_us"],
            notes: "delay from the append's OK; append p50 \(Int(follow["append_p50_us", default: 0])) µs"
        ))
        self.report.add(Measurement(
            key: "peer/grpc/follow/delivery-from-request", scenario: "peer", system: "grpc-peer",
            label: "grpc-swift 2 peer: the same deliveries, delay from the append's request",
            value: follow["delivered", default: 0], unit: "deliveries",
            p50Micros: follow["request_p50_us"], p99Micros: follow["request_p99_us"], p999Micros: follow["request_p999_us"]
        ))

        let children = try peer.load("children", ["--children", "\(self.sizes.children)"])
        self.report.add(Measurement(
            key: "peer/grpc/children", scenario: "peer", system: "grpc-peer",
            label: "grpc-swift 2 peer: StreamChildren backlog of \(self.sizes.children)",
            value: children["seconds", default: 0] * 1000, unit: "ms", operations: Int(children["messages", default: 0]),
            notes: "\(Report.number(children["messages_per_sec", default: 0])) entries/s"
        ))

        let idle = try peer.idleMemory(connections: self.sizes.idleConnections, database: self.scratchDatabase("peer-idle"))
        self.report.add(Measurement(
            key: "peer/grpc/memory/idle-connections", scenario: "peer", system: "grpc-peer",
            label: "grpc-swift 2 peer RSS, \(self.sizes.idleConnections) idle connections", value: idle.held, unit: "MiB",
            notes: String(format: "idle %.1f MiB", idle.idle)
        ))
    }

    private func peerCalls(
        _ peer: GRPCPeer, _ kind: String, connections: Int, inFlight: Int, extra: [String] = [], seconds: String
    ) throws {
        let figures = try peer.load(kind, [
            "--connections", "\(connections)", "--in-flight", "\(inFlight)", "--seconds", seconds,
        ] + extra)
        var result = CallLoad.Result()
        result.ops = Int(figures["ops", default: 0])
        result.errors = Int(figures["errors", default: 0])
        result.seconds = figures["seconds", default: 0]
        self.report.add(Measurement(
            key: "peer/grpc/\(kind)/\(connections)c-\(inFlight)x", scenario: "peer", system: "grpc-peer",
            label: "grpc-swift 2 peer \(kind) \(connections) conn × \(inFlight) in flight",
            value: figures["ops_per_sec", default: 0], unit: "ops/s", operations: result.ops, errors: result.errors,
            p50Micros: figures["p50_us"], p99Micros: figures["p99_us"], p999Micros: figures["p999_us"]
        ))
        if result.errors > 0 { self.report.fail("peer \(kind): \(result.errors) calls failed") }
    }

    /// orchlog ÷ peer for the comparisons issue 5 sets targets on.
    func judgePeerTargets() {
        let r = self.report
        guard r.measurements.contains(where: { $0.system == "grpc-peer" }) else { return }
        func ratio(_ a: String, _ b: String) -> Double? {
            guard let x = r.value(a), let y = r.value(b), y > 0 else { return nil }
            return x / y
        }
        let c = self.sizes.ceilingConnections
        let top = self.sizes.appendConnections.last ?? 64
        r.check("≥ 5× peer: Health \(c) conns", ratio("rpc-ceiling/orchlog/health/\(c)c-1x", "peer/grpc/health/\(c)c-1x"),
                atLeast: 5, format: Report.ratio)
        r.check("≥ 5× peer: Health 1 conn × \(self.sizes.ceilingInFlight)",
                ratio("rpc-ceiling/orchlog/health/1c-\(self.sizes.ceilingInFlight)x", "peer/grpc/health/1c-\(self.sizes.ceilingInFlight)x"),
                atLeast: 5, format: Report.ratio)
        r.check("≥ 5× peer: GetLog \(c) conns", ratio("rpc-ceiling/orchlog/get/\(c)c-1x", "peer/grpc/get/\(c)c-1x"),
                atLeast: 5, format: Report.ratio)
        r.check("≥ 1× peer: AppendLog \(top) conns", ratio("append-durable/orchlog/\(top)c-1x/v7", "peer/grpc/append/\(top)c-1x"),
                atLeast: 1, format: Report.ratio)
        if let mine = r.measurement("follow/orchlog/delivery")?.p99Micros,
           let theirs = r.measurement("peer/grpc/follow/delivery")?.p99Micros
        {
            // Latency: the peer's p99 over orchlog's (a floor of 1 µs keeps a 0 from dividing).
            r.check("≥ 2× peer: follow p99 delivery (peer p99 ÷ orchlog p99)", theirs / max(mine, 1), atLeast: 2,
                    format: Report.ratio)
        }
        r.check("≥ 2× peer: children backlog (peer time ÷ orchlog time)", ratio("peer/grpc/children", "children/orchlog"),
                atLeast: 2, format: Report.ratio)
        if let mine = r.value("memory/orchlog/idle-connections"), let theirs = r.value("peer/grpc/memory/idle-connections") {
            r.check("memory at \(self.sizes.idleConnections) idle connections: orchlog ÷ peer RSS ≤ 1", mine / theirs,
                    atMost: 1, format: Report.ratio)
        }
    }
}

/// The peer's two executables: the server, and the grpc-swift load generator that prints one
/// JSON object per run (Benchmarks/GRPCPeer/README.md).
struct GRPCPeer {
    let server: String
    let loader: String

    init(binaries: String) {
        self.server = "\(binaries)/orchlog-grpc-peer"
        self.loader = "\(binaries)/orchlog-grpc-load"
    }

    var isBuilt: Bool {
        FileManager.default.isExecutableFile(atPath: self.server) && FileManager.default.isExecutableFile(atPath: self.loader)
    }

    /// A peer server on a fresh database, its port, and its process (stop it with `terminate`).
    func launch(database: String) throws -> (process: Process, port: UInt16) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.server)
        process.arguments = ["--db", database, "--port", "0", "--sync", "full"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            if let range = text.range(of: "listening on 127.0.0.1:"),
               let port = UInt16(text[range.upperBound...].prefix { $0.isNumber })
            {
                return (process, port)
            }
        }
        process.terminate()
        throw BenchError("orchlog-grpc-peer did not start: \(text)")
    }

    /// Runs one load subcommand against a fresh peer and returns its JSON numbers.
    func load(_ subcommand: String, _ arguments: [String]) throws -> [String: Double] {
        let directory = TemporaryDirectory()
        let (server, port) = try self.launch(database: directory.file("peer.db"))
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.loader)
        process.arguments = [subcommand, "--target", "127.0.0.1:\(port)"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw BenchError("orchlog-grpc-load \(subcommand) failed (\(process.terminationStatus)): \(String(decoding: data, as: UTF8.self))")
        }
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    /// The peer server's RSS idle, then while the load generator holds `connections` idle ones.
    func idleMemory(connections: Int, database: String) throws -> (idle: Double, held: Double) {
        let (server, port) = try self.launch(database: database)
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        Thread.sleep(forTimeInterval: 0.5)
        guard let idle = ProcessMemory.read(pid: server.processIdentifier) else { throw BenchError("cannot read the peer's RSS") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.loader)
        process.arguments = ["idle", "--target", "127.0.0.1:\(port)", "--connections", "\(connections)", "--seconds", "5"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.waitUntilExit() }
        var text = ""
        while !text.contains("\"ready\"") {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { throw BenchError("orchlog-grpc-load idle ended early: \(text)") }
            text += String(decoding: data, as: UTF8.self)
        }
        Thread.sleep(forTimeInterval: 0.5)
        guard let held = ProcessMemory.read(pid: server.processIdentifier) else { throw BenchError("cannot read the peer's RSS") }
        return (idle.rss, held.rss)
    }
}
