import SwiftProtobuf

/// Encodes frames as `length(u32 big-endian) payload`, appending to a caller-owned buffer so a
/// batch of frames can go out in one write.
package enum FrameEncoder {
    /// Appends one length-prefixed frame to `buffer`.
    package static func encode(_ frame: Frame, into buffer: inout [UInt8]) {
        // Serializing a fully built message cannot fail: no required fields exist in proto/.
        let payload: [UInt8]
        do {
            payload = try frame.serializedBytes()
        } catch {
            preconditionFailure("Frame serialization failed: \(error)")
        }
        let length = UInt32(payload.count)
        buffer.reserveCapacity(buffer.count + ProtocolConstants.lengthPrefixBytes + payload.count)
        buffer.append(UInt8(truncatingIfNeeded: length >> 24))
        buffer.append(UInt8(truncatingIfNeeded: length >> 16))
        buffer.append(UInt8(truncatingIfNeeded: length >> 8))
        buffer.append(UInt8(truncatingIfNeeded: length))
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
        let method = method.utf8
        // CallStart { 1: method, 4: initial_credit if set, 5: request }
        var inner = 1 + varintSize(UInt64(method.count)) + method.count
        if initialCredit > 0 { inner += 1 + varintSize(UInt64(initialCredit)) }
        inner += 1 + varintSize(UInt64(request.count)) + request.count
        // Frame { 1: call_id, 4: start }
        let length = 1 + varintSize(UInt64(callID)) + 1 + varintSize(UInt64(inner)) + inner
        buffer.reserveCapacity(buffer.count + ProtocolConstants.lengthPrefixBytes + length)
        appendLengthPrefix(length, to: &buffer)
        buffer.append(0x08)  // field 1, varint
        appendVarint(UInt64(callID), to: &buffer)
        buffer.append(0x22)  // field 4, length-delimited
        appendVarint(UInt64(inner), to: &buffer)
        buffer.append(0x0A)  // CallStart field 1, length-delimited
        appendVarint(UInt64(method.count), to: &buffer)
        buffer.append(contentsOf: method)
        if initialCredit > 0 {
            buffer.append(0x20)  // CallStart field 4, varint
            appendVarint(UInt64(initialCredit), to: &buffer)
        }
        buffer.append(0x2A)  // CallStart field 5, length-delimited
        appendVarint(UInt64(request.count), to: &buffer)
        buffer.append(contentsOf: request)
    }

    /// Appends a `message` frame of `callID` carrying `payload`.
    package static func encodeMessage(callID: UInt32, payload: [UInt8], into buffer: inout [UInt8]) {
        // CallMessage { 1: payload }
        let inner = 1 + varintSize(UInt64(payload.count)) + payload.count
        // Frame { 1: call_id, 5: message }
        let length = 1 + varintSize(UInt64(callID)) + 1 + varintSize(UInt64(inner)) + inner
        buffer.reserveCapacity(buffer.count + ProtocolConstants.lengthPrefixBytes + length)
        appendLengthPrefix(length, to: &buffer)
        buffer.append(0x08)  // field 1, varint
        appendVarint(UInt64(callID), to: &buffer)
        buffer.append(0x2A)  // field 5, length-delimited
        appendVarint(UInt64(inner), to: &buffer)
        buffer.append(0x0A)  // CallMessage field 1, length-delimited
        appendVarint(UInt64(payload.count), to: &buffer)
        buffer.append(contentsOf: payload)
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
        let code = UInt64(bitPattern: Int64(status.code.rawValue))
        let message = status.message.utf8
        // CallEnd { 1: code, 2: message if not empty }
        var inner = 1 + varintSize(code)
        if !message.isEmpty { inner += 1 + varintSize(UInt64(message.count)) + message.count }
        // Frame { 1: call_id, 8: end }
        let length = 1 + varintSize(UInt64(callID)) + 1 + varintSize(UInt64(inner)) + inner
        buffer.reserveCapacity(buffer.count + ProtocolConstants.lengthPrefixBytes + length)
        appendLengthPrefix(length, to: &buffer)
        buffer.append(0x08)  // field 1, varint
        appendVarint(UInt64(callID), to: &buffer)
        buffer.append(0x42)  // field 8, length-delimited
        appendVarint(UInt64(inner), to: &buffer)
        buffer.append(0x08)  // CallEnd field 1, varint
        appendVarint(code, to: &buffer)
        if !message.isEmpty {
            buffer.append(0x12)  // CallEnd field 2, length-delimited
            appendVarint(UInt64(message.count), to: &buffer)
            buffer.append(contentsOf: message)
        }
    }

    private static func appendLengthPrefix(_ length: Int, to buffer: inout [UInt8]) {
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
