#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import OrchLogWire

/// One non-blocking TCP socket on an `EventLoop`, which tells it when the socket is ready.
///
/// Inbound bytes go through a bounded `FrameDecoder`, which cuts them into frame payloads for the
/// handler to read (a client and a server read different frames). Outbound frames collect in an
/// `OutboundBuffer` and go out in one write per turn of the loop, or every 4 KiB while a read
/// event is still handing over pipelined calls. Above the high watermark the connection stops
/// reading from the peer and tells its handler to pause producers; it resumes below the low
/// watermark. Nothing grows without bound, whatever the peer does.
///
/// All methods must be called on `queue`.
// @unchecked: every mutable property is confined to `queue` (checked in debug builds).
package final class Connection: ReadinessHandler, @unchecked Sendable {
    private enum State {
        case idle
        case open
        /// Flushing its last frames, then closing; incoming bytes are read and dropped.
        case closing
        case closed
    }

    /// The loop the socket lives on.
    package let loop: EventLoop
    /// The loop's queue.
    package var queue: DispatchQueue { self.loop.queue }
    /// A process-unique number for logs.
    package let id: Int
    private let fd: Int32
    private var options: ConnectionOptions
    private var state = State.idle
    private var handler: (any ConnectionHandler)?
    private var decoder: FrameDecoder
    private var outbound: OutboundBuffer
    /// The loop's name for the socket while it is registered.
    private var token: UInt64?
    /// What the loop waits on the socket for now.
    private var interest: Interest = []
    private var readSuspended = false
    /// The socket's send buffer was full: the loop tells when it has room again.
    private var awaitingWritable = false
    private var flushScheduled = false
    private var inputFailed = false
    private var closeReason = ""

    private static let ids = Counter()
    /// Bytes read per system call; the read buffer lives on the stack for that call only.
    private static let readChunk = 64 * 1024
    /// Reads per event before yielding the queue to the other connections on it.
    private static let readsPerEvent = 16
    /// Output that a read event writes before it has handed over all its frames.
    private static let flushWhileReadingBytes = 4 * 1024

    /// Wraps a connected non-blocking socket; the connection owns and eventually closes `fd`.
    package init(fd: Int32, loop: EventLoop, options: ConnectionOptions) {
        self.fd = fd
        self.loop = loop
        self.options = options
        self.id = Self.ids.next()
        self.decoder = FrameDecoder(maxFrameBytes: options.maxFrameBytes)
        self.outbound = OutboundBuffer(highWatermark: options.highWatermark, lowWatermark: options.lowWatermark)
    }

    /// The largest frame payload accepted from the peer from the next frame on.
    package var maxFrameBytes: Int {
        get { self.options.maxFrameBytes }
        set {
            self.options.maxFrameBytes = newValue
            self.decoder.maxFrameBytes = newValue
        }
    }

    /// Whether producers may add more output (the outbound buffer is below its watermarks).
    package var isWritable: Bool { self.outbound.isWritable }

    /// Whether the connection still carries frames.
    package var isOpen: Bool { self.state == .open }

    /// Bytes queued for the peer but not yet written.
    package var pendingOutboundBytes: Int { self.outbound.pendingBytes }

    /// Starts reading and delivering events to `handler`. A socket the loop cannot watch (the
    /// kernel's limit on watched descriptors) closes at once, reported through `handler`.
    package func start(handler: any ConnectionHandler) {
        self.assertOnQueue()
        precondition(self.state == .idle, "Connection.start called twice")
        self.handler = handler
        self.state = .open
        do throws(SocketError) {
            self.token = try self.loop.register(self.fd, interest: .readable, handler: self)
            self.interest = .readable
        } catch {
            self.close(reason: "cannot watch the socket: \(error)")
        }
    }

    func socketReady(_ readiness: Readiness) {
        if readiness.readable || (readiness.failed && !self.readSuspended) {
            self.readEvent()
        }
        if readiness.writable || readiness.failed {
            self.flush()
        }
        // A failed socket that is paused and has nothing to write would be reported again and
        // again; nothing more can come of it.
        if readiness.failed && self.state != .closed && self.readSuspended && self.outbound.isEmpty {
            self.close(reason: "socket failed: \(SocketError("socket", errno: Socket.pendingError(self.fd)))")
        }
    }

    // MARK: - Output

    /// Queues one frame; frames queued in one queue turn go out in one write.
    package func send(_ frame: Frame) {
        self.enqueue { FrameEncoder.encode(frame, into: &$0) }
    }

    /// Queues a frame that `encode` appends to the outbound buffer itself (length prefix
    /// included): the hot frames skip building a `Frame` and copying its bytes.
    package func send(encodingWith encode: (inout [UInt8]) -> Void) {
        self.enqueue(encode)
    }

    /// Queues a frame already encoded with `FrameEncoder` (length prefix included).
    package func send(encodedFrame bytes: [UInt8]) {
        self.enqueue { $0.append(contentsOf: bytes) }
    }

    private func enqueue(_ write: (inout [UInt8]) -> Void) {
        self.assertOnQueue()
        guard self.state == .open else { return }
        let becameUnwritable = self.outbound.append(write)
        self.scheduleFlush()
        if becameUnwritable {
            if self.options.stopsReadingWhenUnwritable { self.suspendReading() }
            self.handler?.connection(self, writabilityChanged: false)
        }
    }

    /// Sends `frame` (typically a `goaway`), flushes, half-closes and closes; gives up flushing
    /// after `closeFlushTimeoutMillis`. Nothing more is delivered to the handler.
    package func sendAndClose(_ frame: Frame?, reason: String) {
        self.assertOnQueue()
        guard self.state == .open else { return }
        if let frame {
            _ = self.outbound.append { FrameEncoder.encode(frame, into: &$0) }
        }
        self.state = .closing
        self.closeReason = reason
        // Keep reading (and dropping) so that the peer's unread bytes do not turn our close into a
        // reset that could discard the goaway before the peer reads it.
        self.resumeReading()
        self.flush()
        self.queue.asyncAfter(deadline: .now() + .milliseconds(self.options.closeFlushTimeoutMillis)) {
            self.close(reason: reason)
        }
    }

    /// Closes at once, dropping unwritten output.
    package func close(reason: String) {
        self.assertOnQueue()
        switch self.state {
        case .closed:
            return
        case .idle:
            self.state = .closed
            Glibc.close(self.fd)
            return
        case .open, .closing:
            self.state = .closed
        }
        if let token = self.token {
            self.loop.deregister(self.fd, token: token)
            self.token = nil
        }
        Glibc.close(self.fd)
        // A closed connection may outlive its socket for a while (a timer that still holds its
        // handler): it keeps no buffers.
        self.decoder = FrameDecoder(maxFrameBytes: self.options.maxFrameBytes)
        self.outbound = OutboundBuffer(highWatermark: self.options.highWatermark, lowWatermark: self.options.lowWatermark)
        let handler = self.handler
        self.handler = nil
        handler?.connectionDidClose(self, reason: self.closeReason.isEmpty ? reason : self.closeReason)
    }

    private func scheduleFlush() {
        guard !self.flushScheduled, !self.awaitingWritable else { return }
        self.flushScheduled = true
        self.loop.flushAtEndOfTurn(self)
    }

    /// The flush that `scheduleFlush` promised.
    func flushScheduledOutput() {
        self.flushScheduled = false
        self.flush()
    }

    private func flush() {
        guard self.state == .open || self.state == .closing else { return }
        while !self.outbound.isEmpty {
            let written = self.outbound.withPendingBytes { bytes in
                Glibc.send(self.fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                if self.outbound.consume(written) && self.state == .open {
                    self.resumeReading()
                    self.handler?.connection(self, writabilityChanged: true)
                    guard self.state == .open else { return }
                }
                continue
            }
            let error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK {
                self.awaitingWritable = true
                self.updateInterest()
                return
            }
            self.close(reason: "write failed: \(SocketError("send", errno: error))")
            return
        }
        if self.awaitingWritable {
            self.awaitingWritable = false
            self.updateInterest()
        }
        if self.state == .closing {
            shutdown(self.fd, Int32(SHUT_WR))
        }
    }

    // MARK: - Input

    private func readEvent() {
        guard self.state == .open || self.state == .closing else { return }
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { chunk in
            for _ in 0..<Self.readsPerEvent {
                guard self.state == .open || self.state == .closing, !self.readSuspended else { return }
                let n = Glibc.read(self.fd, chunk.baseAddress, chunk.count)
                if n > 0 {
                    if self.state == .open && !self.inputFailed {
                        self.decoder.append(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
                        self.deliverFrames()
                    }
                    if n < chunk.count { return }
                } else if n == 0 {
                    self.close(reason: self.state == .closing ? "closed" : "peer closed the connection")
                    return
                } else {
                    let error = errno
                    if error == EINTR { continue }
                    if error == EAGAIN || error == EWOULDBLOCK { return }
                    self.close(reason: "read failed: \(SocketError("read", errno: error))")
                    return
                }
            }
        }
    }

    /// Hands buffered frames to the handler while the connection is open and not backpressured.
    private func deliverFrames() {
        while self.state == .open && !self.readSuspended && !self.inputFailed {
            do throws(FrameDecodingError) {
                guard let payload = try self.decoder.nextPayload() else { return }
                try self.handler?.connection(self, didReceive: payload)
                // Replies to a long run of pipelined calls go out in pieces, so that the peer
                // works on the first ones while this queue answers the rest.
                if self.outbound.pendingBytes >= Self.flushWhileReadingBytes && !self.awaitingWritable { self.flush() }
            } catch {
                self.inputFailed = true
                self.handler?.connection(self, didFailDecoding: error)
                return
            }
        }
    }

    private func suspendReading() {
        guard !self.readSuspended else { return }
        self.readSuspended = true
        self.updateInterest()
    }

    private func resumeReading() {
        guard self.readSuspended else { return }
        self.readSuspended = false
        self.updateInterest()
        // Frames that arrived before the pause are already buffered; deliver them now.
        if self.state == .open && self.decoder.bufferedBytes > 0 {
            self.queue.async { self.deliverFrames() }
        }
    }

    /// Tells the loop what to wait for: reading unless paused, room to write while output waits.
    private func updateInterest() {
        guard let token = self.token else { return }
        var wanted: Interest = []
        if !self.readSuspended { wanted.insert(.readable) }
        if self.awaitingWritable { wanted.insert(.writable) }
        guard wanted != self.interest else { return }
        do throws(SocketError) {
            try self.loop.setInterest(wanted, of: self.fd, token: token)
            self.interest = wanted
        } catch {
            self.close(reason: "cannot watch the socket: \(error)")
        }
    }

    @inline(__always)
    private func assertOnQueue() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(self.queue))
        #endif
    }
}
