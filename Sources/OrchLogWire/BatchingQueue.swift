/// Items handed from any thread to one consumer that takes all of them at once: how the writer
/// gathers waiting appends into one commit, and an event loop the tasks handed to it into one turn
/// of its queue.
///
/// `add` says whether the consumer has to be started; `takeAll` hands over everything queued and,
/// when there is nothing, marks the consumer stopped, so the next `add` starts it again.
package final class BatchingQueue<Item: Sendable>: Sendable {
    private let state = Locked<(items: [Item], consuming: Bool)>(([], false))

    package init() {}

    /// Queues `item`; `true` when no consumer is running and the caller must start one.
    package func add(_ item: Item) -> Bool {
        self.state.withLock { state in
            state.items.append(item)
            defer { state.consuming = true }
            return !state.consuming
        }
    }

    /// Everything queued since the last call; empty means the consumer is now stopped.
    package func takeAll() -> [Item] {
        self.state.withLock { state in
            defer { state.items = [] }
            if state.items.isEmpty { state.consuming = false }
            return state.items
        }
    }
}
