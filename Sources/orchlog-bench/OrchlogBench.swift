import ArgumentParser
import Foundation

/// `orchlog-bench`: the performance figures of orchlog, each beside a baseline measured in the
/// same run (docs/PERFORMANCE.md).
@main
struct OrchlogBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchlog-bench",
        abstract: "Measures orchlogd against same-run baselines (SQLite, redis-server, a bare ping-pong, grpc-swift 2).",
        discussion: """
            Build with `swift build -c release`; debug figures mean nothing. By default the bench starts its own \
            orchlogd (found next to this executable, or $ORCHLOGD) on a fresh temporary database for each scenario. \
            Timings are reported, never asserted: the exit status is non-zero only when the server misbehaved \
            (failed calls, children lost or repeated, a tree or stream cut short).
            """
    )

    @Option(name: .customLong("scenario"), help: "Run only these scenarios (repeatable): \(Scenario.allNames).")
    var scenarios: [Scenario] = Scenario.allCases

    @Flag(help: "A run of a few seconds with tiny sizes, to check the bench and server work (the test command runs it).")
    var smoke = false

    @Option(help: "Write the report as JSON to this file.")
    var out: String?

    @Option(help: "Measure a running orchlogd at HOST:PORT instead of starting one (memory and startup are skipped).")
    var server: String?

    @Option(help: "orchlogd's --sync for the servers the bench starts, and the SQLite baselines' synchronous.")
    var sync: String = "full"

    @Option(help: """
        Load-generator threads for multi-connection scenarios (default: one per core). The redis \
        baseline runs redis-benchmark with one thread and with this many, and counts the faster.
        """)
    var clientThreads: Int = min(64, max(1, ProcessInfo.processInfo.activeProcessorCount))

    @Flag(help: "Also run the grpc-swift 2 peer (Benchmarks/GRPCPeer, built with swift build -c release) in the same run.")
    var peer = false

    @Option(help: "Where the peer's release binaries are.")
    var peerBin: String = "Benchmarks/GRPCPeer/.build/release"

    @Option(help: "redis-server and redis-benchmark to use as the rpc-ceiling baseline (skipped if absent).")
    var redisDir: String = "/usr/bin"

    mutating func validate() throws {
        guard ["full", "normal"].contains(self.sync) else { throw ValidationError("--sync must be full or normal") }
        guard (1...64).contains(self.clientThreads) else { throw ValidationError("--client-threads must be 1...64") }
        if let server {
            guard let port = server.split(separator: ":").last.flatMap({ UInt16($0) }), port > 0 else {
                throw ValidationError("--server must be HOST:PORT with a port number")
            }
        }
    }

    func run() throws {
        let report = Report(mode: self.smoke ? "smoke" : "full")
        report.machine = MachineInfo.describe()
        report.machine["clientThreads"] = "\(self.clientThreads)"
        let bench = Bench(
            sizes: self.smoke ? .smoke : .full, report: report, sync: self.sync, clientThreads: self.clientThreads,
            externalPort: self.server.flatMap { $0.split(separator: ":").last.flatMap { UInt16($0) } },
            redisDir: self.redisDir, peerBin: self.peer ? self.peerBin : nil
        )
        print("orchlog-bench (\(report.mode)) on \(report.machine["cpu"] ?? "?"), \(report.machine["cores"] ?? "?") cores, \(self.clientThreads) load threads")
        for scenario in Scenario.allCases where self.scenarios.contains(scenario) {
            print("\n== \(scenario.rawValue)")
            do {
                try bench.run(scenario)
            } catch {
                report.fail("\(scenario.rawValue): \(error)")
            }
        }
        if self.smoke {
            print("\n(smoke run: sizes are tiny and the figures mean nothing; targets are judged in a full run)")
        } else {
            bench.judgeTargets()
        }
        report.printSummary()
        if let out {
            try report.write(to: out)
            print("\nreport written to \(out)")
        }
        if !report.failures.isEmpty {
            print("\n\(report.failures.count) failure(s):")
            report.failures.forEach { print("- \($0)") }
            throw ExitCode(1)
        }
    }
}

/// The scenarios of issue 5, in the order they run.
enum Scenario: String, CaseIterable, ExpressibleByArgument {
    case appendDurable = "append-durable"
    case appendBatch = "append-batch"
    case rpcCeiling = "rpc-ceiling"
    case follow
    case tree
    case children
    case memory
    case startup
    /// Only with --peer: the grpc-swift 2 peer, compared with the figures above.
    case peer

    static var allNames: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// What the report says about the machine.
enum MachineInfo {
    static func describe() -> [String: String] {
        var info = ["cores": "\(ProcessInfo.processInfo.activeProcessorCount)"]
        if let cpu = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            .split(separator: "\n").first(where: { $0.hasPrefix("model name") })?
            .split(separator: ":", maxSplits: 1).last
        {
            info["cpu"] = cpu.trimmingCharacters(in: .whitespaces)
        }
        info["memoryGiB"] = String(format: "%.0f", Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824)
        info["os"] = ProcessInfo.processInfo.operatingSystemVersionString
        return info
    }
}
