import ArgumentParser

/// Closed-loop Health: the cost of the RPC stack alone (no database work).
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "health", abstract: "Health calls in lockstep.")

    @OptionGroup var options: LockstepOptions

    func run() async throws {
        raiseDescriptorLimit()
        let pool = try ClientPool(target: self.options.target, count: self.options.connections)
        try await pool.connectAll()
        progress("health: \(self.options.connections) connections x \(self.options.inFlight) in flight, \(self.options.seconds) s")
        let result = await runLockstep(self.options, pool: pool) { client, _, _ in
            _ = try await client.health()
        }
        emitLockstep(scenario: "health", options: self.options, ids: nil, result: result)
        await pool.shutdown()
    }
}
