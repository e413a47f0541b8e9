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
