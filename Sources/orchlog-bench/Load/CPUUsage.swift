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
    /// The part of it spent in the kernel (system calls, the loopback TCP work a send does for
    /// its receiver, file writes and flushes).
    var serverKernelMicrosPerOp: Double?
    /// This process's CPU time per operation, in µs, and the part of it spent in the kernel.
    var loadMicrosPerOp: Double
    var loadKernelMicrosPerOp: Double
    /// Shares of the machine's CPU time, in percent: taken by the hypervisor, left idle.
    var stealPercent: Double
    var idlePercent: Double
}

extension CPUUsage {
    /// The usage per entry when each operation carried `entries` of them (shares are unchanged).
    func perEntry(_ entries: Int) -> CPUUsage {
        let n = Double(entries)
        var usage = self
        usage.serverMicrosPerOp = self.serverMicrosPerOp.map { $0 / n }
        usage.serverKernelMicrosPerOp = self.serverKernelMicrosPerOp.map { $0 / n }
        usage.loadMicrosPerOp = self.loadMicrosPerOp / n
        usage.loadKernelMicrosPerOp = self.loadKernelMicrosPerOp / n
        return usage
    }

    /// The mean of usages measured over intervals of the same number of operations.
    static func mean(_ usages: [CPUUsage]) -> CPUUsage? {
        guard !usages.isEmpty else { return nil }
        func mean(_ value: (CPUUsage) -> Double?) -> Double? {
            let values = usages.compactMap(value)
            return values.count == usages.count ? values.reduce(0, +) / Double(values.count) : nil
        }
        return CPUUsage(
            serverMicrosPerOp: mean(\.serverMicrosPerOp), serverKernelMicrosPerOp: mean(\.serverKernelMicrosPerOp),
            loadMicrosPerOp: mean(\.loadMicrosPerOp) ?? 0, loadKernelMicrosPerOp: mean(\.loadKernelMicrosPerOp) ?? 0,
            stealPercent: mean(\.stealPercent) ?? 0, idlePercent: mean(\.idlePercent) ?? 0
        )
    }
}

/// One reading of the counters `CPUUsage` is the difference of.
struct CPUSample {
    private var serverTicks: (user: UInt64, system: UInt64)?
    private var selfMicros: (user: UInt64, system: UInt64)
    private var machine: (idle: UInt64, steal: UInt64, total: UInt64)

    /// Reads /proc/PID/stat (the server), getrusage (this process) and /proc/stat (the machine).
    static func take(serverPID: Int32?) -> CPUSample {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func micros(_ time: timeval) -> UInt64 { UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_usec) }
        let selfMicros = (user: micros(usage.ru_utime), system: micros(usage.ru_stime))
        return CPUSample(
            serverTicks: serverPID.flatMap(Self.processTicks), selfMicros: selfMicros, machine: Self.machineTicks()
        )
    }

    /// The usage between `start` and `end` over `operations` operations.
    static func usage(from start: CPUSample, to end: CPUSample, operations: Int) -> CPUUsage? {
        guard operations > 0 else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let total = Double(end.machine.total &- start.machine.total)
        func perOp(_ micros: Double) -> Double { micros / Double(operations) }
        var server: (total: Double, kernel: Double)?
        if let before = start.serverTicks, let after = end.serverTicks {
            let user = Double(after.user &- before.user), system = Double(after.system &- before.system)
            server = (perOp((user + system) / ticksPerSecond * 1e6), perOp(system / ticksPerSecond * 1e6))
        }
        let loadUser = Double(end.selfMicros.user &- start.selfMicros.user)
        let loadSystem = Double(end.selfMicros.system &- start.selfMicros.system)
        return CPUUsage(
            serverMicrosPerOp: server?.total,
            serverKernelMicrosPerOp: server?.kernel,
            loadMicrosPerOp: perOp(loadUser + loadSystem),
            loadKernelMicrosPerOp: perOp(loadSystem),
            stealPercent: total > 0 ? 100 * Double(end.machine.steal &- start.machine.steal) / total : 0,
            idlePercent: total > 0 ? 100 * Double(end.machine.idle &- start.machine.idle) / total : 0
        )
    }

    /// utime and stime of a process, in clock ticks: fields 14 and 15 of /proc/PID/stat, counted
    /// after the command name (which may hold spaces, so the split starts at its closing ')').
    private static func processTicks(pid: Int32) -> (user: UInt64, system: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state).
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return (user, system)
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
