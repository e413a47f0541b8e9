#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import OrchLogWire

/// One non-blocking TCP socket driven by Dispatch read/write sources on one serial queue.
///
/// Inbound bytes go through a bounded `FrameDecoder`, which cuts them into frame payloads for the
/// handler to read (a client and a server read different frames). Outbound frames collect in an
/// `OutboundBuffer` and go out in one write per queue turn, or every 4 KiB while a read event is
/// still handing over pipelined calls. Above the high watermark the connection stops taking
/// frames from the peer and tells its handler to pause producers; it resumes below the low
/// watermark. Nothing grows without bound, whatever the peer does.
///
/// All methods must be called on `queue`.
// @unchecked: every mutable property is confined to `queue` (checked in debug builds).
package final class Connection: @unchecked Sendable {
    private enum State {
        case idle
        case open
        /// Flushing its last frames, then closing; incoming bytes are read and dropped.
        case closing
        case closed
    }

    package let queue: DispatchQueue
    /// A process-unique number for logs.
    package let id: Int
    private let fd: Int32
    private let options: ConnectionOptions
    private var state = State.idle
    private var handler: (any ConnectionHandler)?
    private var decoder: FrameDecoder
    private var outbound: OutboundBuffer
    private var readSource: (any DispatchSourceRead)?
    private var writeSource: (any DispatchSourceWrite)?
    private var readSuspended = false
    private var writeSourceActive = false
    private var flushScheduled = false
    /// True while a read event hands frames to the handler; what they send is flushed once at
    /// its end, in one write, instead of from a queue turn of its own.
    private var deliveringInput = false
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
    package init(fd: Int32, queue: DispatchQueue, options: ConnectionOptions) {
        self.fd = fd
        self.queue = queue
        self.options = options
        self.id = Self.ids.next()
        self.decoder = FrameDecoder(maxFrameBytes: options.maxFrameBytes)
        self.outbound = OutboundBuffer(highWatermark: options.highWatermark, lowWatermark: options.lowWatermark)
    }

    /// Whether producers may add more output (the outbound buffer is below its watermarks).
    package var isWritable: Bool { self.outbound.isWritable }

    /// Whether the connection still carries frames.
    package var isOpen: Bool { self.state == .open }

    /// Bytes queued for the peer but not yet written.
    package var pendingOutboundBytes: Int { self.outbound.pendingBytes }

    /// Starts reading and delivering events to `handler`.
    package func start(handler: any ConnectionHandler) {
        self.assertOnQueue()
        precondition(self.state == .idle, "Connection.start called twice")
        self.handler = handler
        self.state = .open

        let read = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
        let write = DispatchSource.makeWriteSource(fileDescriptor: self.fd, queue: self.queue)
        // The fd is closed only once both sources are cancelled: dispatch may still watch it until then.
        var remainingCancels = 2
        let fd = self.fd
        let onCancel = {
            remainingCancels -= 1
            if remainingCancels == 0 { Glibc.close(fd) }
        }
        read.setEventHandler { self.readEvent() }
        read.setCancelHandler(handler: onCancel)
        write.setEventHandler { self.flush() }
        write.setCancelHandler(handler: onCancel)
        self.readSource = read
        self.writeSource = write
        read.resume()
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
            self.suspendReading()
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
        if self.readSuspended { self.readSource?.resume() }
        if !self.writeSourceActive { self.writeSource?.resume() }
        self.readSource?.cancel()
        self.writeSource?.cancel()
        self.readSource = nil
        self.writeSource = nil
        let handler = self.handler
        self.handler = nil
        handler?.connectionDidClose(self, reason: self.closeReason.isEmpty ? reason : self.closeReason)
    }

    private func scheduleFlush() {
        guard !self.flushScheduled, !self.writeSourceActive, !self.deliveringInput else { return }
        self.flushScheduled = true
        self.queue.async {
            self.flushScheduled = false
            self.flush()
        }
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
                if !self.writeSourceActive {
                    self.writeSourceActive = true
                    self.writeSource?.resume()
                }
                return
            }
            self.close(reason: "write failed: \(SocketError("send", errno: error))")
            return
        }
        if self.writeSourceActive {
            self.writeSourceActive = false
            self.writeSource?.suspend()
        }
        if self.state == .closing {
            shutdown(self.fd, Int32(SHUT_WR))
        }
    }

    // MARK: - Input

    private func readEvent() {
        guard self.state == .open || self.state == .closing else { return }
        self.deliveringInput = true
        defer {
            self.deliveringInput = false
            if !self.outbound.isEmpty && !self.writeSourceActive && !self.flushScheduled { self.flush() }
        }
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
                if self.outbound.pendingBytes >= Self.flushWhileReadingBytes && !self.writeSourceActive { self.flush() }
            } catch {
                self.inputFailed = true
                self.handler?.connection(self, didFailDecoding: error)
                return
            }
        }
    }

    private func suspendReading() {
        guard !self.readSuspended, let source = self.readSource else { return }
        self.readSuspended = true
        source.suspend()
    }

    private func resumeReading() {
        guard self.readSuspended, let source = self.readSource else { return }
        self.readSuspended = false
        source.resume()
        // Frames that arrived before the pause are already buffered; deliver them now.
        if self.state == .open && self.decoder.bufferedBytes > 0 {
            self.queue.async { self.deliverFrames() }
        }
    }

    @inline(__always)
    private func assertOnQueue() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(self.queue))
        #endif
    }
}
