import SwiftProtobuf

/// Why a byte stream cannot go on: every case costs the connection (a `goaway`, then close).
package enum FrameDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The length prefix is zero; the protocol has no empty frames.
    case zeroLength
    /// The length prefix exceeds the negotiated maximum; detected before the body is buffered.
    case tooLarge(length: Int, limit: Int)
    /// The payload is not a valid `Frame` message.
    case malformed(String)

    package var description: String {
        switch self {
        case .zeroLength: "frame length 0 is not allowed"
        case .tooLarge(let length, let limit): "frame length \(length) exceeds the limit of \(limit) bytes"
        case .malformed(let why): "frame payload is not a valid orchlog.v1.Frame: \(why)"
        }
    }
}

/// A sans-IO decoder of length-prefixed frames: append bytes as they arrive, pull whole frames.
///
/// Memory is bounded by one partial frame: a declared length over `maxFrameBytes` is rejected as
/// soon as its 4 prefix bytes are in, before any of the body is buffered. Consumed bytes are
/// compacted away once they are more than half of the buffer.
package struct FrameDecoder {
    /// May be changed between frames (a client learns its server's bound from `hello_ack`).
    package var maxFrameBytes: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0

    package init(maxFrameBytes: Int = ProtocolConstants.defaultMaxFrameBytes) {
        precondition(maxFrameBytes > 0, "maxFrameBytes must be positive")
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes received but not yet returned as frames.
    package var bufferedBytes: Int { self.buffer.count - self.readIndex }

    /// Appends bytes read from the peer.
    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        self.compactIfWorthIt()
        self.buffer.append(contentsOf: bytes)
    }

    /// Appends bytes read from the peer.
    package mutating func append(_ bytes: some Sequence<UInt8>) {
        self.compactIfWorthIt()
        self.buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, or `nil` when more bytes are needed.
    ///
    /// - Throws: `FrameDecodingError`; the stream is unusable afterwards.
    package mutating func next() throws(FrameDecodingError) -> Frame? {
        guard let payload = try self.nextPayload() else { return nil }
        return try Frame(framePayload: payload)
    }

    /// The payload of the next whole frame (its length prefix removed), or `nil` when more bytes
    /// are needed. The slice shares the decoder's buffer; drop it before appending again, or the
    /// next append copies the buffer.
    ///
    /// - Throws: `FrameDecodingError.zeroLength` or `.tooLarge`; the stream is unusable afterwards.
    package mutating func nextPayload() throws(FrameDecodingError) -> ArraySlice<UInt8>? {
        // Compacting here, never after taking a slice, means it never copies a buffer a payload
        // still shares.
        self.compactIfWorthIt()
        let available = self.buffer.count - self.readIndex
        guard available >= ProtocolConstants.lengthPrefixBytes else { return nil }
        let length = self.peekLength()
        guard length > 0 else { throw .zeroLength }
        guard length <= self.maxFrameBytes else { throw .tooLarge(length: length, limit: self.maxFrameBytes) }
        guard available >= ProtocolConstants.lengthPrefixBytes + length else { return nil }

        let start = self.readIndex + ProtocolConstants.lengthPrefixBytes
        let payload = self.buffer[start..<(start + length)]
        self.readIndex = start + length
        return payload
    }

    private func peekLength() -> Int {
        var length = 0
        for i in 0..<ProtocolConstants.lengthPrefixBytes {
            length = length << 8 | Int(self.buffer[self.readIndex + i])
        }
        return length
    }

    private mutating func compactIfEmpty() {
        if self.readIndex > 0 && self.readIndex == self.buffer.count {
            self.buffer.removeAll(keepingCapacity: self.buffer.capacity <= 1 << 20)
            self.readIndex = 0
        }
    }

    private mutating func compactIfWorthIt() {
        if self.readIndex == self.buffer.count {
            self.compactIfEmpty()
        } else if self.readIndex > self.buffer.count / 2 {
            self.buffer.removeSubrange(0..<self.readIndex)
            self.readIndex = 0
        }
    }
}

extension Frame {
    /// Decodes one frame's payload with SwiftProtobuf.
    ///
    /// - Throws: `FrameDecodingError.malformed` when the bytes are not a valid `Frame`.
    package init(framePayload payload: ArraySlice<UInt8>) throws(FrameDecodingError) {
        do {
            self = try payload.withUnsafeBytes { try Frame.decodeUntrusted($0) }
        } catch {
            throw .malformed(describeDecodingFailure(error))
        }
    }
}

extension SwiftProtobuf.Message {
    /// Decodes bytes that came from the network, with a bounded nesting depth.
    package static func decodeUntrusted(_ bytes: UnsafeRawBufferPointer) throws -> Self {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = ProtocolConstants.messageDepthLimit
        var message = Self()
        try message.merge(serializedBytes: RawSpan(_unsafeBytes: bytes), options: options)
        return message
    }

    /// Decodes a nested payload (a request inside `CallStart`) that came from the network.
    package static func decodeUntrusted(_ bytes: some SwiftProtobufContiguousBytes) throws -> Self {
        try bytes.withUnsafeBytes { try Self.decodeUntrusted($0) }
    }
}

/// What a failed decode found, in words a peer can act on (SwiftProtobuf's case names, such as
/// `malformedProtobuf`, are not).
package func describeDecodingFailure(_ error: any Error) -> String {
    guard let error = error as? BinaryDecodingError else { return "\(error)" }
    switch error {
    case .trailingGarbage: return "bytes are left over after the message"
    case .truncated: return "the message is cut short"
    case .invalidUTF8: return "a string field is not valid UTF-8"
    case .malformedProtobuf: return "the bytes are not protobuf (a bad tag, wire type or length)"
    case .missingRequiredFields: return "required fields are missing"
    case .internalExtensionError: return "an extension field could not be decoded"
    case .messageDepthLimit: return "messages are nested more than \(ProtocolConstants.messageDepthLimit) levels deep"
    }
}
