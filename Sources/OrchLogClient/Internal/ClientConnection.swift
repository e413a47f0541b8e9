import Dispatch
import Foundation
import OrchLogNet
import OrchLogWire
import Synchronization

/// One connection to a server, shared by every call of a client: hello, call ids, credit,
/// cancel, pings, goaway. Built on the same `OrchLogNet.Connection` as the server.
// @unchecked: mutable state is confined to `queue`; `acceptsCalls` is atomic.
final class ClientConnection: ConnectionHandler, @unchecked Sendable {
    private enum State {
        case handshaking(CheckedContinuation<Void, any Error>)
        case ready
        case closed
    }

    let queue: DispatchQueue
    private let connection: Connection
    private var state: State?
    /// Every call not ended yet, those still waiting to be started included.
    private var calls: [UInt32: ClientCall] = [:]
    /// Calls the server has been sent a `start` for and that have not ended there.
    private var startedOnServer = 0
    /// `hello_ack.max_concurrent_calls`: more calls than this wait here, in order, instead of
    /// being refused by the server with RESOURCE_EXHAUSTED.
    private var maxConcurrentCalls = Int.max
    /// Ids of the calls waiting for room, oldest first, with their encoded `start`.
    private var waitingStarts: [(id: UInt32, frame: [UInt8])] = []
    private var waitingHead = 0
    /// nil once the last id, 2^32 − 1, has been used: ids are never reused on a connection
    /// (PROTOCOL.md section 4), so new calls then go to a new one.
    private var nextCallID: UInt32?
    private var maxFrameBytes = ProtocolConstants.defaultMaxFrameBytes
    private lazy var deadlines = CallDeadlines(queue: self.queue) { [weak self] now in
        self?.abandonCalls(pastDeadlineAt: now)
    }
    private let open = Atomic<Bool>(true)
    private let closed = Atomic<Bool>(false)
    /// Set by `close()`: the calls still running end as CANCELLED, not as a lost connection.
    private var closedByClient = false
    /// The server's goaway, which names why it then closes the connection.
    private var goAwayError: OrchLogError?

    /// The connection gets a loop of its own, so that one client's calls never wait behind
    /// another's.
    private init(fd: Int32, loop: EventLoop, firstCallID: UInt32) {
        self.queue = loop.queue
        self.nextCallID = firstCallID
        var options = ConnectionOptions()
        // Until hello_ack gives the server's bound.
        options.maxFrameBytes = ProtocolConstants.defaultMaxFrameBytes
        options.stopsReadingWhenUnwritable = false
        self.connection = Connection(fd: fd, loop: loop, options: options)
    }

    /// Whether new calls may start here: false after a goaway, once the call ids are used up,
    /// or once closed.
    var acceptsCalls: Bool { self.open.load(ordering: .relaxed) }

    /// The largest frame taken from the server: its `hello_ack.max_frame_bytes` once known.
    var inboundFrameLimit: Int { self.queue.sync { self.connection.maxFrameBytes } }

    /// Whether the connection has closed.
    var isClosed: Bool { self.closed.load(ordering: .relaxed) }

