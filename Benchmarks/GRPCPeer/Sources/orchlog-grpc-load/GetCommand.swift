import ArgumentParser

/// Closed-loop GetLog of one entry appended first: a point read through a reader connection.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "GetLog calls in lockstep.")

    @OptionGroup var options: LockstepOptions

    func run() async throws {
        raiseDescriptorLimit()
        let pool = try ClientPool(target: self.options.target, count: self.options.connections)
        try await pool.connectAll()
        let entry = try await pool.clients[0].appendLog(Entries.root("get benchmark entry"))
        let id = entry.entry.orchestrationSessionLogID
        progress("get: \(self.options.connections) connections x \(self.options.inFlight) in flight, \(self.options.seconds) s")
        let result = await runLockstep(self.options, pool: pool) { client, _, _ in
            let found = try await client.getLog(id)
            guard found.orchestrationSessionLogID == id else { throw LoadError("GetLog returned \(found.orchestrationSessionLogID)") }
        }
        emitLockstep(scenario: "get", options: self.options, ids: nil, result: result)
        await pool.shutdown()
    }
}

struct LoadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
