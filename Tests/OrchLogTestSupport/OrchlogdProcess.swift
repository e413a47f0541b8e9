import Foundation
import OrchLogWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The `orchlogd` executable run as a child process, for what only a real process shows:
/// signals, exit codes, `kill -9`.
// @unchecked: `port` is written once in init; Process and the text buffer are thread-safe.
public final class OrchlogdProcess: @unchecked Sendable {
    public let process = Process()
    private let stderrText = TextBuffer()
    public private(set) var port: UInt16 = 0
    /// Monotonic nanoseconds just before the process was launched.
    public private(set) var launchedAt: UInt64 = 0

    /// The built `orchlogd` (or `$ORCHLOGD`).
    static var executable: URL { builtProduct("orchlogd", environment: "ORCHLOGD") }

    /// Starts `orchlogd --listen 127.0.0.1:PORT --db PATH ARGS` and, unless told otherwise,
    /// waits for its `listening on` line.
    /// - Parameter asNobody: when the tests run as root, run it as `nobody` (through `setpriv`),
    ///   so that file modes apply to it: root writes read-only files. The database's folder must
    ///   be open to nobody; a copy of orchlogd is put there.
    public init(
        db: String, port: UInt16 = 0, arguments: [String] = [], waitForListening: Bool = true, asNobody: Bool = false
    ) throws {
        let orchlogdArguments = ["--listen", "127.0.0.1:\(port)", "--db", db] + arguments
        if asNobody && geteuid() == 0 {
            // A copy next to the database: the build folder may sit where nobody cannot reach.
            let copy = URL(fileURLWithPath: db).deletingLastPathComponent().appendingPathComponent("orchlogd-as-nobody")
            if !FileManager.default.fileExists(atPath: copy.path) {
                try FileManager.default.copyItem(at: Self.executable, to: copy)
                chmod(copy.path, 0o755)
            }
            self.process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            self.process.arguments = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", copy.path]
                + orchlogdArguments
        } else {
            self.process.executableURL = Self.executable
            self.process.arguments = orchlogdArguments
        }
        let pipe = Pipe()
        self.process.standardError = pipe
        self.process.standardOutput = FileHandle.nullDevice
        let buffer = self.stderrText
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                buffer.closed.store(true, ordering: .releasing)
                return
            }
            let listening = buffer.text.withLock { text in
                text += String(decoding: data, as: UTF8.self)
                return text.contains("listening on")
            }
            if listening { buffer.markListening() }
        }
        self.launchedAt = DispatchTime.now().uptimeNanoseconds
        try self.process.run()
        if waitForListening {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                if let port = self.listeningPort() {
                    self.port = port
                    return
                }
                guard self.process.isRunning else { break }
                Thread.sleep(forTimeInterval: 0.02)
            }
            self.process.terminate()
            throw StartError(description: "orchlogd did not start: \(self.stderr)")
        }
    }

    /// Nanoseconds from launch until its `listening on` line was read (start-up time).
    public var startupNanoseconds: UInt64? {
        let at = self.stderrText.listeningAt.load(ordering: .acquiring)
        return at == 0 ? nil : at - self.launchedAt
    }

    /// What it wrote to standard error so far.
    public var stderr: String { self.stderrText.text.withLock { $0 } }

    private func listeningPort() -> UInt16? {
        let text = self.stderr
        guard let range = text.range(of: "listening on 127.0.0.1:") else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        return UInt16(digits)
    }

    public func signal(_ signo: Int32) {
        kill(self.process.processIdentifier, signo)
    }

    /// Waits for the process to exit; returns its status, or nil on timeout.
    public func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while self.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return self.process.isRunning ? nil : self.process.terminationStatus
    }

    /// Waits until standard error contains `text` (it may still be in the pipe after the
    /// process exited), or it reached end of file, or `timeout` passed.
    public func stderrContains(_ text: String, within timeout: TimeInterval = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if self.stderr.contains(text) { return true }
            if self.stderrText.closed.load(ordering: .acquiring) { return self.stderr.contains(text) }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return self.stderr.contains(text)
    }

    deinit {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
    }
}

/// orchlogd exited or never logged `listening on`.
public struct StartError: Error, CustomStringConvertible {
    public let description: String
}

/// Text collected from another thread.
final class TextBuffer: Sendable {
    let text = Locked("")
    let closed = Atomic<Bool>(false)
    /// Monotonic nanoseconds when `listening on` first arrived; 0 before.
    let listeningAt = Atomic<UInt64>(0)

    func markListening() {
        _ = self.listeningAt.compareExchange(
            expected: 0, desired: DispatchTime.now().uptimeNanoseconds, ordering: .acquiringAndReleasing
        )
    }
}
