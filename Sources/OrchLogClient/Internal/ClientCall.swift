import Dispatch

/// What a call delivers to its consumer, in order: messages, then one end.
enum CallEvent: Sendable {
    case message([UInt8])
    /// `nil`: ended OK.
    case end(OrchLogError?)
}

/// One call's inbox on a client connection: messages not yet consumed (at most the credit
/// window for streams, one for unary calls) and the end.
///
/// Confined to the connection's queue.
// @unchecked: only touched on the owning ClientConnection's queue.
final class ClientCall: @unchecked Sendable {
    let id: UInt32
    let method: String
    /// Messages granted at a time; 0 for unary calls (credit does not apply).
    let window: UInt32
    private var inbox: [[UInt8]] = []
    private var inboxHead = 0
    private(set) var end: CallEvent?
    private var waiter: CheckedContinuation<CallEvent, Never>?
    /// Whether its `start` has been sent (it may wait for the server's concurrency limit).
    var isStarted = false
    /// When the client gives up waiting for the server, and the timeout that was sent.
    var deadline: (at: DispatchTime, millis: UInt32)?
    /// Messages consumed since the last credit grant.
    private var consumedSinceGrant: UInt32 = 0

    init(id: UInt32, method: String, window: UInt32) {
        self.id = id
        self.method = method
        self.window = window
    }

    var isEnded: Bool { self.end != nil }

    /// Takes a message from the server. Returns how much credit to grant the server (0: none).
    func receive(_ payload: [UInt8]) -> UInt32 {
        guard self.end == nil else { return 0 }
        guard let waiter else {
            self.inbox.append(payload)
            return 0
        }
        self.waiter = nil
        waiter.resume(returning: .message(payload))
        return self.consumed()
    }

    func finish(_ error: OrchLogError?) {
        guard self.end == nil else { return }
        self.end = .end(error)
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: .end(error))
        }
    }

    /// Hands the next event to `continuation`, now or when it arrives. Returns how much credit
    /// to grant the server (0: none).
    func next(_ continuation: CheckedContinuation<CallEvent, Never>) -> UInt32 {
        if self.inboxHead < self.inbox.count {
            let payload = self.inbox[self.inboxHead]
            self.inboxHead += 1
            if self.inboxHead == self.inbox.count {
                self.inbox.removeAll(keepingCapacity: true)
                self.inboxHead = 0
            }
            continuation.resume(returning: .message(payload))
            return self.consumed()
        }
        if let end {
            continuation.resume(returning: end)
            return 0
        }
        precondition(self.waiter == nil, "one consumer per call")
        self.waiter = continuation
        return 0
    }

    /// Counts one consumed message; past half the window, the consumed ones are granted again.
    private func consumed() -> UInt32 {
        guard self.window > 0, self.end == nil else { return 0 }
        self.consumedSinceGrant += 1
        guard self.consumedSinceGrant >= max(1, self.window / 2) else { return 0 }
        defer { self.consumedSinceGrant = 0 }
        return self.consumedSinceGrant
    }
}
