import Dispatch
import Logging
import OrchLogNet
import OrchLogStore
import OrchLogWire
import SwiftProtobuf

/// The protocol on one accepted connection: hello, calls multiplexed by id, credit, cancel,
/// deadlines, ping, idle and hello timeouts, drain. Connection-level violations cost only this
/// connection: a `goaway` naming the reason, then close.
///
/// Everything runs on `queue`, the queue of the underlying `Connection`.
// @unchecked: all mutable state is confined to `queue`; store completions hop back onto it.
final class ServerConnection: ConnectionHandler, @unchecked Sendable {
    private enum Phase {
        case awaitingHello
        case active
        /// `goaway` sent: running calls finish, new ones get UNAVAILABLE.
        case draining
        case closed
    }

    let queue: DispatchQueue
    /// The event loop of `queue`: work from other threads hops back through it.
    let loop: EventLoop
    let store: LogStore
    let configuration: ServerConfiguration
    private let connection: Connection
    private let logger: Logger
    private let onClose: @Sendable (ServerConnection) -> Void
    private var phase = Phase.awaitingHello
    private var calls: [UInt32: ServerCall] = [:]
    private lazy var deadlines = CallDeadlines(queue: self.queue) { [weak self] now in
        self?.endCalls(pastDeadlineAt: now)
    }
    private var lastCallID: UInt32 = 0
    private var lastActivity = DispatchTime.now()
    /// Bytes a `message` frame adds around its payload: call id, tags and length varints.
    static let messageFrameOverhead = 32

