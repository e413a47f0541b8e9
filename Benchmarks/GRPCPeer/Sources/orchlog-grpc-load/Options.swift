import ArgumentParser

/// Where the peer listens: `HOST:PORT` (IPv4 literal or a name).
struct Target: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        self.host = String(argument[..<colon])
        self.port = port
        if self.host.isEmpty { return nil }
    }

    var description: String { "\(self.host):\(self.port)" }
}

/// Options shared by the closed-loop scenarios (append, health, get).
struct LockstepOptions: ParsableArguments {
    @Option(help: "The peer, HOST:PORT.")
    var target: Target

    @Option(help: "Client connections (one GRPCClient, i.e. one HTTP/2 connection, each).")
    var connections = 1

    @Option(help: "Calls in flight per connection (tasks in lockstep: one call each at a time).")
    var inFlight = 1

    @Option(help: "How long to run, in seconds.")
    var seconds = 5.0

    func validate() throws {
        guard self.connections >= 1 else { throw ValidationError("--connections must be at least 1") }
        guard self.inFlight >= 1 else { throw ValidationError("--in-flight must be at least 1") }
        guard self.seconds > 0 else { throw ValidationError("--seconds must be positive") }
    }
}

/// Which UUID version the load generator gives the entries it appends.
enum IDKind: String, ExpressibleByArgument, Sendable {
    case v7, v4
}
