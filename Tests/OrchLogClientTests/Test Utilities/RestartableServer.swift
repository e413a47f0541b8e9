import Foundation
import Logging
import OrchLogClient
import OrchLogNet
import OrchLogServer
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire

/// An in-process orchlogd on a fixed 127.0.0.1 port and database file that can be stopped
/// (drained, as on SIGTERM) and started again, as in a server restart.
final class RestartableServer: Sendable {
    let directory = TemporaryDirectory()
    private let running = Locked<(server: OrchLogServer, port: UInt16)?>(nil)
    private let fixedPort = Locked<UInt16>(0)
    private let configure: @Sendable (inout ServerConfiguration) -> Void

    init(configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in }) throws {
        self.configure = configure
        try self.start()
    }

    var port: UInt16 { self.fixedPort.withLock { $0 } }
    var dbPath: String { self.directory.file("test.db") }

    /// The running server's store.
    var store: LogStore { self.running.withLock { $0!.server.store } }

    func start() throws {
        let store = try LogStore(path: self.dbPath, logger: Logger(label: "test"))
        var configuration = ServerConfiguration(listen: try SocketAddress(host: "127.0.0.1", port: self.port))
        configuration.drainGraceMillis = 1000
        self.configure(&configuration)
        let server = try OrchLogServer(configuration: configuration, store: store, logger: Logger(label: "test"))
        let port = try server.start().port
        self.fixedPort.withLock { $0 = port }
        self.running.withLock { $0 = (server, port) }
    }

    /// Drains and stops; the port is free until `start()`.
    func stop() {
        guard let server = self.running.withLock({ state -> OrchLogServer? in
            defer { state = nil }
            return state?.server
        }) else { return }
        let done = DispatchSemaphore(value: 0)
        server.shutdown { done.signal() }
        done.wait()
    }

    func restart(downFor seconds: TimeInterval) throws {
        self.stop()
        Thread.sleep(forTimeInterval: seconds)
        try self.start()
    }

    deinit { self.stop() }
}

extension OrchLogClient.Configuration {
    /// Short backoffs so that tests of retries and reconnects take milliseconds, not minutes.
    static func fastTest(attempts: Observed? = nil) -> OrchLogClient.Configuration {
        var configuration = OrchLogClient.Configuration()
        configuration.connectionBackoff = ConnectionBackoff(
            initial: .milliseconds(20), multiplier: 1.6, jitter: 0.2, max: .milliseconds(200), minConnectTimeout: .seconds(2)
        )
        configuration.retryPolicy = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))
        configuration.retryThrottle = RetryThrottle(maxTokens: 100, tokenRatio: 1)
        configuration.defaultTimeout = .seconds(20)
        if let attempts {
            configuration._attemptObserver = { method, number in attempts.record(method, number) }
        }
        return configuration
    }
}

/// Attempts seen by the client's test hook.
final class Observed: Sendable {
    private let attempts = Locked<[(String, Int)]>([])

    func record(_ method: String, _ number: Int) { self.attempts.withLock { $0.append((method, number)) } }

    /// For each call (an attempt numbered 1 starts one), how many attempts it made.
    var attemptsPerCall: [Int] {
        self.attempts.withLock { all in
            var counts: [Int] = []
            for (_, number) in all {
                if number == 1 { counts.append(1) } else if !counts.isEmpty { counts[counts.count - 1] = number }
            }
            return counts
        }
    }

    func reset() { self.attempts.withLock { $0 = [] } }
}
