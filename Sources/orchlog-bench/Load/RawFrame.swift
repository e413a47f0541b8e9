import Foundation
import OrchLogWire
import SwiftProtobuf

/// A received frame's payload, looked at only as far as the load generator needs: its call id,
/// which kind it is, a `message`'s payload and, for an `end`, the status code. Decoding it whole (`decode()`) is left to
/// the scenarios that need the content, so that a closed loop of small calls measures the
/// server rather than the client's protobuf decoding. Valid only inside the callback.
struct RawFrame {
    let bytes: UnsafeRawBufferPointer
    private(set) var callID: UInt32 = 0
    /// The `Frame.kind` field number: 3 hello_ack, 5 message, 8 end, 10 pong, 11 goaway …
    private(set) var kind = 0
    /// For an `end`: its code (0 is OK).
    private(set) var endCode = 0
    /// For a `message`: its payload, found without decoding the frame (no copy).
    private(set) var messagePayload = UnsafeRawBufferPointer(start: nil, count: 0)

    static let helloAck = 3, message = 5, end = 8, goaway = 11

    init(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes = bytes
        var reader = Reader(bytes)
        while let (field, wireType) = try reader.tag() {
            switch (field, wireType) {
            case (1, 0):
                self.callID = UInt32(truncatingIfNeeded: try reader.varint())
            case (_, 2):
                let body = try reader.lengthDelimited()
                self.kind = Int(field)
                if field == 5 {
                    var message = Reader(body)
                    while let (messageField, messageType) = try message.tag() {
                        if messageField == 1 && messageType == 2 { self.messagePayload = try message.lengthDelimited() }
                        else { try message.skip(messageType) }
                    }
                }
                if field == 8 {
                    var end = Reader(body)
                    while let (endField, endType) = try end.tag() {
                        if endField == 1 && endType == 0 { self.endCode = Int(truncatingIfNeeded: try end.varint()) }
                        else { try end.skip(endType) }
                    }
                }
            default:
                try reader.skip(wireType)
            }
        }
    }

    /// The whole frame, decoded by SwiftProtobuf.
    func decode() throws -> Frame {
        try Frame(serializedBytes: Data(self.bytes))
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func tag() throws -> (UInt64, UInt64)? {
            guard self.offset < self.bytes.count else { return nil }
            let key = try self.varint()
            return (key >> 3, key & 7)
        }

        mutating func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while self.offset < self.bytes.count && shift < 64 {
                let byte = self.bytes[self.offset]
                self.offset += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            throw BenchError("malformed frame from the server: bad varint")
        }

        mutating func lengthDelimited() throws -> UnsafeRawBufferPointer {
            let length = Int(try self.varint())
            guard length <= self.bytes.count - self.offset else { throw BenchError("malformed frame from the server: bad length") }
            defer { self.offset += length }
            return UnsafeRawBufferPointer(rebasing: self.bytes[self.offset..<(self.offset + length)])
        }

        mutating func skip(_ wireType: UInt64) throws {
            switch wireType {
            case 0: _ = try self.varint()
            case 1: self.offset += 8
            case 2: _ = try self.lengthDelimited()
            case 5: self.offset += 4
            default: throw BenchError("malformed frame from the server: wire type \(wireType)")
            }
            guard self.offset <= self.bytes.count else { throw BenchError("malformed frame from the server: truncated") }
        }
    }
}
