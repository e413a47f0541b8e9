import OrchLogWire

/// Items handed from any thread to one consumer that takes all of them at once: how the writer
/// gathers waiting appends into one commit, and the `WALSyncer` committed groups into one flush.
///
/// `add` says whether the consumer has to be started; `takeAll` hands over everything queued and,
/// when there is nothing, marks the consumer stopped, so the next `add` starts it again.
final class BatchingQueue<Item: Sendable>: Sendable {
    private let state = Locked<(items: [Item], consuming: Bool)>(([], false))

    /// Queues `item`; `true` when no consumer is running and the caller must start one.
    func add(_ item: Item) -> Bool {
        self.state.withLock { state in
            state.items.append(item)
            defer { state.consuming = true }
            return !state.consuming
        }
    }

    /// Everything queued since the last call; empty means the consumer is now stopped.
    func takeAll() -> [Item] {
        self.state.withLock { state in
            defer { state.items = [] }
            if state.items.isEmpty { state.consuming = false }
            return state.items
        }
    }
}
