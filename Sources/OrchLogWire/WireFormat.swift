/// The few pieces of protobuf's wire format that orchlog writes by hand, where building a message
/// first would cost more than the bytes: varints and length-delimited fields. `FrameEncoder`
/// writes frames with them and the store writes stored entries (`LogRecord.appendEntry`).
package enum WireFormat {
    /// The bytes `write` appends to a buffer reserved for `capacity` of them: one allocation for
    /// each hand-written message.
    package static func encode(capacity: Int, _ write: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        write(&bytes)
        return bytes
    }

    /// Bytes a varint of `value` takes.
    package static func varintSize(_ value: UInt64) -> Int {
        (64 - (value | 1).leadingZeroBitCount + 6) / 7
    }

    package static func appendVarint(_ value: UInt64, to buffer: inout [UInt8]) {
        self.forEachVarintByte(value) { buffer.append($0) }
    }

    /// The bytes of `value` as a varint, least significant group first.
    private static func forEachVarintByte(_ value: UInt64, _ body: (UInt8) -> Void) {
        var value = value
        while value >= 0x80 {
            body(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        body(UInt8(value))
    }

    /// Bytes a length-delimited field of `count` bytes takes (one-byte tag).
    package static func bytesFieldSize(_ count: Int) -> Int {
        1 + varintSize(UInt64(count)) + count
    }

    /// A length-delimited field: its tag byte, the length, the bytes.
    package static func appendBytesField(_ tag: UInt8, _ bytes: [UInt8], to buffer: inout [UInt8]) {
        buffer.append(tag)
        appendVarint(UInt64(bytes.count), to: &buffer)
        buffer.append(contentsOf: bytes)
    }

    /// Turns `buffer` into a length-delimited field that holds what it held: the tag and length
    /// are put in front of the bytes in place (a move within the buffer's capacity, where a new
    /// field would allocate and copy).
    package static func wrapInBytesField(_ tag: UInt8, _ buffer: inout [UInt8]) {
        let count = buffer.count
        let headerSize = 1 + varintSize(UInt64(count))
        buffer.insert(contentsOf: repeatElement(0, count: headerSize), at: 0)
        buffer.withUnsafeMutableBufferPointer { bytes in
            bytes[0] = tag
            var index = 1
            self.forEachVarintByte(UInt64(count)) { byte in
                bytes[index] = byte
                index += 1
            }
        }
    }

    /// A length-delimited field from borrowed bytes (a column SQLite returned).
    package static func appendBytesField(_ tag: UInt8, _ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
        buffer.append(tag)
        appendVarint(UInt64(bytes.count), to: &buffer)
        buffer.append(contentsOf: bytes)
    }

    /// Whether every byte is below 0x80, so that the bytes are valid UTF-8 as they are.
    package static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var index = 0
        // Eight bytes at a time, then the tail.
        while index + 8 <= bytes.count {
            if raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            index += 8
        }
        while index < bytes.count {
            if bytes[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }

    /// A string field: its tag byte, the UTF-8 length, the UTF-8 bytes.
    package static func appendStringField(_ tag: UInt8, _ string: String, to buffer: inout [UInt8]) {
        let utf8 = string.utf8
        buffer.append(tag)
        appendVarint(UInt64(utf8.count), to: &buffer)
        buffer.append(contentsOf: utf8)
    }

    /// A varint field: its tag byte and the value.
    package static func appendVarintField(_ tag: UInt8, _ value: UInt64, to buffer: inout [UInt8]) {
        buffer.append(tag)
        appendVarint(value, to: &buffer)
    }
}
