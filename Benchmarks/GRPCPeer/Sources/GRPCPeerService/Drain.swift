import GRPCCore
import Synchronization

/// Shutdown for follow streams. grpc-swift's graceful shutdown waits for every open RPC to end,
/// and a follow stream never ends by itself; orchlogd ends them with UNAVAILABLE when it drains,
/// so the peer does the same: `begin()` wakes every follower, which then throws UNAVAILABLE.
package final class Drain: Sendable {
    private struct State {
        var draining = false
        var nextID = 0
        var followers: [Int: WakeUp] = [:]
    }

    private let state = Mutex(State())

    package init() {}

    package var isDraining: Bool { self.state.withLock { $0.draining } }

    /// Ends every open follow stream (UNAVAILABLE) and refuses new ones.
    package func begin() {
        let followers = self.state.withLock { state -> [WakeUp] in
            state.draining = true
            defer { state.followers = [:] }
            return Array(state.followers.values)
        }
        for follower in followers { follower.signal() }
    }

    /// Registers a follower to wake on drain; `nil` when already draining.
    func register(_ wakeUp: WakeUp) -> Int? {
        self.state.withLock { state -> Int? in
            guard !state.draining else { return nil }
            state.nextID += 1
            state.followers[state.nextID] = wakeUp
            return state.nextID
        }
    }

    func unregister(_ id: Int) {
        _ = self.state.withLock { $0.followers.removeValue(forKey: id) }
    }

    static let shuttingDown = RPCError(code: .unavailable, message: "server is shutting down")
}
