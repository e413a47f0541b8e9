import Foundation
import OrchLogTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The orchlogd being measured: one the bench starts on a fresh database for each scenario, or
/// the one the user names with `--server` (then memory and start-up cannot be measured).
final class ServerUnderTest {
    let port: UInt16
    let process: OrchlogdProcess?
    let databasePath: String?

    private init(port: UInt16, process: OrchlogdProcess?, databasePath: String?) {
        self.port = port
        self.process = process
        self.databasePath = databasePath
    }

    static func external(port: UInt16) -> ServerUnderTest {
        ServerUnderTest(port: port, process: nil, databasePath: nil)
    }

    static func launch(database: String, arguments: [String]) throws -> ServerUnderTest {
        let process = try OrchlogdProcess(db: database, arguments: arguments)
        return ServerUnderTest(port: process.port, process: process, databasePath: database)
    }

    /// The server's process id (nil for an external server).
    var pid: Int32? { self.process?.process.processIdentifier }

    /// Resident memory of the server now, and its peak, in MiB (nil for an external server).
    var memory: (rss: Double, peak: Double)? {
        self.pid.flatMap(ProcessMemory.read)
    }

    /// SIGTERM, then waits for the drain (SIGKILL after 15 s).
    func stop() {
        guard let process, process.process.isRunning else { return }
        process.signal(SIGTERM)
        if process.waitForExit(timeout: 15) == nil { process.signal(SIGKILL) }
    }

    deinit { self.stop() }
}

/// VmRSS and VmHWM of a process, from /proc.
enum ProcessMemory {
    static func read(pid: Int32) -> (rss: Double, peak: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kibibytes(_ field: String) -> Double? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return nil }
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Double($0) }
        }
        guard let rss = kibibytes("VmRSS:"), let peak = kibibytes("VmHWM:") else { return nil }
        return (rss / 1024, peak / 1024)
    }
}
