import Foundation
import OrchLogWire
import SwiftProtobuf

#if canImport(Glibc)
import Glibc
#endif

/// What a call ended with, as seen on the wire.
struct CallOutcome {
    var messages: [Data]
    var code: StatusCode
    var message: String

    func decode<M: SwiftProtobuf.Message>(_ type: M.Type = M.self) throws -> [M] {
        try self.messages.map { try M(serializedBytes: $0) }
    }
}

enum RawClientError: Error, Equatable {
    case closed
    case timeout
    case unexpected(String)
}

/// A deliberately simple blocking client that speaks the protocol frame by frame, independent of
/// the server's own Net layer: tests see exactly the bytes the server sends.
final class RawClient: @unchecked Sendable {
    let fd: Int32
    private var decoder = FrameDecoder(maxFrameBytes: 64 * 1024 * 1024)
    /// Frames read while waiting for something else.
    private var backlog: [Frame] = []
    private var nextCallID: UInt32 = 1

    init(port: UInt16, receiveTimeoutSeconds: Int = 10) throws {
        self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(self.fd)
            throw RawClientError.unexpected("connect failed: errno \(errno)")
        }
        self.setReceiveTimeout(milliseconds: receiveTimeoutSeconds * 1000)
        var one: Int32 = 1
        setsockopt(self.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(self.fd) }

