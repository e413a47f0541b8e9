import SwiftProtobuf

/// Encodes frames as `length(u32 big-endian) payload`, appending to a caller-owned buffer so a
/// batch of frames can go out in one write.
package enum FrameEncoder {
    /// Appends one length-prefixed frame to `buffer`.
    package static func encode(_ frame: Frame, into buffer: inout [UInt8]) {
        // Serializing a fully built message cannot fail: no required fields exist in proto/.
        let payload = frame.encodedBytes()
        buffer.reserveCapacity(buffer.count + ProtocolConstants.lengthPrefixBytes + payload.count)
        appendLengthPrefix(payload.count, to: &buffer)
        buffer.append(contentsOf: payload)
    }

    /// One length-prefixed frame as its own byte array.
    package static func encode(_ frame: Frame) -> [UInt8] {
        var bytes: [UInt8] = []
        Self.encode(frame, into: &bytes)
        return bytes
    }
}

extension SwiftProtobuf.Message {
    /// The message's protobuf encoding; messages built in orchlog always serialize.
    package func encodedBytes() -> [UInt8] {
        do {
            return try self.serializedBytes()
        } catch {
            preconditionFailure("\(Self.protoMessageName) serialization failed: \(error)")
        }
    }
}

/// The frames of every call — `start` from clients, `message` and `end` from the server — written
/// straight into the outbound buffer in protobuf's wire format: no intermediate `Frame`, `Data`
/// or payload copy. The bytes are exactly what SwiftProtobuf writes for the same `Frame` (fields
/// in number order, set proto2 fields always present); FrameEncoderTests compares the two.
extension FrameEncoder {
    /// Appends a `start` frame opening `callID` (no timeout or metadata; credit 0 = unlimited).
    package static func encodeStart(
        callID: UInt32, method: String, request: [UInt8], initialCredit: UInt32 = 0, into buffer: inout [UInt8]
    ) {
        // CallStart { 1: method, 4: initial_credit if set, 5: request }
        let method = method.utf8
        let credit = initialCredit > 0 ? 1 + varintSize(UInt64(initialCredit)) : 0
        let inner = bytesFieldSize(method.count) + credit + bytesFieldSize(request.count)
        appendFrame(callID: callID, kindTag: 0x22, innerLength: inner, into: &buffer) { buffer in
            appendBytesField(0x0A, method, to: &buffer)
            if initialCredit > 0 {
                buffer.append(0x20)
                appendVarint(UInt64(initialCredit), to: &buffer)
            }
            appendBytesField(0x2A, request, to: &buffer)
        }
    }

    /// Appends a `message` frame of `callID` carrying `payload`.
    package static func encodeMessage(callID: UInt32, payload: [UInt8], into buffer: inout [UInt8]) {
        // CallMessage { 1: payload }
        appendFrame(callID: callID, kindTag: 0x2A, innerLength: bytesFieldSize(payload.count), into: &buffer) { buffer in
            appendBytesField(0x0A, payload, to: &buffer)
        }
    }

    /// Appends the `end` frame of `callID` with `status`.
    package static func encodeEnd(callID: UInt32, status: RPCStatus, into buffer: inout [UInt8]) {
        guard status.details.isEmpty else {
            // Details (a protobuf map) are rare: only a retryable RESOURCE_EXHAUSTED has them.
            return encode(Frame.with {
                $0.callID = callID
                $0.end = .with {
                    $0.code = status.code
                    if !status.message.isEmpty { $0.message = status.message }
                    $0.details = status.details
                }
            }, into: &buffer)
        }
        // CallEnd { 1: code, 2: message if not empty }
        let code = UInt64(bitPattern: Int64(status.code.rawValue))
        let message = status.message.utf8
        let inner = 1 + varintSize(code) + (message.isEmpty ? 0 : bytesFieldSize(message.count))
        appendFrame(callID: callID, kindTag: 0x42, innerLength: inner, into: &buffer) { buffer in
            buffer.append(0x08)
            appendVarint(code, to: &buffer)
            if !message.isEmpty { appendBytesField(0x12, message, to: &buffer) }
        }
    }

    /// Appends `Frame { 1: call_id, <kind>: <inner message of innerLength bytes> }` with its length
    /// prefix; `kindTag` is the kind field's tag byte (field number << 3 | 2), `writeInner` writes
    /// exactly `innerLength` bytes.
    private static func appendFrame(
        callID: UInt32, kindTag: UInt8, innerLength: Int, into buffer: inout [UInt8],
        _ writeInner: (inout [UInt8]) -> Void
    ) {
        let length = 1 + varintSize(UInt64(callID)) + 1 + varintSize(UInt64(innerLength)) + innerLength
        buffer.reserveCapacity(buffer.count + ProtocolConstants.lengthPrefixBytes + length)
        appendLengthPrefix(length, to: &buffer)
        buffer.append(0x08)  // field 1 (call_id), varint
        appendVarint(UInt64(callID), to: &buffer)
        buffer.append(kindTag)
        appendVarint(UInt64(innerLength), to: &buffer)
        writeInner(&buffer)
    }

    /// A length-delimited field: its tag byte, the length, the bytes.
    private static func appendBytesField(_ tag: UInt8, _ bytes: some Collection<UInt8>, to buffer: inout [UInt8]) {
        buffer.append(tag)
        appendVarint(UInt64(bytes.count), to: &buffer)
        buffer.append(contentsOf: bytes)
    }

    private static func bytesFieldSize(_ count: Int) -> Int {
        1 + varintSize(UInt64(count)) + count
    }

    fileprivate static func appendLengthPrefix(_ length: Int, to buffer: inout [UInt8]) {
        let length = UInt32(length)
        buffer.append(UInt8(truncatingIfNeeded: length >> 24))
        buffer.append(UInt8(truncatingIfNeeded: length >> 16))
        buffer.append(UInt8(truncatingIfNeeded: length >> 8))
        buffer.append(UInt8(truncatingIfNeeded: length))
    }

    private static func varintSize(_ value: UInt64) -> Int {
        var value = value
        var size = 1
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }

    private static func appendVarint(_ value: UInt64, to buffer: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            buffer.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.append(UInt8(value))
    }
}
