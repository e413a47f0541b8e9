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
            The server is --server HOST:PORT, else $ORCHLOG_SERVER, else 127.0.0.1:7700; the auth token \
            file is --auth-token-file, else $ORCHLOG_AUTH_TOKEN_FILE. An empty variable counts as unset.
            Exit status: 0 success; 64 usage error (arguments, environment variables and @FILE or token \
            files must be valid UTF-8); 2 the server answered with an error status (its name and message \
            go to stderr); 3 the server could not be reached, or did not answer within --timeout.

            Without --json, control characters in entries and server messages are shown escaped: \
            \\t \\n \\r, else \\xHH (ESC is \\x1b, DEL \\x7f, C1 controls \\x80-\\x9f) or \\uHHHH (the \
            line and paragraph separators \\u2028 \\u2029 and the bidi controls \\u202a-\\u202e \
            \\u2066-\\u2069), so a line of children or tree is always one entry; --json gives the exact \
            text. The [category] of append, children and tree lines is coloured when stdout is a terminal \
            and NO_COLOR is unset or empty.
            """,
        version: "0.1.0",
        subcommands: [Append.self, Get.self, Children.self, Tree.self, Health.self]
    )

    /// ArgumentParser's `main()` with two changes: arguments that are not valid UTF-8 are refused
    /// (Swift would store them with U+FFFD in place of the bad bytes), and a `ValidationError`
    /// thrown while a subcommand runs shows that subcommand's usage, not the root's.
    static func main() async {
        let arguments: [String]
        do {
            arguments = try RawInput.arguments()
        } catch {
            // No usage: the subcommand is not known yet, and the usage would not help.
            self.exitWithUsageError(error, command: nil)
        }
        let command: any ParsableCommand
        do {
            command = try await self.asyncParseAsRoot(arguments)
        } catch {
            self.exit(withError: error)
        }
        do {
            var command = command
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError {
            self.exitWithUsageError(error, command: type(of: command))
        } catch {
            self.exit(withError: error)
        }
    }

    /// Writes `error` as ArgumentParser writes a usage error, with `command`'s usage if given,
    /// and exits with 64.
    static func exitWithUsageError(_ error: any Error, command: (any ParsableCommand.Type)?) -> Never {
        var text = "Error: \(error)\n"
        if let command, let name = command.configuration.commandName {
            text += "Usage: \(self.usageString(for: command))\n  See 'orchlog \(name) --help' for more information.\n"
        }
        FileHandle.standardError.write(Data(text.utf8))
        self.exit(withError: ExitCode.validationFailure)
    }
}

/// Options every subcommand takes.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: "Server address HOST:PORT (default: $ORCHLOG_SERVER or 127.0.0.1:7700).")
    var server: String?

    // Unconditional, so `--timeout -1` is refused by the range check, not taken for an option.
    @Option(
        name: .long, parsing: .unconditional,
        help: "Seconds before a call gives up, retries included (default: 10; at most 4294967, about 49 days). Not with children --follow."
    )
    var timeout: Double?

    /// `--timeout` when it is not given.
    static let defaultTimeout: Double = 10

    /// The largest `--timeout`: the protocol's `timeout_ms` is a uint32, so 2^32 − 1 ms.
    static let maxTimeout: Double = 4_294_967

    @Option(name: .long, help: "File holding the server's auth token (default: $ORCHLOG_AUTH_TOKEN_FILE, if set).")
    var authTokenFile: String?

    func validate() throws {
        _ = try self.address()
        // Also keeps the conversion to a Duration from trapping on inf, nan or huge values.
        if let timeout, !(timeout > 0 && timeout <= Self.maxTimeout) {
            throw ValidationError("--timeout must be more than 0 and at most \(Int(Self.maxTimeout)) seconds, got \(timeout)")
        }
    }

    /// `--timeout` as a Duration; valid once `validate()` has passed.
    var callTimeout: Duration {
        .seconds(self.timeout ?? Self.defaultTimeout)
    }

    /// The address text and where it came from (`--server` or `ORCHLOG_SERVER`), for messages.
    private func addressSetting() throws -> (text: String, source: String) {
        if let server = self.server { return (server, "--server") }
        if let server = try RawInput.environment("ORCHLOG_SERVER") { return (server, "ORCHLOG_SERVER") }
        return ("127.0.0.1:7700", "the default server")
    }

    /// Host and port from the flag, the environment, or the default.
    func address() throws -> (host: String, port: Int, source: String) {
        let (text, source) = try self.addressSetting()
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("\(source) must be HOST:PORT, got \"\(Format.escaped(text))\"")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port, source)
    }

    /// The auth token from `--auth-token-file`, else `$ORCHLOG_AUTH_TOKEN_FILE`, else nil.
    func authToken() throws -> String? {
        let path: String
        let source: String
        if let flag = self.authTokenFile {
            (path, source) = (flag, "--auth-token-file")
        } else if let variable = try RawInput.environment("ORCHLOG_AUTH_TOKEN_FILE") {
            (path, source) = (variable, "ORCHLOG_AUTH_TOKEN_FILE")
        } else {
            return nil
        }
        return try RawInput.readFile(path, for: source).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A client that fails fast when the server is down (a person is waiting).
    func client() throws -> OrchLogClient {
        let (host, port, source) = try self.address()
        var configuration = OrchLogClient.Configuration()
        configuration.clientName = "orchlog-cli"
        configuration.waitsForConnection = false
        configuration.retryPolicy = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(500))
        configuration.defaultTimeout = self.callTimeout
        configuration.authToken = try self.authToken()
        do {
            return try OrchLogClient(host: host, port: port, configuration: configuration)
        } catch {
            // The client refuses a host that is not numeric (or localhost); say which setting it came from.
            let message = (error as? OrchLogError)?.message ?? "\(error)"
            throw ValidationError("\(source): \(Format.escaped(message))")
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
