/// What a `start` frame asks for, whichever way it was read.
package struct CallStartFields: Equatable, Sendable {
    package var method: RPCMethod
    /// 0: no deadline.
    package var timeoutMs: UInt32
    /// 0: unlimited (unary calls ignore credit).
    package var initialCredit: UInt32
    /// The serialized request message.
    package var request: [UInt8]

    package init(method: RPCMethod, timeoutMs: UInt32, initialCredit: UInt32, request: [UInt8]) {
        self.method = method
        self.timeoutMs = timeoutMs
        self.initialCredit = initialCredit
        self.request = request
    }

    /// The fields of a `start` SwiftProtobuf decoded; `metadata` is accepted and ignored.
    package init(_ start: Orchlog_V1_CallStart) {
        self.init(
            method: RPCMethod(path: start.method), timeoutMs: start.timeoutMs,
            initialCredit: start.initialCredit, request: Array(start.request)
        )
    }
}

/// A frame from a client, as the server reads it.
///
/// Most frames a server reads are `start`s, and every client writes them the same way: `call_id`
/// (field 1), then `start` (field 4) holding `method`, `timeout_ms`, `initial_credit` and `request`
/// in field order, each at most once, with one of the six served methods. A frame of exactly that
/// shape is read straight from its bytes, which takes a fraction of a full decode; any other
/// frame, or any byte outside that shape, goes to SwiftProtobuf, so the protobuf rules (merging,
/// unknown fields, UTF-8 checks, errors) have one implementation. The fuzz target and
/// `ClientFrameTests` check that the two readings agree.
package enum ClientFrame: Sendable {
    case start(callID: UInt32, CallStartFields)
    /// Any other frame, a `start` of another shape included.
    case other(Frame)

    /// Reads one frame's payload.
    ///
    /// - Throws: `FrameDecodingError.malformed` when the bytes are not a valid `Frame`.
    package init(payload: ArraySlice<UInt8>) throws(FrameDecodingError) {
        if let (callID, start) = Self.readCommonStart(payload) {
            self = .start(callID: callID, start)
        } else {
            self = .other(try Frame(framePayload: payload))
        }
    }

    /// The `start` frame in the shape every client writes, or nil for anything else.
    package static func readCommonStart(_ payload: ArraySlice<UInt8>) -> (UInt32, CallStartFields)? {
        payload.withUnsafeBytes { bytes in
            var reader = ByteReader(bytes)
            do throws(OtherShape) {
                let callID = reader.take(0x08) ? try reader.varint32() : 0  // 1: call_id
                // 4: start, length-delimited, and the rest of the frame.
                guard reader.take(0x22), try Int(reader.varint32()) == reader.remaining else { throw OtherShape() }

                var method: RPCMethod?
                var timeoutMs: UInt32 = 0
                var initialCredit: UInt32 = 0
                var request: UnsafeRawBufferPointer?
                var lastField: UInt8 = 0
                while reader.remaining > 0 {
                    let tag = reader.byte()
                    // Each field at most once and in number order, or it is not this shape.
                    guard tag >> 3 > lastField else { throw OtherShape() }
                    lastField = tag >> 3
                    switch tag {
                    case 0x0A: method = RPCMethod(servedPath: try reader.lengthDelimited())  // 1: method
                    case 0x10: timeoutMs = try reader.varint32()  // 2: timeout_ms
                    case 0x20: initialCredit = try reader.varint32()  // 4: initial_credit
                    case 0x2A: request = try reader.lengthDelimited()  // 5: request
                    default: throw OtherShape()  // metadata, or a field this build does not know
                    }
                }
                guard let method else { throw OtherShape() }  // absent, or not one of the six
                let fields = CallStartFields(
                    method: method, timeoutMs: timeoutMs, initialCredit: initialCredit,
                    request: request.map { Array($0) } ?? []
                )
                return (callID, fields)
            } catch {
                return nil
            }
        }
    }
}

/// Bytes outside the shape `ClientFrame.readCommonStart` reads: SwiftProtobuf decides.
private struct OtherShape: Error {}

/// A cursor over a frame's bytes for `ClientFrame.readCommonStart`: a read that would pass the
/// end, or a value outside the shape, throws `OtherShape`.
private struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { self.bytes.count - self.index }

    /// The next byte; only called while `remaining > 0`.
    mutating func byte() -> UInt8 {
        defer { self.index += 1 }
        return self.bytes[self.index]
    }

    /// Skips `tag` if it is the next byte.
    mutating func take(_ tag: UInt8) -> Bool {
        guard self.remaining > 0, self.bytes[self.index] == tag else { return false }
        self.index += 1
        return true
    }

    /// A varint of at most 5 bytes whose value fits in 32 bits; longer ones (which protobuf
    /// truncates for a uint32 field) are left to the full decoder.
    mutating func varint32() throws(OtherShape) -> UInt32 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 35, by: 7) {
            guard self.remaining > 0 else { throw OtherShape() }
            let byte = self.byte()
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte < 0x80 {
                guard value <= UInt64(UInt32.max) else { throw OtherShape() }
                return UInt32(value)
            }
        }
        throw OtherShape()
    }

    /// A length-delimited field's bytes.
    mutating func lengthDelimited() throws(OtherShape) -> UnsafeRawBufferPointer {
        let length = Int(try self.varint32())
        guard length <= self.remaining else { throw OtherShape() }
        let start = self.index
        self.index += length
        return UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.index])
    }
}
