import Foundation

/// One figure of a run: a throughput, a time or a size, with its latency percentiles when the
/// figure is made of many operations.
struct Measurement: Codable {
    /// Unique in a run, e.g. `append-durable/orchlog/64c-1x/v7`; targets refer to figures by key.
    var key: String
    var scenario: String
    /// What produced it: orchlog, sqlite, redis, pingpong, cte, grpc-peer.
    var system: String
    var label: String
    var value: Double
    /// ops/s, ms, MiB …
    var unit: String
    var operations: Int?
    var errors: Int?
    var p50Micros: Double?
    var p99Micros: Double?
    var p999Micros: Double?
    /// For a load run or a timed read: CPU per operation (per entry for batches and reads) of
    /// each side, and the machine's steal and idle over the measured interval.
    var cpu: CPUUsage?
    var notes: String?
}

/// A performance target of issue 5, judged from this run's figures (never asserted in tests).
struct TargetCheck: Codable {
    var target: String
    var measured: String
    var met: Bool
}

/// Everything one run measured, printed as a table and written as JSON.
final class Report: @unchecked Sendable {
    var mode: String
    var startedAt = Date()
    var machine: [String: String] = [:]
    private(set) var measurements: [Measurement] = []
    private(set) var checks: [TargetCheck] = []
    /// Correctness failures (lost or repeated children, error statuses): these fail the run.
    private(set) var failures: [String] = []
    private(set) var skipped: [String] = []

    init(mode: String) { self.mode = mode }

    func add(_ measurement: Measurement) {
        self.measurements.append(measurement)
        print(Self.row(measurement))
        fflush(nil)  // each figure shows as it is measured, also when stdout is a file or pipe
    }

    /// Adds the figure of a load run; `perOperation` entries per timed operation (a batch, a
    /// transaction) turn its rate into entries per second.
    func add(
        _ key: String, system: String, label: String, result: CallLoad.Result, perOperation: Int = 1,
        notes: String? = nil
    ) {
        var latencies = result.latencies
        let (p50, p99, p999) = latencies.summary()
        self.add(Measurement(
            key: key, scenario: String(key.prefix { $0 != "/" }), system: system, label: label,
            value: result.opsPerSecond * Double(perOperation), unit: perOperation == 1 ? "ops/s" : "entries/s",
            operations: result.ops, errors: result.errors, p50Micros: p50, p99Micros: p99, p999Micros: p999,
            cpu: result.cpu?.perEntry(perOperation),
            notes: notes ?? result.firstError.map { "first error: \($0)" }
        ))
        if result.errors > 0 {
            self.fail("\(key): \(result.errors) calls failed, first: \(result.firstError ?? "?")")
        }
        if result.ops == 0 {
            self.fail("\(key): no call completed in the measured interval")
        }
    }

    func value(_ key: String) -> Double? { self.measurements.first { $0.key == key }?.value }
    func measurement(_ key: String) -> Measurement? { self.measurements.first { $0.key == key } }

    func fail(_ message: String) {
        self.failures.append(message)
        print("FAILED: \(message)")
    }

    func skip(_ message: String) {
        self.skipped.append(message)
        print("skipped: \(message)")
    }

    /// Records whether `measured` reaches `target`; a figure this run lacks is reported as not met.
    func check(_ target: String, _ measured: Double?, atLeast bound: Double, format: (Double) -> String = Report.number) {
        guard let measured else { return self.missing(target) }
        self.checks.append(TargetCheck(target: target, measured: format(measured), met: measured >= bound))
    }

    func check(_ target: String, _ measured: Double?, atMost bound: Double, format: (Double) -> String = Report.number) {
        guard let measured else { return self.missing(target) }
        self.checks.append(TargetCheck(target: target, measured: format(measured), met: measured <= bound))
    }

    private func missing(_ target: String) {
        self.checks.append(TargetCheck(target: target, measured: "not measured in this run", met: false))
    }

    func printSummary() {
        if !self.checks.isEmpty {
            print("\n== targets (issue 5; judged on this run, not asserted)")
            for check in self.checks {
                print("\(check.met ? "met    " : "NOT met") \(check.target): \(check.measured)")
            }
        }
        if !self.skipped.isEmpty {
            print("\n== skipped")
            self.skipped.forEach { print("- \($0)") }
        }
    }

    func write(to path: String) throws {
        struct Document: Encodable {
            var mode: String
            var startedAt: Date
            var machine: [String: String]
            var measurements: [Measurement]
            var targets: [TargetCheck]
            var failures: [String]
            var skipped: [String]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let document = Document(
            mode: self.mode, startedAt: self.startedAt, machine: self.machine, measurements: self.measurements,
            targets: self.checks, failures: self.failures, skipped: self.skipped
        )
        try encoder.encode(document).write(to: URL(fileURLWithPath: path))
    }

    static func number(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())).withThousands : String(format: "%.2f", value)
    }

    static func ratio(_ value: Double) -> String { String(format: "%.2f×", value) }

    private static func row(_ m: Measurement) -> String {
        let label = m.label.padding(toLength: 46, withPad: " ", startingAt: 0)
        var line = "  \(label) \(self.number(m.value).leftPadded(12)) \(m.unit)"
        for (name, value) in [("p50", m.p50Micros), ("p99", m.p99Micros), ("p99.9", m.p999Micros)] {
            if let value { line += "  \(name) \(self.micros(value))" }
        }
        if let cpu = m.cpu {
            line += "  cpu/op"
            if let server = cpu.serverMicrosPerOp {
                line += String(format: " server %.1f µs", server)
                if let kernel = cpu.serverKernelMicrosPerOp { line += String(format: " (kernel %.1f)", kernel) }
                line += " +"
            }
            line += String(format: " bench %.1f µs (kernel %.1f)", cpu.loadMicrosPerOp, cpu.loadKernelMicrosPerOp)
            line += String(format: ", idle %.0f%%, steal %.0f%%", cpu.idlePercent, cpu.stealPercent)
        }
        if let notes = m.notes { line += "  (\(notes))" }
        return line
    }

    private static func micros(_ value: Double) -> String {
        value >= 1000 ? String(format: "%.2f ms", value / 1000) : String(format: "%.0f µs", value)
    }
}

extension String {
    fileprivate var withThousands: String {
        var out = ""
        for (i, c) in self.reversed().enumerated() {
            if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    fileprivate func leftPadded(_ width: Int) -> String {
        self.count >= width ? self : String(repeating: " ", count: width - self.count) + self
    }
}
