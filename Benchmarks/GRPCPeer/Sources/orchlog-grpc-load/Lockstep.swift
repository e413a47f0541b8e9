import Synchronization

/// What a closed-loop run measured.
struct LockstepResult {
    var latencies = Latencies()
    var errors = 0
    var elapsed = Duration.zero

    var ops: Int { self.latencies.count }
}

/// Runs `options.inFlight` tasks on each client, each calling `operation` in lockstep (the next
/// call starts when the previous one answered) until `options.seconds` have passed. Only
/// successful calls count as ops and latencies; failures are counted (the first is printed).
func runLockstep(
    _ options: LockstepOptions, pool: ClientPool,
    operation: @escaping @Sendable (_ client: PeerClient, _ worker: Int, _ iteration: Int) async throws -> Void
) async -> LockstepResult {
    let clock = ContinuousClock()
    let firstError = FirstError()
    let start = clock.now
    let deadline = start + .nanoseconds(Int64(options.seconds * 1e9))
    var result = LockstepResult()
    await withTaskGroup(of: LockstepResult.self) { group in
        for (index, client) in pool.clients.enumerated() {
            for slot in 0..<options.inFlight {
                let worker = index * options.inFlight + slot
                group.addTask {
                    var local = LockstepResult()
                    var iteration = 0
                    while clock.now < deadline {
                        let begin = clock.now
                        do {
                            try await operation(client, worker, iteration)
                            local.latencies.record(clock.now - begin)
                        } catch {
                            local.errors += 1
                            firstError.note(error)
                        }
                        iteration += 1
                    }
                    return local
                }
            }
        }
        for await partial in group {
            result.latencies.merge(partial.latencies)
            result.errors += partial.errors
        }
    }
    // Until the last call in flight at the deadline answered.
    result.elapsed = clock.now - start
    if let error = firstError.message { progress("first error: \(error)") }
    return result
}

/// The JSON of a closed-loop scenario: the same keys for append, health and get.
func emitLockstep(scenario: String, options: LockstepOptions, ids: IDKind?, result: LockstepResult) {
    let summary = result.latencies.summary()
    let seconds = result.elapsed.seconds
    if let ids {
        emitJSON([
            "scenario": .string(scenario), "connections": .int(options.connections), "in_flight": .int(options.inFlight),
            "ids": .string(ids.rawValue), "ops": .int(result.ops), "errors": .int(result.errors),
            "seconds": .double(seconds), "ops_per_sec": .double(Double(result.ops) / seconds),
            "p50_us": .double(summary.micros(0.50)), "p99_us": .double(summary.micros(0.99)),
            "p999_us": .double(summary.micros(0.999)),
        ])
    } else {
        emitJSON([
            "scenario": .string(scenario), "connections": .int(options.connections), "in_flight": .int(options.inFlight),
            "ops": .int(result.ops), "errors": .int(result.errors),
            "seconds": .double(seconds), "ops_per_sec": .double(Double(result.ops) / seconds),
            "p50_us": .double(summary.micros(0.50)), "p99_us": .double(summary.micros(0.99)),
            "p999_us": .double(summary.micros(0.999)),
        ])
    }
}

/// The first failure of a run, kept to print once.
final class FirstError: Sendable {
    private let state = Mutex<String?>(nil)

    func note(_ error: any Error) {
        self.state.withLock { if $0 == nil { $0 = "\(error)" } }
    }

    var message: String? { self.state.withLock { $0 } }
}