    init(
        connection: Connection, store: LogStore, configuration: ServerConfiguration, logger: Logger,
        onClose: @escaping @Sendable (ServerConnection) -> Void
    ) {
        self.connection = connection
        self.queue = connection.queue
        self.loop = connection.loop
        self.store = store
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "connection"] = "\(connection.id)"
        self.logger = logger
        self.onClose = onClose
    }

    var id: Int { self.connection.id }

    /// Starts reading; the peer has `helloTimeoutMillis` to say hello.
    func start() {
        self.connection.start(handler: self)
        self.queue.asyncAfter(deadline: .now() + .milliseconds(self.configuration.helloTimeoutMillis)) { [weak self] in
            guard let self else { return }
            if self.phase == .awaitingHello {
                self.goAway(RPCStatus(.deadlineExceeded, "no hello within \(self.configuration.helloTimeoutMillis) ms"))
            }
        }
    }

    /// Refuses the connection at once (too many connections).
    func refuse(_ status: RPCStatus) {
        self.connection.start(handler: self)
        self.goAway(status)
    }

    // MARK: - ConnectionHandler

    func connection(_ connection: Connection, didReceive payload: ArraySlice<UInt8>) throws(FrameDecodingError) {
        self.lastActivity = .now()
        switch try ClientFrame(payload: payload) {
        case .start(let callID, let start):
            self.receiveStart(start, callID: callID)
        case .other(let frame):
            self.receive(frame)
        }
    }

    private func receive(_ frame: Frame) {
        switch (self.phase, frame.kind) {
        case (.closed, _):
            return
        case (.awaitingHello, .hello(let hello)):
            self.receiveHello(hello, callID: frame.callID)
        case (.awaitingHello, _):
            self.refuseBeforeHello(kind: frame.kindName)
        case (.active, .hello), (.draining, .hello):
            self.goAway(.invalidArgument("protocol violation: hello sent twice"))
        case (_, .start(let start)):
            self.receiveStart(CallStartFields(start), callID: frame.callID)
        case (_, .credit(let credit)):
            if let call = self.calls[frame.callID] {
                call.grant(credit.n)
                call.stream?.pump()
            }
        case (_, .cancel):
            // A cancel for a call that already ended crossed its `end`: nothing to do.
            if let call = self.calls[frame.callID] {
                self.finish(call, RPCStatus(.cancelled, "cancelled by the client"))
            }
        case (_, .ping(let ping)):
            self.connection.send(.pong(ping.payload, maxFrameBytes: self.configuration.maxFrameBytes))
        case (_, .pong):
            return
        case (_, .helloAck), (_, .message), (_, .end), (_, .goaway):
            self.goAway(.invalidArgument("protocol violation: \(frame.kindName) is sent by servers only"))
        case (_, nil):
            self.goAway(.invalidArgument("protocol violation: unknown frame kind"))
        }
    }

    func connection(_ connection: Connection, didFailDecoding error: FrameDecodingError) {
        switch error {
        case .tooLarge:
            self.goAway(RPCStatus(.resourceExhausted, error.description))
        case .zeroLength, .malformed:
            self.goAway(.invalidArgument(error.description))
        }
    }

    func connection(_ connection: Connection, writabilityChanged isWritable: Bool) {
        guard isWritable else { return }
        for call in self.calls.values { call.stream?.pump() }
    }

    func connectionDidClose(_ connection: Connection, reason: String) {
        self.logger.debug("connection closed", metadata: ["reason": "\(reason)"])
        self.phase = .closed
        self.abandonCalls()
        self.deadlines.cancel()
        self.onClose(self)
    }

    // MARK: - Frames

    private func refuseBeforeHello(kind: String) {
        self.goAway(.invalidArgument("protocol violation: the first frame must be hello, got \(kind)"))
    }

    private func receiveHello(_ hello: Orchlog_V1_Hello, callID: UInt32) {
        guard callID == 0 else {
            self.goAway(.invalidArgument("protocol violation: hello must use call_id 0, got \(callID)"))
            return
        }
        guard hello.protocolVersion == ProtocolConstants.version else {
            self.goAway(.failedPrecondition(
                "unsupported protocol_version \(hello.protocolVersion); this server speaks \(ProtocolConstants.version)"
            ))
            return
        }
        if let expected = self.configuration.authToken,
           !constantTimeEquals(Array(hello.authToken.utf8), expected) {
            self.goAway(RPCStatus(.unauthenticated, hello.hasAuthToken ? "invalid auth token" : "auth token required"))
            return
        }
        self.phase = .active
        self.connection.send(.helloAck(self.configuration))
        self.scheduleIdleCheck(after: self.configuration.idleTimeoutMillis)
    }

    /// A `start`, however it was read (`ClientFrame`).
    private func receiveStart(_ start: CallStartFields, callID: UInt32) {
        switch self.phase {
        case .closed: return
        case .awaitingHello: return self.refuseBeforeHello(kind: "start")
        case .active, .draining: break
        }
        guard callID != 0 else {
            self.goAway(.invalidArgument("protocol violation: start needs a call_id other than 0"))
            return
        }
        guard self.calls[callID] == nil else {
            self.goAway(.invalidArgument("protocol violation: call_id \(callID) is already open"))
            return
        }
        guard self.phase == .active else {
            self.sendEnd(callID: callID, .unavailable("server is draining; retry on a new connection"))
            return
        }
        guard self.calls.count < self.configuration.maxConcurrentCalls else {
            self.sendEnd(callID: callID, RPCStatus(
                .resourceExhausted, "too many concurrent calls on this connection (limit \(self.configuration.maxConcurrentCalls))",
                details: [RPCStatus.retryableDetail: "true"]
            ))
            return
        }
        self.lastCallID = max(self.lastCallID, callID)
        let call = ServerCall(id: callID, method: start.method, initialCredit: start.initialCredit)
        self.calls[callID] = call
        if start.timeoutMs > 0 {
            let deadline = DispatchTime.now() + .milliseconds(Int(start.timeoutMs))
            call.deadline = (at: deadline, millis: start.timeoutMs)
            self.deadlines.add(deadline)
        }
        LogService.start(call, request: start.request, on: self)
    }

    // MARK: - Serving calls

    /// Whether a streaming call may send one more message now.
    func canSend(_ call: ServerCall) -> Bool {
        call.isOpen && self.connection.isWritable && call.hasCredit
    }

    /// Whether a stream holding `buffered` messages of `bytes` should read its next page now.
    /// While it sends, it reads ahead until a page is buffered, so the reader and this queue
    /// work at the same time. While it cannot send (no credit, output above the watermark) it
    /// reads only once its buffer is empty, to learn whether the stream has ended: a stream
    /// that cannot send holds at most the page it was sending and the one read ahead.
    func shouldReadAhead(_ call: ServerCall, buffered: Int, bytes: Int) -> Bool {
        buffered == 0
            || (self.canSend(call) && buffered <= self.configuration.streamPageSize
                && bytes < self.configuration.streamPageBytes)
    }

    /// Sends one response message of `call`, already encoded (unary responses are written by
    /// hand, streams encode entries on a reader's queue or once for every follower). A message
    /// that would not fit in a frame ends the call with RESOURCE_EXHAUSTED instead: the peer
    /// would have to drop the connection for it.
    /// - Parameter hint: what the error adds when the message does not fit (which row it is).
    func send(_ call: ServerCall, payload: [UInt8], hint: @autoclosure () -> String? = nil) {
        guard payload.count + Self.messageFrameOverhead <= self.configuration.maxFrameBytes else {
            self.finish(call, RPCStatus(
                .resourceExhausted,
                "response message of \(payload.count) bytes exceeds the frame limit of \(self.configuration.maxFrameBytes) bytes"
                    + (hint().map { ": \($0)" } ?? "")
            ))
            return
        }
        call.spendCredit()
        let id = call.id
        self.connection.send { FrameEncoder.encodeMessage(callID: id, payload: payload, into: &$0) }
    }

    /// Completes a unary call from another queue (a reader's completion): hops onto this one.
    func reply(_ call: ServerCall, _ result: Result<[UInt8], RPCStatus>) {
        self.handOverReply(call, result) { $0 }?.wake()
    }

    /// Hands the completion of a unary call to this connection's loop without waking it: the
    /// loop to wake once the caller has handed over the rest of its burst (an append's reply, in
    /// one turn with the other replies of the same commit on this loop), or nil. The loop encodes
    /// the response message (`encode`), not the caller: the writer hands over a whole commit's
    /// replies, and its thread is the one that limits how many appends a second the server takes.
    func handOverReply<Value: Sendable>(
        _ call: ServerCall, _ result: Result<Value, RPCStatus>, encode: @escaping @Sendable (Value) -> [UInt8]
    ) -> (any Wakeable)? {
        self.loop.handOver { self.respond(call, result.map(encode)) } ? self.loop : nil
    }

    /// Completes a unary call on this connection's queue: its one encoded message then OK, or
    /// the error status.
    func respond(_ call: ServerCall, _ result: Result<[UInt8], RPCStatus>) {
        guard call.isOpen else { return }
        switch result {
        case .success(let payload):
            self.send(call, payload: payload)
            self.finish(call, .ok)
        case .failure(let status):
            self.finish(call, status)
        }
    }

    /// Ends `call` with `status` (exactly one `end` per call).
    func finish(_ call: ServerCall, _ status: RPCStatus) {
        guard call.close() else { return }
        self.calls[call.id] = nil
        self.lastActivity = .now()
        self.sendEnd(callID: call.id, status)
        if self.phase == .draining && self.calls.isEmpty {
            self.closeDrained()
        }
    }

    /// Ends the calls whose deadline is `now` or earlier; the earliest deadline of the others.
    private func endCalls(pastDeadlineAt now: DispatchTime) -> DispatchTime? {
        let (expired, next) = CallDeadlines.due(self.calls.values, at: now) { $0.deadline?.at }
        for call in expired {
            self.finish(call, RPCStatus(.deadlineExceeded, "deadline of \(call.deadline?.millis ?? 0) ms exceeded"))
        }
        return next
    }

    private func sendEnd(callID: UInt32, _ status: RPCStatus) {
        self.connection.send { FrameEncoder.encodeEnd(callID: callID, status: status, into: &$0) }
    }

    // MARK: - Lifecycle

    /// Starts draining: `goaway`, follow streams end with UNAVAILABLE, other calls finish, then
    /// the connection closes.
    func beginDrain() {
        switch self.phase {
        case .awaitingHello:
            self.goAway(.unavailable("server is shutting down"))
        case .active:
            self.phase = .draining
            self.connection.send(.goAway(.unavailable("server is shutting down"), lastCallID: self.lastCallID))
            for call in self.calls.values where call.stream?.isFollowing == true {
                self.finish(call, .unavailable("server is shutting down; resume with after_seq on another connection"))
            }
            if self.calls.isEmpty { self.closeDrained() }
        case .draining, .closed:
            return
        }
    }

    /// Closes now, whatever is running (the drain grace period is over).
    func forceClose(reason: String) {
        guard self.phase != .closed else { return }
        self.connection.close(reason: reason)
    }

    private func closeDrained() {
        self.phase = .closed
        self.connection.sendAndClose(nil, reason: "drained")
    }

    /// A connection-level error or refusal: `goaway` with the reason, then close.
    private func goAway(_ status: RPCStatus) {
        guard self.phase != .closed else { return }
        self.logger.debug("goaway", metadata: ["status": "\(status)"])
        self.phase = .closed
        self.abandonCalls()
        self.connection.sendAndClose(.goAway(status, lastCallID: self.lastCallID), reason: status.message)
    }

    private func abandonCalls() {
        for call in self.calls.values { _ = call.close() }
        self.calls.removeAll()
    }

    private func scheduleIdleCheck(after millis: Int) {
        guard self.configuration.idleTimeoutMillis > 0 else { return }
        self.queue.asyncAfter(deadline: .now() + .milliseconds(millis)) { [weak self] in
            guard let self, self.phase == .active else { return }
            let idleFor = Int((DispatchTime.now().uptimeNanoseconds - self.lastActivity.uptimeNanoseconds) / 1_000_000)
            let limit = self.configuration.idleTimeoutMillis
            if self.calls.isEmpty && idleFor >= limit {
                self.goAway(RPCStatus(.ok, "idle for \(idleFor) ms (limit \(limit) ms)"))
            } else {
                self.scheduleIdleCheck(after: self.calls.isEmpty ? max(1, limit - idleFor) : limit)
            }
        }
    }
}
