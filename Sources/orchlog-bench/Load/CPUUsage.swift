import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the machine's CPU went during a measured interval, per operation: the server's share,
/// the load generator's (this process), and what the hypervisor took (steal).
///
/// On a machine where the server and the load generator share the cores, a CPU-bound rate is
/// the cores divided by what one call costs both sides together; these figures say which side
/// costs what. Steal says whether a slow run was the host's doing rather than the code's.
struct CPUUsage: Codable {
    /// The server process's CPU time (all threads, user and kernel) per operation, in µs; nil
    /// when the bench did not start the server (`--server`).
    var serverMicrosPerOp: Double?
    /// This process's CPU time per operation, in µs.
    var loadMicrosPerOp: Double
    /// Shares of the machine's CPU time, in percent: taken by the hypervisor, left idle.
    var stealPercent: Double
    var idlePercent: Double
}

/// One reading of the counters `CPUUsage` is the difference of.
struct CPUSample {
    private var serverTicks: UInt64?
    private var selfMicros: UInt64
    private var machine: (idle: UInt64, steal: UInt64, total: UInt64)

    /// Reads /proc/PID/stat (the server), getrusage (this process) and /proc/stat (the machine).
    static func take(serverPID: Int32?) -> CPUSample {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let selfMicros = [usage.ru_utime, usage.ru_stime].reduce(UInt64(0)) {
            $0 + UInt64($1.tv_sec) * 1_000_000 + UInt64($1.tv_usec)
        }
        return CPUSample(
            serverTicks: serverPID.flatMap(Self.processTicks), selfMicros: selfMicros, machine: Self.machineTicks()
        )
    }

    /// The usage between `start` and `end` over `operations` operations.
    static func usage(from start: CPUSample, to end: CPUSample, operations: Int) -> CPUUsage? {
        guard operations > 0 else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let total = Double(end.machine.total &- start.machine.total)
        var server: Double?
        if let before = start.serverTicks, let after = end.serverTicks {
            server = Double(after &- before) / ticksPerSecond * 1e6 / Double(operations)
        }
        return CPUUsage(
            serverMicrosPerOp: server,
            loadMicrosPerOp: Double(end.selfMicros &- start.selfMicros) / Double(operations),
            stealPercent: total > 0 ? 100 * Double(end.machine.steal &- start.machine.steal) / total : 0,
            idlePercent: total > 0 ? 100 * Double(end.machine.idle &- start.machine.idle) / total : 0
        )
    }

    /// utime + stime of a process, in clock ticks: fields 14 and 15 of /proc/PID/stat, counted
    /// after the command name (which may hold spaces, so the split starts at its closing ')').
    private static func processTicks(pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state).
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user + system
    }

    /// The machine's idle (with iowait), steal and total ticks: the `cpu` line of /proc/stat
    /// (user nice system idle iowait irq softirq steal; guest time is already inside user).
    private static func machineTicks() -> (idle: UInt64, steal: UInt64, total: UInt64) {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return (0, 0, 0) }
        let values = line.split(separator: " ").dropFirst().prefix(8).compactMap { UInt64($0) }
        guard values.count == 8 else { return (0, 0, 0) }
        return (idle: values[3] + values[4], steal: values[7], total: values.reduce(0, +))
    }
}