    /// Connects, says hello and waits for `hello_ack`, all within `timeout`.
    static func connect(
        to address: SocketAddress, timeout: Duration, clientName: String, authToken: String?,
        firstCallID: UInt32 = 1
    ) async throws(OrchLogError) -> ClientConnection {
        let millis = Int32(clamping: timeout.clampedMilliseconds)
        let loop: EventLoop
        do {
            loop = try EventLoop(label: "orchlog.client.connection")
        } catch {
            throw .unavailable("cannot connect to \(address): \(error)", cause: error)
        }
        let fd: Int32
        do {
            fd = try await withCheckedThrowingContinuation { continuation in
                loop.connect(to: address, timeoutMillis: Int(max(1, millis))) { continuation.resume(with: $0) }
            }
        } catch {
            throw .unavailable("cannot connect to \(address): \(error)", cause: error as? SocketError)
        }
        let client = ClientConnection(fd: fd, loop: loop, firstCallID: firstCallID)
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                client.queue.async {
                    client.state = .handshaking(continuation)
                    client.connection.start(handler: client)
                    client.connection.send(Frame.with {
                        $0.callID = 0
                        $0.hello = .with {
                            $0.protocolVersion = ProtocolConstants.version
                            $0.clientName = clientName
                            if let authToken { $0.authToken = authToken }
                        }
                    })
                    client.queue.asyncAfter(deadline: .now() + .milliseconds(Int(max(1, millis)))) {
                        client.failHandshake(.unavailable("no hello_ack from \(address) within \(millis) ms"))
                    }
                }
            }
        } catch let error as OrchLogError {
            throw error
        } catch {
            throw .unavailable("handshake with \(address) failed: \(error)")
        }
        return client
    }

    // MARK: - Calls

    /// Opens a call. `deadline` is sent as `timeout_ms` and also enforced locally, in case the
    /// server cannot answer.
    func start(
        method: String, request: [UInt8], deadline: ContinuousClock.Instant?, window: UInt32,
        metadata: [String: String]
    ) async -> ClientCall {
        await withCheckedContinuation { continuation in
            self.queue.async {
                continuation.resume(returning: self.startOnQueue(
                    method: method, request: request, deadline: deadline, window: window, metadata: metadata
                ))
            }
        }
    }

    private func startOnQueue(
        method: String, request: [UInt8], deadline: ContinuousClock.Instant?, window: UInt32,
        metadata: [String: String]
    ) -> ClientCall {
        guard case .ready = self.state, self.acceptsCalls, let id = self.nextCallID else {
            // Not sent, so safe to retry, on another connection.
            let call = ClientCall(id: 0, method: method, window: window)
            call.finish(.unavailable("connection is going away"))
            return call
        }
        let call = ClientCall(id: id, method: method, window: window)
        if id == UInt32.max {
            self.nextCallID = nil
            self.open.store(false, ordering: .relaxed)
        } else {
            self.nextCallID = id + 1
        }
        defer { self.closeIfUsedUp() }
        var timeoutMillis: UInt32 = 0
        if let deadline {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else {
                call.finish(.deadlineExceeded("deadline passed before the call started"))
                return call
            }
            timeoutMillis = remaining.clampedMilliseconds
        }
        let frame = Frame.with {
            $0.callID = id
            $0.start = .with {
                $0.method = method
                $0.request = Data(request)
                if timeoutMillis > 0 { $0.timeoutMs = timeoutMillis }
                if window > 0 { $0.initialCredit = window }
                $0.metadata = metadata
            }
        }
        let encoded = FrameEncoder.encode(frame)
        let size = encoded.count - ProtocolConstants.lengthPrefixBytes
        guard size <= self.maxFrameBytes else {
            call.finish(OrchLogError(
                code: .invalidArgument,
                message: "request of \(size) bytes exceeds the server's frame limit of \(self.maxFrameBytes) bytes"
            ))
            return call
        }
        self.calls[id] = call
        if timeoutMillis > 0 {
            // The server ends the call at its deadline; this one, a little later, is for a
            // server that cannot answer.
            let localDeadline = DispatchTime.now() + .milliseconds(Int(timeoutMillis) + 50)
            call.deadline = (at: localDeadline, millis: timeoutMillis)
            self.deadlines.add(localDeadline)
        }
        if self.startedOnServer < self.maxConcurrentCalls {
            self.send(start: encoded, of: call)
        } else {
            self.waitingStarts.append((id, encoded))
        }
        return call
    }

    private func send(start: [UInt8], of call: ClientCall) {
        call.isStarted = true
        self.startedOnServer += 1
        self.connection.send(encodedFrame: start)
    }

    /// `call` has ended on the server, or been cancelled there: a waiting call may start. A
    /// `start` sent after a `cancel` reaches the server after it, so the room is really there.
    private func callLeftServer(_ call: ClientCall) {
        guard call.isStarted else { return }
        self.startedOnServer -= 1
        while self.startedOnServer < self.maxConcurrentCalls && self.waitingHead < self.waitingStarts.count {
            let (id, frame) = self.waitingStarts[self.waitingHead]
            self.waitingHead += 1
            // Calls that ended while waiting (their deadline, a cancel) are skipped.
            if let waiting = self.calls[id] { self.send(start: frame, of: waiting) }
        }
        if self.waitingHead == self.waitingStarts.count {
            self.waitingStarts.removeAll(keepingCapacity: true)
            self.waitingHead = 0
        }
    }

    /// The next message or the end of `call`. Task cancellation cancels the call.
    func next(_ call: ClientCall) async -> CallEvent {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                self.queue.async {
                    let grant = call.next(continuation)
                    if grant > 0 { self.sendCredit(call, grant) }
                }
            }
        } onCancel: {
            self.cancel(call)
        }
    }

    /// Gives up on `call`: the server gets `cancel`, the consumer sees CANCELLED.
    func cancel(_ call: ClientCall) {
        self.queue.async { self.abandon(call, with: .cancelled) }
    }

    private func abandon(_ call: ClientCall, with error: OrchLogError) {
        guard self.calls[call.id] === call else { return }
        self.calls[call.id] = nil
        if call.isStarted {
            self.connection.send(Frame.with { $0.callID = call.id; $0.cancel = .init() })
            self.callLeftServer(call)
        }
        call.finish(error)
        self.closeIfUsedUp()
    }

    /// Abandons the calls whose local deadline is `now` or earlier; the earliest deadline of
    /// the others.
    private func abandonCalls(pastDeadlineAt now: DispatchTime) -> DispatchTime? {
        let (expired, next) = CallDeadlines.due(self.calls.values, at: now) { $0.deadline?.at }
        for call in expired {
            let millis = call.deadline?.millis ?? 0
            self.abandon(call, with: .deadlineExceeded("deadline of \(millis) ms exceeded (no answer from the server)"))
        }
        return next
    }

    private func sendCredit(_ call: ClientCall, _ n: UInt32) {
        guard self.calls[call.id] === call else { return }
        self.connection.send(Frame.with { $0.callID = call.id; $0.credit = .with { $0.n = n } })
    }

    /// A connection whose call ids are used up closes once its last call has ended.
    private func closeIfUsedUp() {
        guard self.nextCallID == nil, self.calls.isEmpty, case .ready = self.state else { return }
        self.connection.close(reason: "every call id has been used")
    }

    /// Closes the connection; open calls end with CANCELLED.
    func close() {
        self.queue.async {
            self.closedByClient = true
            self.connection.close(reason: "closed by the client")
        }
    }

    private func failHandshake(_ error: OrchLogError) {
        guard case .handshaking(let continuation) = self.state else { return }
        self.state = .closed
        self.open.store(false, ordering: .relaxed)
        continuation.resume(throwing: error)
        self.connection.close(reason: error.message)
    }

    // MARK: - ConnectionHandler

    func connection(_ connection: Connection, didReceive payload: ArraySlice<UInt8>) throws(FrameDecodingError) {
        self.receive(try Frame(framePayload: payload))
    }

    private func receive(_ frame: Frame) {
        switch frame.kind {
        case .helloAck(let ack):
            guard case .handshaking(let continuation) = self.state else { return }
            guard ack.protocolVersion == ProtocolConstants.version else {
                self.failHandshake(OrchLogError(
                    code: .failedPrecondition,
                    message: "the server speaks protocol version \(ack.protocolVersion), this client \(ProtocolConstants.version)"
                ))
                return
            }
            if ack.hasMaxFrameBytes {
                guard ProtocolConstants.maxFrameBytesRange.contains(Int(ack.maxFrameBytes)) else {
                    self.failHandshake(OrchLogError(
                        code: .internal,
                        message: "hello_ack.max_frame_bytes \(ack.maxFrameBytes) is outside \(ProtocolConstants.maxFrameBytesRange)"
                    ))
                    return
                }
                self.maxFrameBytes = Int(ack.maxFrameBytes)
                self.connection.maxFrameBytes = self.maxFrameBytes
            }
            if ack.hasMaxConcurrentCalls && ack.maxConcurrentCalls > 0 {
                self.maxConcurrentCalls = Int(ack.maxConcurrentCalls)
            }
            self.state = .ready
            continuation.resume()
        case .message(let message):
            if let call = self.calls[frame.callID] {
                let grant = call.receive(Array(message.payload))
                if grant > 0 { self.sendCredit(call, grant) }
            }
        case .end(let end):
            if let call = self.calls.removeValue(forKey: frame.callID) {
                var error: OrchLogError?
                if end.code != .ok {
                    error = OrchLogError(
                        code: StatusCode(rawValue: end.code.rawValue), message: end.message,
                        serverSaysRetryable: end.details[RPCStatus.retryableDetail] == "true"
                    )
                    error?.isFromServer = true
                }
                self.callLeftServer(call)
                call.finish(error)
                self.closeIfUsedUp()
            }
        case .ping(let ping):
            self.connection.send(Frame.with { $0.callID = 0; $0.pong = .with { $0.payload = ping.payload } })
        case .goaway(let goaway):
            self.receiveGoAway(goaway)
        case .pong, .hello, .start, .credit, .cancel, nil:
            return
        }
    }

    private func receiveGoAway(_ goaway: Orchlog_V1_GoAway) {
        self.open.store(false, ordering: .relaxed)
        var error = OrchLogError(code: StatusCode(rawValue: goaway.code.rawValue), message: "server sent goaway: \(goaway.message)")
        error.isFromServer = true
        self.goAwayError = error
        if case .handshaking = self.state {
            self.failHandshake(error)
            return
        }
        // Calls above last_call_id were never processed: they fail as UNAVAILABLE, safe to retry.
        for (id, call) in self.calls where id > goaway.lastCallID {
            self.calls[id] = nil
            call.finish(.unavailable("call not processed: \(error.message)"))
        }
    }

    func connection(_ connection: Connection, didFailDecoding error: FrameDecodingError) {
        connection.close(reason: "undecodable data from the server: \(error)")
    }

    func connection(_ connection: Connection, writabilityChanged isWritable: Bool) {}

    func connectionDidClose(_ connection: Connection, reason: String) {
        self.open.store(false, ordering: .relaxed)
        self.closed.store(true, ordering: .relaxed)
        if case .handshaking = self.state {
            self.failHandshake(.unavailable("connection closed during handshake: \(reason)"))
        }
        self.state = .closed
        self.deadlines.cancel()
        // Calls the server had accepted: their outcome is unknown, and the goaway, if one came,
        // says why (UNAVAILABLE for a drain, which a retry may get past).
        let error: OrchLogError = if self.closedByClient {
            OrchLogError(code: .cancelled, message: "the client was closed")
        } else if let goAwayError = self.goAwayError, goAwayError.code != .ok {
            goAwayError.withMessage("connection closed after a goaway: \(goAwayError.message)")
        } else {
            .unavailable("connection lost: \(reason)")
        }
        let calls = self.calls
        self.calls.removeAll()
        for call in calls.values {
            call.finish(error)
        }
    }
}
