import ArgumentParser

/// Closed-loop AppendLog: children of one root, ids generated client-side.
struct AppendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "append", abstract: "AppendLog calls in lockstep.")

    @OptionGroup var options: LockstepOptions

    @Option(help: "UUID version of the appended ids: v7 (time-ordered) or v4 (random).")
    var ids = IDKind.v7

    func run() async throws {
        raiseDescriptorLimit()
        let pool = try ClientPool(target: self.options.target, count: self.options.connections)
        try await pool.connectAll()
        let root = try await pool.clients[0].appendLog(Entries.root("append benchmark root"))
        let parent = root.entry.orchestrationSessionLogID
        let ids = self.ids
        progress("append: \(self.options.connections) connections x \(self.options.inFlight) in flight, \(self.options.seconds) s, ids \(ids.rawValue)")
        let result = await runLockstep(self.options, pool: pool) { client, _, iteration in
            _ = try await client.appendLog(Entries.child(of: parent, step: iteration, id: Entries.newID(ids)))
        }
        emitLockstep(scenario: "append", options: self.options, ids: ids, result: result)
        await pool.shutdown()
    }
}
