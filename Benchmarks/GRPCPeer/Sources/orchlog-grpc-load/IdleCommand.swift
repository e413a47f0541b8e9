import ArgumentParser

/// Holds N idle connections (each proven by one Health call) for S seconds, so the bench can
/// read the server's memory per connection meanwhile.
struct IdleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "idle", abstract: "Hold N idle connections.")

    @Option(help: "The peer, HOST:PORT.")
    var target: Target

    @Option(help: "Client connections to open and hold.")
    var connections = 100

    @Option(help: "Seconds to hold them after they are ready.")
    var seconds = 10.0

    func validate() throws {
        guard self.connections >= 1 else { throw ValidationError("--connections must be at least 1") }
        guard self.seconds >= 0 else { throw ValidationError("--seconds must be 0 or more") }
    }

    func run() async throws {
        raiseDescriptorLimit()
        let pool = try ClientPool(target: self.target, count: self.connections)
        try await pool.connectAll()
        // Both at once, the JSON flushed now: the bench samples the server while we hold.
        writeLine("ready", to: 2)
        emitJSON(["scenario": .string("idle"), "connections": .int(self.connections), "ready": .bool(true)])
        try await Task.sleep(for: .nanoseconds(Int64(self.seconds * 1e9)))
        // No graceful close: the bench only needs the process gone; the kernel closes the sockets.
        exitNow(0)
    }
}
