#if canImport(Glibc)
import Glibc
#endif
import OrchLogNet
import OrchLogWire

/// One client connection of the load generator: a non-blocking socket, its frame decoder and
/// the bytes not yet written. Owned by the one thread of its `LoadLoop`; never shared.
final class LoadConnection {
    let fd: Int32
    /// Position among the connections of a scenario, for the scenario's bookkeeping.
    let index: Int
    /// Received bytes not yet handed out as frames, from `inboundOffset` on.
    private var inbound: [UInt8] = []
    private var inboundOffset = 0
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var lastCallID: UInt32 = 0
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// Whether `outbound` holds bytes and the loop must flush this connection.
    private(set) var wantsFlush = false
    private(set) var isClosed = false

    /// Connects, says hello and waits for `hello_ack` (blocking, bounded by `timeoutMillis`).
    init(port: UInt16, index: Int, authToken: String? = nil, timeoutMillis: Int32 = 10_000) throws {
        let address = try SocketAddress(host: "127.0.0.1", port: port)
        self.fd = try Socket.connect(to: address, timeoutMillis: timeoutMillis)
        self.index = index
        self.send(Frame.with {
            $0.callID = 0
            $0.hello = .with {
                $0.protocolVersion = ProtocolConstants.version
                $0.clientName = "orchlog-bench"
                if let authToken { $0.authToken = authToken }
            }
        })
        let deadline = MonotonicClock.now() + UInt64(timeoutMillis) * 1_000_000
        var answer: Frame?
        while answer == nil {
            guard try self.flush() else { throw BenchError("connection \(index): closed during hello") }
            var pfd = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
            let remaining = Int64(deadline) - Int64(MonotonicClock.now())
            guard remaining > 0, poll(&pfd, 1, Int32(remaining / 1_000_000) + 1) > 0 else {
                throw BenchError("connection \(index): no hello_ack within \(timeoutMillis) ms")
            }
            guard try self.receive({ frame in answer = try frame.decode() }) else {
                throw BenchError("connection \(index): closed during hello")
            }
        }
        guard case .helloAck = answer?.kind else {
            throw BenchError("connection \(index): expected hello_ack, got \(String(describing: answer))")
        }
    }

    deinit { self.close() }

    func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        Glibc.close(self.fd)
    }

    /// A call id not used before on this connection.
    func nextCallID() -> UInt32 {
        self.lastCallID += 1
        return self.lastCallID
    }

    /// Queues `frame`; it goes out at the next `flush`.
    func send(_ frame: Frame) {
        FrameEncoder.encode(frame, into: &self.outbound)
        self.wantsFlush = true
    }

    /// Queues a `start` frame of a new call and returns its id.
    func start(_ method: String, request: [UInt8], initialCredit: UInt32 = 0) -> UInt32 {
        let callID = self.nextCallID()
        FrameEncoder.encodeStart(
            callID: callID, method: method, request: request, initialCredit: initialCredit, into: &self.outbound
        )
        self.wantsFlush = true
        return callID
    }

    /// Writes what the socket takes now. Returns false once the peer has gone.
    func flush() throws -> Bool {
        while self.outboundOffset < self.outbound.count {
            let written = self.outbound.withUnsafeBytes { raw in
                Glibc.write(self.fd, raw.baseAddress! + self.outboundOffset, raw.count - self.outboundOffset)
            }
            if written > 0 {
                self.outboundOffset += written
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return true
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        self.outbound.removeAll(keepingCapacity: true)
        self.outboundOffset = 0
        self.wantsFlush = false
        return true
    }

    /// Reads what is available and hands each whole frame to `body`. Returns false at end of file.
    func receive(_ body: (RawFrame) throws -> Void) throws -> Bool {
        while true {
            let count = self.readBuffer.withUnsafeMutableBytes { Glibc.read(self.fd, $0.baseAddress!, $0.count) }
            if count > 0 {
                self.inbound.append(contentsOf: self.readBuffer[0..<count])
                try self.deliverFrames(body)
                if count < self.readBuffer.count { return true }
            } else if count == 0 {
                return false
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return true
            } else if errno != EINTR {
                throw BenchError("connection \(self.index): read failed: errno \(errno)")
            }
        }
    }

    private func deliverFrames(_ body: (RawFrame) throws -> Void) throws {
        try self.inbound.withUnsafeBytes { bytes in
            while bytes.count - self.inboundOffset >= 4 {
                let at = self.inboundOffset
                let length = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
                guard length > 0 && length <= ProtocolConstants.defaultMaxFrameBytes else {
                    throw BenchError("connection \(self.index): the server sent a frame of \(length) bytes")
                }
                guard bytes.count - at - 4 >= length else { break }
                self.inboundOffset = at + 4 + length
                try body(RawFrame(UnsafeRawBufferPointer(rebasing: bytes[(at + 4)..<(at + 4 + length)])))
            }
        }
        if self.inboundOffset == self.inbound.count {
            self.inbound.removeAll(keepingCapacity: true)
            self.inboundOffset = 0
        } else if self.inboundOffset > 1 << 16 {
            self.inbound.removeSubrange(0..<self.inboundOffset)
            self.inboundOffset = 0
        }
    }
}

/// A failure of the bench itself or of the system under test; ends the run with a message.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
