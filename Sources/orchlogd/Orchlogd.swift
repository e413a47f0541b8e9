import ArgumentParser
import Dispatch
import Logging
import OrchLogNet
import OrchLogServer
import OrchLogStore
import OrchLogWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `orchlogd`: serves the orchestration session log from a SQLite file.
@main
struct Orchlogd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchlogd",
        abstract: "Serve the orchestration session log (orchlog protocol v1) from a SQLite database.",
        discussion: """
            Logs "listening on HOST:PORT" once it accepts connections. SIGTERM or SIGINT drains: \
            goaway to every client, running calls finish, follow streams end with UNAVAILABLE, \
            exit 0. A second signal exits at once.
            """,
        version: OrchLogVersion.current
    )

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free port).")
    var listen = "127.0.0.1:7700"

    @Option(help: "SQLite database file; created with the orchestration_session_log table if missing.")
    var db = "./orchlog.db"

    @Option(help: "full: fsync every commit (survives power loss); normal: fsync at checkpoints (survives a crash of orchlogd).")
    var sync: StoreOptions.Sync = .full

    @Option(help: "Largest frame payload accepted, in bytes.")
    var maxFrameBytes = 4 * 1024 * 1024

    @Option(help: "Largest entry content accepted, in UTF-8 bytes (default: max frame bytes - 64 KiB, and at least half of max frame bytes).")
    var maxContentBytes: Int?

    @Option(help: "Connections served at once; more are refused with RESOURCE_EXHAUSTED.")
    var maxConnections = 4096

    @Option(help: "Calls open at once per connection; more end with RESOURCE_EXHAUSTED.")
    var maxConcurrentCalls = 1024

    @Option(help: "Milliseconds a new connection has to send hello.")
    var helloTimeoutMs = 10_000

    @Option(help: "Milliseconds without calls or frames before a connection is closed (0: never).")
    var idleTimeoutMs = 300_000

    @Option(help: "Milliseconds running calls get to finish on shutdown.")
    var drainGraceMs = 5_000

    @Option(help: "Event loops that serve connections, each one serial queue (default: the number of cores).")
    var eventLoops: Int?

    @Option(help: "Reader connections to the database.")
    var readers = 2

    @Option(help: "File holding the token every client must send in hello (surrounding whitespace ignored).")
    var authTokenFile: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard ProtocolConstants.maxFrameBytesRange.contains(self.maxFrameBytes) else {
            throw ValidationError("--max-frame-bytes must be 65536...268435456")
        }
        if let maxContentBytes = self.maxContentBytes, !(1...self.maxFrameBytes).contains(maxContentBytes) {
            throw ValidationError("--max-content-bytes must be 1...max frame bytes")
        }
        guard (1...1_000_000).contains(self.maxConnections) else { throw ValidationError("--max-connections must be 1...1000000") }
        guard (1...1_000_000).contains(self.maxConcurrentCalls) else {
            throw ValidationError("--max-concurrent-calls must be 1...1000000")
        }
        guard self.helloTimeoutMs >= 1 else { throw ValidationError("--hello-timeout-ms must be positive") }
        guard self.idleTimeoutMs >= 0 else { throw ValidationError("--idle-timeout-ms must be 0 or more") }
        guard self.drainGraceMs >= 0 else { throw ValidationError("--drain-grace-ms must be 0 or more") }
        if let eventLoops = self.eventLoops, !(1...64).contains(eventLoops) {
            throw ValidationError("--event-loops must be 1...64")
        }
        guard !self.db.isEmpty else { throw ValidationError("--db must name a file") }
        guard (1...64).contains(self.readers) else { throw ValidationError("--readers must be 1...64") }
        do {
            _ = try SocketAddress(parsing: self.listen)
        } catch {
            throw ValidationError("--listen: \(error)")
        }
    }

    func run() throws {
        let level = self.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "orchlogd")
        signal(SIGPIPE, SIG_IGN)
        System.raiseDescriptorLimit()

        if !Database.disableMemoryStatistics() {
            logger.debug("SQLite was initialized before orchlogd configured it: its memory statistics stay on")
        }
        var configuration = ServerConfiguration(listen: try SocketAddress(parsing: self.listen))
        configuration.maxFrameBytes = self.maxFrameBytes
        configuration.maxConnections = self.maxConnections
        configuration.maxConcurrentCalls = self.maxConcurrentCalls
        configuration.helloTimeoutMillis = self.helloTimeoutMs
        configuration.idleTimeoutMillis = self.idleTimeoutMs
        configuration.drainGraceMillis = self.drainGraceMs
        configuration.eventLoops = self.eventLoops ?? min(System.coreCount, 64)
        if let path = self.authTokenFile {
            do {
                configuration.authToken = try AuthToken.read(from: path)
            } catch {
                printError("orchlogd: \(error)")
                throw ExitCode(2)
            }
        } else if !configuration.listen.isLoopback {
            logger.warning("listening on a non-loopback address without --auth-token-file: any host that reaches \(configuration.listen) can read and append")
        }

        var storeOptions = StoreOptions()
        storeOptions.sync = self.sync
        storeOptions.readerCount = self.readers
        storeOptions.maxContentBytes = self.maxContentBytes ?? Self.defaultMaxContentBytes(maxFrameBytes: self.maxFrameBytes)
        // A file this run creates is removed again if the server cannot start after all.
        let createsDatabase = access(self.db, F_OK) != 0
        let store: LogStore
        do {
            store = try LogStore(path: self.db, options: storeOptions, logger: logger)
        } catch {
            printError("orchlogd: \(error)")
            throw ExitCode(2)
        }
        func giveUp(_ message: String, status: Int32) -> ExitCode {
            printError("orchlogd: \(message)")
            if createsDatabase {
                store.close()
                for suffix in ["", "-wal", "-shm"] { unlink(self.db + suffix) }
            }
            return ExitCode(status)
        }
        let server: OrchLogServer
        do {
            server = try OrchLogServer(configuration: configuration, store: store, logger: logger)
        } catch {
            throw giveUp("\(error)", status: 2)
        }
        // Before listening: a SIGTERM that arrives during start-up must drain, not be lost.
        let signals = SignalHandling(server: server, logger: logger)
        signals.install()
        let address: SocketAddress
        do {
            address = try server.start()
        } catch {
            throw giveUp("cannot listen on \(self.listen): \(error)", status: 3)
        }
        logger.info("listening on \(address)", metadata: [
            "db": "\(self.db)", "entries": "\(store.entryCount)", "sync": "\(self.sync.rawValue)",
        ])

        dispatchMain()
    }
}

extension Orchlogd {
    /// A frame's worth of content with 64 KiB left for the other fields, and never less than
    /// half a frame (the smallest frame, 64 KiB, would otherwise leave no content at all).
    static func defaultMaxContentBytes(maxFrameBytes: Int) -> Int {
        max(maxFrameBytes - 64 * 1024, maxFrameBytes / 2)
    }
}

extension StoreOptions.Sync: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Writes one line to standard error.
func printError(_ message: String) {
    let line = message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
