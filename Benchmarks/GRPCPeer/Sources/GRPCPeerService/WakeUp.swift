import Synchronization

/// One waiter, many signallers, and a single pending permit: a signal that arrives while nobody
/// waits is kept, so the next `wait` returns at once. Signals coalesce (two signals, one permit).
///
/// Why: the change feed calls `onAvailable` from the writer's queue and must never block or
/// buffer there; the follow loop is async and must not miss a signal that lands between its
/// `take()` and its wait.
final class WakeUp: Sendable {
    private struct State {
        var permit = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.permit = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns once signalled (or at once if a signal is pending). Task cancellation also wakes
    /// it, so the caller must re-check why it woke.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = self.state.withLock { state -> Bool in
                    if state.permit {
                        state.permit = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.signal()
        }
    }
}
