import ArgumentParser
import Foundation
import OrchLogClient

/// `orchlog`: the command line for an orchlog server.
@main
struct Orchlog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchlog",
        abstract: "Append to and read the orchestration session log on an orchlog server.",
        discussion: """
            The server is --server HOST:PORT, else $ORCHLOG_SERVER, else 127.0.0.1:7700.
            Exit status: 0 success; 64 usage error; 2 the server answered with an error status \
            (its name and message go to stderr); 3 the server could not be reached, or did not answer \
            within --timeout.

            Without --json, control characters in entries and server messages are shown escaped: \
            \\t \\n \\r, else \\xHH (ESC is \\x1b, DEL \\x7f, C1 controls \\x80-\\x9f) or \\u2028 \\u2029; \
            --json gives the exact text.
            """,
        version: "0.1.0",
        subcommands: [Append.self, Get.self, Children.self, Tree.self, Health.self]
    )
}

/// Options every subcommand takes.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: "Server address HOST:PORT (default: $ORCHLOG_SERVER or 127.0.0.1:7700).")
    var server: String?

    @Option(name: .long, help: "Seconds before a call gives up, retries included (at most 4294967, about 49 days).")
    var timeout: Double = 10

    /// The largest `--timeout`: the protocol's `timeout_ms` is a uint32, so 2^32 − 1 ms.
    static let maxTimeout: Double = 4_294_967

    @Option(name: .long, help: "File holding the server's auth token (default: $ORCHLOG_AUTH_TOKEN_FILE, if set).")
    var authTokenFile: String?

    func validate() throws {
        _ = try self.address()
        // Also keeps the conversion to a Duration from trapping on inf, nan or huge values.
        guard self.timeout > 0 && self.timeout <= Self.maxTimeout else {
            throw ValidationError("--timeout must be more than 0 and at most \(Int(Self.maxTimeout)) seconds, got \(self.timeout)")
        }
    }

    /// `--timeout` as a Duration; valid once `validate()` has passed.
    var callTimeout: Duration {
        .seconds(self.timeout)
    }

    /// Host and port from the flag, the environment, or the default.
    func address() throws -> (host: String, port: Int) {
        let text = self.server ?? ProcessInfo.processInfo.environment["ORCHLOG_SERVER"] ?? "127.0.0.1:7700"
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("server address must be HOST:PORT, got \"\(Format.escaped(text))\"")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    /// A client that fails fast when the server is down (a person is waiting).
    func client() throws -> OrchLogClient {
        let (host, port) = try self.address()
        var configuration = OrchLogClient.Configuration()
        configuration.clientName = "orchlog-cli"
        configuration.waitsForConnection = false
        configuration.retryPolicy = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(500))
        configuration.defaultTimeout = self.callTimeout
        if let path = self.authTokenFile ?? ProcessInfo.processInfo.environment["ORCHLOG_AUTH_TOKEN_FILE"] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read the auth token file \(Format.escaped(path))")
            }
            configuration.authToken = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        do {
            return try OrchLogClient(host: host, port: port, configuration: configuration)
        } catch {
            throw ValidationError(Format.escaped("\(error)"))
        }
    }
}

/// Checks a count flag that the protocol carries as a uint32 (0: no bound), so a larger value
/// is refused rather than silently clamped.
func validateCount(_ value: Int, _ flag: String) throws {
    guard UInt32(exactly: value) != nil else {
        throw ValidationError("\(flag) must be 0 (no bound) to \(UInt32.max), got \(value)")
    }
}

/// Parses an entry id given on the command line.
func parseID(_ text: String, _ what: String) throws -> UUID {
    guard text.count == 36, let id = UUID(uuidString: text) else {
        throw ValidationError("\(what) \"\(Format.escaped(text))\" is not a UUID (8-4-4-4-12 hex digits)")
    }
    return id
}

/// Runs a client operation, turning its errors into the documented exit statuses.
func runClient(_ options: ServerOptions, _ body: (OrchLogClient) async throws -> Void) async throws {
    let client = try options.client()
    defer { Task { await client.close() } }
    do {
        try await body(client)
    } catch let error as OrchLogError {
        writeError("orchlog: \(error.code.name): \(Format.escaped(error.message))")
        // 3 only when the client itself concluded the server is out of reach; an UNAVAILABLE the
        // server sent (a read-only database, a full disk, a drain) is an answer.
        let unreachable = !error.isFromServer && (error.code == .unavailable || error.code == .deadlineExceeded)
        throw ExitCode(unreachable ? 3 : 2)
    }
}

func writeError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
