import GRPCCore
import OrchLogStore
import OrchLogWire

// `LogStore` answers through completion handlers on its own queues (the writer's, a reader's);
// grpc-swift 2 handlers are async. One continuation per call bridges them, nothing is buffered.

extension LogStore {
    /// Appends validated entries; returns once their group commit has committed.
    func append(_ entries: [NewEntry]) async throws(RPCError) -> [AppendOutcome] {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<[AppendOutcome], RPCStatus>, Never>) in
            // The continuation wakes its task itself: nothing for the writer to wake afterwards.
            self.append(entries) { result in
                continuation.resume(returning: result)
                return nil
            }
        }
        return try result.mapError(\.rpcError).get()
    }

    /// Runs `body` on a reader connection.
    func read<T: Sendable>(_ body: @escaping @Sendable (StoreReader) throws(RPCStatus) -> T) async throws(RPCError) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, RPCStatus>, Never>) in
            self.read(body, completion: { continuation.resume(returning: $0) })
        }
        return try result.mapError(\.rpcError).get()
    }
}
