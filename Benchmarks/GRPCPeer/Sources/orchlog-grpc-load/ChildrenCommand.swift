import ArgumentParser
import OrchLogWire

/// Bulk read: C children appended with AppendLogs (batches of 1,000), then one StreamChildren
/// (no follow) timed from the call to its last message.
struct ChildrenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "children", abstract: "Throughput of one StreamChildren over C stored children."
    )

    @Option(help: "The peer, HOST:PORT.")
    var target: Target

    @Option(help: "Children to append and then stream.")
    var children = 10_000

    func validate() throws {
        guard self.children >= 1 else { throw ValidationError("--children must be at least 1") }
    }

    func run() async throws {
        let pool = try ClientPool(target: self.target, count: 1)
        let client = pool.clients[0]
        try await pool.connectAll()
        let parent = try await client.appendLog(Entries.root("children benchmark parent")).entry.orchestrationSessionLogID
        var appended = 0
        while appended < self.children {
            let batch = (appended..<min(appended + 1_000, self.children)).map {
                Entries.child(of: parent, step: $0, id: LogID.generateV7())
            }
            let response = try await client.appendLogs(batch)
            guard response.results.count == batch.count else {
                throw LoadError("AppendLogs answered \(response.results.count) results for \(batch.count) entries")
            }
            appended += batch.count
        }
        progress("children: appended \(appended), streaming")

        let clock = ContinuousClock()
        let start = clock.now
        let messages = try await client.streamChildren(.with { $0.parentExecID = parent }) { messages in
            var count = 0
            for try await _ in messages { count += 1 }
            return count
        }
        let seconds = (clock.now - start).seconds
        emitJSON([
            "scenario": .string("children"), "children": .int(self.children), "messages": .int(messages),
            "seconds": .double(seconds), "messages_per_sec": .double(Double(messages) / seconds),
        ])
        await pool.shutdown()
    }
}
