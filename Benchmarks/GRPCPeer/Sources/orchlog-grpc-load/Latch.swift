import Synchronization

/// Counts arrivals down to zero; waiters resume when it gets there (or at their timeout).
final class Latch: Sendable {
    private struct State {
        var remaining: Int
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        /// Waits whose timeout fired before they were registered.
        var expired: Set<Int> = []
        var nextID = 0
    }

    private let state: Mutex<State>

    init(count: Int) { self.state = Mutex(State(remaining: count)) }

    func arrive() {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard state.remaining > 0 else { return [] }
            state.remaining -= 1
            guard state.remaining == 0 else { return [] }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    var remaining: Int { self.state.withLock { $0.remaining } }

    /// True once the count reached zero, false if `timeout` passed first.
    func wait(timeout: Duration) async -> Bool {
        let id = self.state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.resume(id, with: false)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let done = self.state.withLock { state -> Bool? in
                if state.remaining == 0 { return true }
                if state.expired.remove(id) != nil { return false }
                state.waiters[id] = continuation
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    private func resume(_ id: Int, with value: Bool) {
        let waiter = self.state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.expired.insert(id)
                return nil as CheckedContinuation<Bool, Never>?
            }
            return waiter
        }
        waiter?.resume(returning: value)
    }
}
