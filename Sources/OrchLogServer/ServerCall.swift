import Dispatch
import OrchLogWire

/// One open call on a connection.
// @unchecked: confined to the connection's queue; store completions only carry it back there.
final class ServerCall: @unchecked Sendable {
    let id: UInt32
    let method: RPCMethod
    /// Messages the client still accepts on a streaming call; `nil` is unlimited.
    private(set) var credit: UInt64?
    private(set) var isOpen = true
    /// The producer of a streaming call's messages.
    var stream: (any ResponseStream)?
    /// When the call ends with DEADLINE_EXCEEDED if still open, and the timeout_ms it came from.
    var deadline: (at: DispatchTime, millis: UInt32)?

    init(id: UInt32, method: RPCMethod, initialCredit: UInt32) {
        self.id = id
        self.method = method
        self.credit = initialCredit == 0 ? nil : UInt64(initialCredit)
    }

    var hasCredit: Bool { self.credit.map { $0 > 0 } ?? true }

    func grant(_ n: UInt32) {
        // Saturates: a peer that grants more than 2^64 messages in total must not trap the server.
        if let credit {
            let (sum, overflow) = credit.addingReportingOverflow(UInt64(n))
            self.credit = overflow ? .max : sum
        }
    }

    func spendCredit() {
        if let credit { self.credit = credit - 1 }
    }

    /// Marks the call ended; returns false if it already was.
    func close() -> Bool {
        guard self.isOpen else { return false }
        self.isOpen = false
        self.stream?.stop()
        self.stream = nil
        return true
    }
}

/// Produces a streaming call's messages while the call has credit and the connection is
/// writable. `pump` is called whenever either may have changed.
protocol ResponseStream: AnyObject, Sendable {
    /// A follow stream never ends on its own; draining ends it with UNAVAILABLE.
    var isFollowing: Bool { get }
    func pump()
    /// The call ended: release subscriptions.
    func stop()
}