    func setReceiveTimeout(milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    // MARK: - Sending

    func send(bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawClientError.closed }
            offset += n
        }
    }

    func send(_ frame: Frame) throws {
        try self.send(bytes: FrameEncoder.encode(frame))
    }

    @discardableResult
    func hello(version: UInt32 = 1) throws -> Orchlog_V1_HelloAck {
        try self.send(Frame.with { $0.callID = 0; $0.hello = .with { $0.protocolVersion = version; $0.clientName = "raw-test" } })
        let frame = try self.readFrame()
        guard case .helloAck(let ack) = frame.kind else { throw RawClientError.unexpected("expected hello_ack, got \(frame)") }
        return ack
    }

    /// Opens a call and returns its id.
    @discardableResult
    func start(
        _ method: String, _ request: some SwiftProtobuf.Message, id: UInt32? = nil,
        timeoutMillis: UInt32 = 0, credit: UInt32 = 0
    ) throws -> UInt32 {
        try self.start(method, bytes: try request.serializedBytes(), id: id, timeoutMillis: timeoutMillis, credit: credit)
    }

    @discardableResult
    func start(_ method: String, bytes: [UInt8], id: UInt32? = nil, timeoutMillis: UInt32 = 0, credit: UInt32 = 0) throws -> UInt32 {
        let callID = id ?? self.nextCallID
        self.nextCallID = max(self.nextCallID, callID) + 1
        try self.send(Frame.with {
            $0.callID = callID
            $0.start = .with {
                $0.method = method
                $0.request = Data(bytes)
                if timeoutMillis > 0 { $0.timeoutMs = timeoutMillis }
                if credit > 0 { $0.initialCredit = credit }
            }
        })
        return callID
    }

    func credit(_ callID: UInt32, _ n: UInt32) throws {
        try self.send(Frame.with { $0.callID = callID; $0.credit = .with { $0.n = n } })
    }

    func cancel(_ callID: UInt32) throws {
        try self.send(Frame.with { $0.callID = callID; $0.cancel = .init() })
    }

    // MARK: - Receiving

    /// The next frame from the socket (or the backlog).
    func readFrame() throws -> Frame {
        if !self.backlog.isEmpty { return self.backlog.removeFirst() }
        return try self.readFromSocket()
    }

    private func readFromSocket() throws -> Frame {
        while true {
            if let frame = try self.decoder.next() { return frame }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(self.fd, $0.baseAddress, $0.count) }
            if n == 0 { throw RawClientError.closed }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { throw RawClientError.timeout }
                if errno == EINTR { continue }
                throw RawClientError.closed
            }
            self.decoder.append(chunk[0..<n])
        }
    }

    /// Reads frames until call `callID` ends; frames of other calls are kept for later.
    func collect(_ callID: UInt32) throws -> CallOutcome {
        var outcome = CallOutcome(messages: [], code: .unknown, message: "")
        var skipped: [Frame] = []
        defer { self.backlog.insert(contentsOf: skipped, at: 0) }
        var pending = self.backlog
        self.backlog = []
        while true {
            let frame = pending.isEmpty ? try self.readFromSocket() : pending.removeFirst()
            guard frame.callID == callID else {
                skipped.append(frame)
                continue
            }
            switch frame.kind {
            case .message(let message):
                outcome.messages.append(message.payload)
            case .end(let end):
                outcome.code = end.code
                outcome.message = end.message
                self.backlog = pending
                return outcome
            default:
                skipped.append(frame)
            }
        }
    }

    /// The next `count` message payloads of `callID`, failing if the call ends first.
    func messages(_ callID: UInt32, count: Int) throws -> [Data] {
        var out: [Data] = []
        var skipped: [Frame] = []
        // Frames of other calls stay in the backlog, in order, ahead of those read after them.
        var pending = self.backlog
        self.backlog = []
        defer { self.backlog = skipped + pending + self.backlog }
        while out.count < count {
            let frame = pending.isEmpty ? try self.readFromSocket() : pending.removeFirst()
            guard frame.callID == callID else {
                skipped.append(frame)
                continue
            }
            switch frame.kind {
            case .message(let message): out.append(message.payload)
            case .end(let end): throw RawClientError.unexpected("call ended early: \(end.code.name) \(end.message)")
            default: throw RawClientError.unexpected("unexpected frame \(frame)")
            }
        }
        return out
    }

    /// One whole unary or finite streaming call.
    func call(_ method: String, _ request: some SwiftProtobuf.Message, timeoutMillis: UInt32 = 0) throws -> CallOutcome {
        let id = try self.start(method, request, timeoutMillis: timeoutMillis)
        return try self.collect(id)
    }

    /// Reads until the server's goaway and the close that follows; returns the goaway.
    func expectGoAwayAndClose() throws -> Orchlog_V1_GoAway {
        var goaway: Orchlog_V1_GoAway?
        while true {
            do {
                let frame = try self.readFrame()
                if case .goaway(let g) = frame.kind { goaway = g }
            } catch RawClientError.closed {
                guard let goaway else { throw RawClientError.unexpected("closed without goaway") }
                return goaway
            }
        }
    }

    /// Whether nothing arrives within `milliseconds` (the connection stays open and quiet).
    func isQuiet(forMilliseconds milliseconds: Int) throws -> Bool {
        guard self.backlog.isEmpty else { return false }
        self.setReceiveTimeout(milliseconds: milliseconds)
        defer { self.setReceiveTimeout(milliseconds: 10_000) }
        do {
            let frame = try self.readFromSocket()
            self.backlog.append(frame)
            return false
        } catch RawClientError.timeout {
            return true
        }
    }
}

// MARK: - Request helpers

typealias AppendLogRequest = Orchlog_V1_AppendLogRequest
typealias AppendLogResponse = Orchlog_V1_AppendLogResponse

func entry(
    id: String? = nil, category: String? = nil, parent: String? = nil, content: String? = "c",
    order: Int64? = nil, elaboration: String? = nil
) -> LogEntryMessage {
    LogEntryMessage.with {
        if let id { $0.orchestrationSessionLogID = id }
        if let category { $0.category = category }
        if let parent { $0.parentExecID = parent }
        if let content { $0.content = content }
        if let order { $0.siblingOrder = order }
        if let elaboration { $0.elaboration = elaboration }
    }
}

extension RawClient {
    /// Appends and returns the stored entry, failing on any non-OK status.
    func append(_ entry: LogEntryMessage) throws -> LogEntryMessage {
        let outcome = try self.call(MethodPath.appendLog, AppendLogRequest.with { $0.entry = entry })
        guard outcome.code == .ok, let response = try outcome.decode(AppendLogResponse.self).first else {
            throw RawClientError.unexpected("append failed: \(outcome.code.name) \(outcome.message)")
        }
        return response.entry
    }
}
