import Foundation
import OrchLogNet

#if canImport(Glibc)
import Glibc
#endif

/// The rpc-ceiling baseline: `redis-benchmark -t get` against a `redis-server` this bench starts
/// on loopback (no persistence), when Debian's redis-server package is installed.
struct RedisBaseline {
    let serverPath: String
    let benchmarkPath: String

    init?(directory: String) {
        self.serverPath = "\(directory)/redis-server"
        self.benchmarkPath = "\(directory)/redis-benchmark"
        guard FileManager.default.isExecutableFile(atPath: self.serverPath),
              FileManager.default.isExecutableFile(atPath: self.benchmarkPath)
        else { return nil }
    }

    struct Figure {
        var requestsPerSecond: Double
        var p50Micros: Double?
        var p99Micros: Double?
    }

    /// The report's key for a run with 50 clients; a single-thread run has no thread suffix,
    /// so it compares with reports from before redis-benchmark ran with more.
    static func key(pipeline: Int, threads: Int) -> String {
        "rpc-ceiling/redis/get/50c-\(pipeline)p" + (threads > 1 ? "-\(threads)t" : "")
    }

    /// Starts redis-server, runs `redis-benchmark -t get -c clients [-P pipeline] [--threads
    /// threads]`, stops it.
    func run(clients: Int, pipeline: Int, threads: Int, requests: Int) throws -> Figure {
        let port = try Self.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: self.serverPath)
        server.arguments = [
            "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        try Self.waitForListener(port: port)

        var arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-t", "get", "-c", "\(clients)", "-n", "\(requests)", "--csv"]
        if pipeline > 1 { arguments += ["-P", "\(pipeline)"] }
        if threads > 1 { arguments += ["--threads", "\(threads)"] }
        let output = try Self.capture(self.benchmarkPath, arguments)
        // CSV: a header ("test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",…) then "GET",…
        let rows = output.split(separator: "\n").map { $0.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" \r")) } }
        guard let row = rows.first(where: { $0.first == "GET" }), row.count >= 2, let rps = Double(row[1]) else {
            throw BenchError("could not read redis-benchmark output: \(output.prefix(300))")
        }
        let header = rows.first { $0.first == "test" } ?? []
        func column(_ name: String) -> Double? {
            guard let index = header.firstIndex(of: name), index < row.count, let ms = Double(row[index]) else { return nil }
            return ms * 1000
        }
        return Figure(requestsPerSecond: rps, p50Micros: column("p50_latency_ms"), p99Micros: column("p99_latency_ms"))
    }

    private static func capture(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// A port that was free a moment ago (the kernel picks it; redis-server then binds it).
    static func freePort() throws -> UInt16 {
        let (fd, port) = try Socket.listen(on: try SocketAddress(host: "127.0.0.1", port: 0), backlog: 1)
        close(fd)
        return port
    }

    /// Polls until something accepts on `port` (10 s at most).
    static func waitForListener(port: UInt16) throws {
        let address = try SocketAddress(host: "127.0.0.1", port: port)
        let deadline = MonotonicClock.now() + 10_000_000_000
        while MonotonicClock.now() < deadline {
            if let fd = try? Socket.connect(to: address, timeoutMillis: 200) {
                close(fd)
                return
            }
            usleep(20_000)
        }
        throw BenchError("nothing listens on 127.0.0.1:\(port) after 10 s")
    }
}
