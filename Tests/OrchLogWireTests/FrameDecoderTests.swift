import Foundation
import OrchLogWire
import Testing

@Suite("FrameDecoder")
struct FrameDecoderTests {
    /// A few frames of different kinds and sizes, encoded back to back.
    static let frames: [Frame] = [
        Frame.with { $0.callID = 0; $0.hello = .with { $0.protocolVersion = 1; $0.clientName = "test" } },
        Frame.with { $0.callID = 7; $0.start = .with { $0.method = MethodPath.getLog; $0.request = Data(repeating: 0x41, count: 3000) } },
        Frame.with { $0.callID = 7; $0.credit = .with { $0.n = 5 } },
        Frame.with { $0.callID = 0; $0.ping = .with { $0.payload = Data([1, 2, 3]) } },
        Frame.with { $0.callID = 9; $0.cancel = .init() },
    ]

    static var encoded: [UInt8] { frames.flatMap { FrameEncoder.encode($0) } }

    private func drain(_ decoder: inout FrameDecoder) throws -> [Frame] {
        var out: [Frame] = []
        while let frame = try decoder.next() { out.append(frame) }
        return out
    }

    @Test("all frames in one read decode in order")
    func allAtOnce() throws {
        var decoder = FrameDecoder()
        decoder.append(Self.encoded)
        #expect(try self.drain(&decoder) == Self.frames)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("frames fed byte by byte decode the same")
    func byteByByte() throws {
        var decoder = FrameDecoder()
        var out: [Frame] = []
        for byte in Self.encoded {
            decoder.append([byte])
            out += try self.drain(&decoder)
        }
        #expect(out == Self.frames)
    }

    @Test("frames split at arbitrary boundaries decode the same", arguments: [2, 3, 5, 17, 1000, 4096])
    func arbitrarySplits(chunk: Int) throws {
        var decoder = FrameDecoder()
        var out: [Frame] = []
        let bytes = Self.encoded
        var index = 0
        var generator = SplitMix(seed: UInt64(chunk))
        while index < bytes.count {
            let size = Int(generator.next() % UInt64(chunk)) + 1
            let end = min(bytes.count, index + size)
            decoder.append(bytes[index..<end])
            out += try self.drain(&decoder)
            index = end
        }
        #expect(out == Self.frames)
    }

    @Test("a length over the limit is rejected from its 4 prefix bytes, before any body is buffered")
    func oversizeRejectedEarly() {
        var decoder = FrameDecoder(maxFrameBytes: 1024)
        decoder.append([0x00, 0x00, 0x04, 0x01])
        #expect(throws: FrameDecodingError.tooLarge(length: 1025, limit: 1024)) { try decoder.next() }
        #expect(decoder.bufferedBytes == 4)

        var huge = FrameDecoder()
        huge.append([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: FrameDecodingError.tooLarge(length: 0xFFFF_FFFF, limit: ProtocolConstants.defaultMaxFrameBytes)) {
            try huge.next()
        }
    }

    @Test("a frame of exactly the limit is accepted")
    func exactlyAtLimit() throws {
        let frame = Frame.with { $0.callID = 1; $0.ping = .with { $0.payload = Data(repeating: 7, count: 2000) } }
        let bytes = FrameEncoder.encode(frame)
        var decoder = FrameDecoder(maxFrameBytes: bytes.count - 4)
        decoder.append(bytes)
        #expect(try decoder.next() == frame)
    }

    @Test("a zero length is rejected")
    func zeroLength() {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 0, 1, 2, 3])
        #expect(throws: FrameDecodingError.zeroLength) { try decoder.next() }
    }

    @Test("bytes that are not a Frame are rejected")
    func malformedPayload() {
        var decoder = FrameDecoder()
        // Field 2 (hello) as a length-delimited field claiming 100 bytes with 3 present.
        decoder.append([0, 0, 0, 5, 0x12, 100, 1, 2, 3])
        #expect {
            try decoder.next()
        } throws: { error in
            guard case .malformed = error as? FrameDecodingError else { return false }
            return true
        }
    }

    @Test("an incomplete frame waits for more bytes")
    func partialFrame() throws {
        let bytes = FrameEncoder.encode(Self.frames[1])
        var decoder = FrameDecoder()
        decoder.append(bytes.dropLast())
        #expect(try decoder.next() == nil)
        decoder.append([bytes.last!])
        #expect(try decoder.next() == Self.frames[1])
    }

    @Test("a frame with no kind set decodes with kind nil (the server rejects it)")
    func unknownKind() throws {
        // Field 15, varint 1: unknown to this version.
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 2, 0x78, 0x01])
        let frame = try #require(try decoder.next())
        #expect(frame.kind == nil)
    }
}

/// A tiny deterministic generator for split sizes.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
