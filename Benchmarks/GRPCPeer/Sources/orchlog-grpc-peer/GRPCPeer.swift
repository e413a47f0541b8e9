import ArgumentParser
import Dispatch
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCPeerService
import Logging
import OrchLogStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `orchlog-grpc-peer`: orchlog's six RPCs on grpc-swift 2 (HTTP/2, plaintext, library
/// defaults) over orchlog's own `LogStore`: the "what a user would pick instead" side of
/// `orchlog-bench --peer`.
@main
struct GRPCPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchlog-grpc-peer",
        abstract: "Serve orchlog.v1.OrchestrationLog over gRPC (grpc-swift 2) from a SQLite database.",
        discussion: """
            Prints exactly one line, "listening on HOST:PORT", to standard output once it accepts \
            connections (logs go to standard error). SIGTERM or SIGINT: follow streams end with \
            UNAVAILABLE, other calls finish, the store is closed, exit 0. A second signal exits at once.
            """
    )

    @Option(help: "SQLite database file; created with the orchestration_session_log table if missing.")
    var db: String

    @Option(help: "IPv4 address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free port).")
    var port = 0

    @Option(help: "SQLite synchronous setting for the writer, as orchlogd's --sync (\(StoreOptions.Sync.allCases.map(\.rawValue).joined(separator: ", "))).")
    var sync = "full"

    @Option(help: "Reader connections to the database.")
    var readers = 2

    @Option(help: "Milliseconds running calls get to finish on shutdown.")
    var drainGraceMs = 5_000

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        // Parsed by name so that a sync mode added to StoreOptions later is accepted as is.
        guard StoreOptions.Sync(rawValue: self.sync) != nil else {
            throw ValidationError(
                "--sync \(self.sync) is not supported by this store (\(StoreOptions.Sync.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        guard Logger.Level(rawValue: self.logLevel) != nil else { throw ValidationError("--log-level: unknown level \(self.logLevel)") }
        guard (0...65535).contains(self.port) else { throw ValidationError("--port must be 0...65535") }
        guard (1...64).contains(self.readers) else { throw ValidationError("--readers must be 1...64") }
        guard self.drainGraceMs >= 0 else { throw ValidationError("--drain-grace-ms must be 0 or more") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "orchlog-grpc-peer")
        signal(SIGPIPE, SIG_IGN)
        raiseDescriptorLimit()

        var options = StoreOptions()
        options.sync = StoreOptions.Sync(rawValue: self.sync) ?? .full
        options.readerCount = self.readers
        let store: LogStore
        do {
            store = try LogStore(path: self.db, options: options, logger: logger)
        } catch {
            printError("orchlog-grpc-peer: \(error)")
            throw ExitCode(2)
        }

        let drain = Drain()
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: self.host, port: self.port),
                transportSecurity: .plaintext
            ),
            services: [OrchLogGRPCService(store: store, drain: drain)]
        )
        let serving = Task { try await server.serve() }
        // Before the address is printed: a SIGTERM from a bench that saw the line must drain.
        let signals = SignalHandling(logger: logger) {
            drain.begin()
            server.beginGracefulShutdown()
        } onGraceExpired: {
            serving.cancel()
        }
        signals.install(graceMillis: self.drainGraceMs)

        let address: GRPCNIOTransportHTTP2Posix.SocketAddress?
        do {
            address = try await server.listeningAddress
        } catch {
            printError("orchlog-grpc-peer: cannot listen on \(self.host):\(self.port): \(error)")
            store.close()
            throw ExitCode(3)
        }
        guard let ipv4 = address?.ipv4 else {
            printError("orchlog-grpc-peer: listening on an unexpected address \(String(describing: address))")
            throw ExitCode(3)
        }
        // The one line on stdout; the bench reads the port from it.
        writeLine("listening on \(ipv4.host):\(ipv4.port)", to: 1)
        logger.info("listening", metadata: [
            "address": "\(ipv4.host):\(ipv4.port)", "db": "\(self.db)", "entries": "\(store.entryCount)",
            "sync": "\(self.sync)",
        ])

        do {
            try await serving.value
        } catch where serving.isCancelled {
            logger.warning("drain grace expired: calls still open were abandoned")
        } catch {
            printError("orchlog-grpc-peer: \(error)")
            store.close()
            throw ExitCode(1)
        }
        store.close()
        logger.info("stopped")
    }
}

/// Raises the soft open-files limit to the hard one: each connection is a descriptor.
func raiseDescriptorLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// Writes one line to a descriptor at once (no stdio buffer to flush).
func writeLine(_ message: String, to fd: Int32) {
    let line = message + "\n"
    _ = line.withCString { write(fd, $0, strlen($0)) }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    writeLine(message, to: 2)
}
