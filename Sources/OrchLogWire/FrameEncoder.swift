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
        let credit = initialCredit > 0 ? 1 + WireFormat.varintSize(UInt64(initialCredit)) : 0
        let inner = WireFormat.bytesFieldSize(method.utf8.count) + credit + WireFormat.bytesFieldSize(request.count)
        appendFrame(callID: callID, kindTag: 0x22, innerLength: inner, into: &buffer) { buffer in
            WireFormat.appendStringField(0x0A, method, to: &buffer)
            if initialCredit > 0 { WireFormat.appendVarintField(0x20, UInt64(initialCredit), to: &buffer) }
            WireFormat.appendBytesField(0x2A, request, to: &buffer)
        }
    }

    /// Appends a `message` frame of `callID` carrying `payload`.
    package static func encodeMessage(callID: UInt32, payload: [UInt8], into buffer: inout [UInt8]) {
        // CallMessage { 1: payload }
        appendFrame(callID: callID, kindTag: 0x2A, innerLength: WireFormat.bytesFieldSize(payload.count), into: &buffer) { buffer in
            WireFormat.appendBytesField(0x0A, payload, to: &buffer)
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
        let message = status.message
        let inner = 1 + WireFormat.varintSize(code) + (message.isEmpty ? 0 : WireFormat.bytesFieldSize(message.utf8.count))
        appendFrame(callID: callID, kindTag: 0x42, innerLength: inner, into: &buffer) { buffer in
            WireFormat.appendVarintField(0x08, code, to: &buffer)
            if !message.isEmpty { WireFormat.appendStringField(0x12, message, to: &buffer) }
        }
    }

    /// Appends `Frame { 1: call_id, <kind>: <inner message of innerLength bytes> }` with its length
    /// prefix; `kindTag` is the kind field's tag byte (field number << 3 | 2), `writeInner` writes
    /// exactly `innerLength` bytes.
    private static func appendFrame(
        callID: UInt32, kindTag: UInt8, innerLength: Int, into buffer: inout [UInt8],
        _ writeInner: (inout [UInt8]) -> Void
    ) {
        let length = 1 + WireFormat.varintSize(UInt64(callID)) + 1 + WireFormat.varintSize(UInt64(innerLength)) + innerLength
        buffer.reserveCapacity(buffer.count + ProtocolConstants.lengthPrefixBytes + length)
        appendLengthPrefix(length, to: &buffer)
        WireFormat.appendVarintField(0x08, UInt64(callID), to: &buffer)  // field 1: call_id
        buffer.append(kindTag)
        WireFormat.appendVarint(UInt64(innerLength), to: &buffer)
        writeInner(&buffer)
    }

    fileprivate static func appendLengthPrefix(_ length: Int, to buffer: inout [UInt8]) {
        let length = UInt32(length)
        buffer.append(UInt8(truncatingIfNeeded: length >> 24))
        buffer.append(UInt8(truncatingIfNeeded: length >> 16))
        buffer.append(UInt8(truncatingIfNeeded: length >> 8))
        buffer.append(UInt8(truncatingIfNeeded: length))
    }
}
