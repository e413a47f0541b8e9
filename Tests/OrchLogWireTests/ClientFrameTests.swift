import Foundation
import OrchLogWire
import Testing

/// `ClientFrame` reads the common `start` shape straight from its bytes and leaves every other
/// frame to SwiftProtobuf; these tests check that the two readings never disagree.
@Suite("ClientFrame")
struct ClientFrameTests {
    /// The payload of `frame` (no length prefix), as SwiftProtobuf writes it.
    private func payload(_ frame: Frame) -> ArraySlice<UInt8> {
        FrameEncoder.encode(frame).dropFirst(ProtocolConstants.lengthPrefixBytes)
    }

    /// What SwiftProtobuf makes of a payload, when it is a `start`.
    private func viaSwiftProtobuf(_ payload: ArraySlice<UInt8>) -> (UInt32, CallStartFields)? {
        guard let frame = try? Frame(framePayload: payload), case .start(let start) = frame.kind else { return nil }
        return (frame.callID, CallStartFields(start))
    }

    /// What the server makes of a payload, when it is a `start`.
    private func viaClientFrame(_ payload: ArraySlice<UInt8>) throws -> (UInt32, CallStartFields)? {
        switch try ClientFrame(payload: payload) {
        case .start(let callID, let fields):
            return (callID, fields)
        case .other(let frame):
            guard case .start(let start) = frame.kind else { return nil }
            return (frame.callID, CallStartFields(start))
        }
    }

    static let commonStarts: [Frame] = [
        Frame.with { $0.callID = 1; $0.start = .with { $0.method = MethodPath.health } },
        Frame.with {
            $0.callID = 0xFFFF_FFFF
            $0.start = .with {
                $0.method = MethodPath.streamChildren; $0.timeoutMs = 30_000; $0.initialCredit = 64
                $0.request = Data([0x0A, 0x03, 0x61, 0x62, 0x63])
            }
        },
        Frame.with { $0.callID = 300; $0.start = .with { $0.method = MethodPath.appendLog; $0.request = Data(repeating: 0x5A, count: 5000) } },
        Frame.with { $0.callID = 2; $0.start = .with { $0.method = MethodPath.getTree; $0.timeoutMs = 0; $0.initialCredit = 0 } },
        // call_id 0 is written (proto2 presence) and read; the server then refuses it.
        Frame.with { $0.callID = 0; $0.start = .with { $0.method = MethodPath.getLog } },
    ]

    @Test("starts as the clients write them are read directly, with SwiftProtobuf's values")
    func commonShapeReadDirectly() throws {
        for frame in Self.commonStarts {
            let payload = self.payload(frame)
            let direct = try #require(ClientFrame.readCommonStart(payload))
            let reference = try #require(self.viaSwiftProtobuf(payload))
            #expect(direct.0 == reference.0)
            #expect(direct.1 == reference.1)
        }
        // A start without call_id at all (absent, not 0).
        let bare: ArraySlice<UInt8> = self.payload(Frame.with { $0.start = .with { $0.method = MethodPath.health } })
        #expect(ClientFrame.readCommonStart(bare)?.0 == 0)
    }

    @Test("starts as protobuf-c and Python's protobuf write them are read directly")
    func otherClientsReadDirectly() throws {
        // Captured from the C client's generated code (orchlog__v1__frame__pack) and from the
        // Python client's `pb.Frame`, filled as their `start` functions fill it: byte for byte
        // the same for this call, and a Health call from Python with its empty request written.
        let captured: [(hex: String, callID: UInt32, fields: CallStartFields)] = [
            (
                "080722370a2b2f6f7263686c6f672e76312e4f726368657374726174696f6e4c6f672f53747265616d4368696c6472656e10882720402a030a0178",
                7, CallStartFields(method: .streamChildren, timeoutMs: 5000, initialCredit: 64, request: [0x0A, 0x01, 0x78])
            ),
            (
                "08ac0222270a232f6f7263686c6f672e76312e4f726368657374726174696f6e4c6f672f4865616c74682a00",
                300, CallStartFields(method: .health, timeoutMs: 0, initialCredit: 0, request: [])
            ),
        ]
        for (hex, callID, fields) in captured {
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                bytes.append(try #require(UInt8(hex[index..<next], radix: 16)))
                index = next
            }
            let direct = try #require(ClientFrame.readCommonStart(ArraySlice(bytes)))
            #expect(direct.0 == callID)
            #expect(direct.1 == fields)
            #expect(self.viaSwiftProtobuf(ArraySlice(bytes)).map { $0.1 } == fields)
        }
    }

    @Test("other shapes go to SwiftProtobuf and are read the same way")
    func otherShapesFallBack() throws {
        let health = Array(MethodPath.health.utf8)
        let getLog = Array(MethodPath.getLog.utf8)
        func start(_ body: [UInt8], callID: [UInt8] = [0x08, 0x07]) -> ArraySlice<UInt8> {
            ArraySlice(callID + [0x22] + varint(body.count) + body)
        }
        func field(_ tag: UInt8, _ bytes: [UInt8]) -> [UInt8] { [tag] + varint(bytes.count) + bytes }
        let cases: [(String, ArraySlice<UInt8>)] = [
            ("metadata", start(field(0x0A, health) + field(0x1A, field(0x0A, Array("k".utf8)) + field(0x12, Array("v".utf8))))),
            ("request before method", start(field(0x2A, [1, 2]) + field(0x0A, health))),
            ("method twice: the last wins", start(field(0x0A, health) + field(0x0A, getLog))),
            ("an unknown field in start", start(field(0x0A, health) + [0x78, 0x01])),
            ("an unknown method", start(field(0x0A, Array("/x.Y/Z".utf8)))),
            ("call_id after start", ArraySlice([0x22] + varint(health.count + 2) + field(0x0A, health) + [0x08, 0x09])),
            ("call_id over 32 bits (truncated)", start(field(0x0A, health), callID: [0x08, 0x81, 0x80, 0x80, 0x80, 0x10])),
            ("timeout as a 10-byte varint", start(field(0x0A, health) + [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])),
            ("start twice: merged", ArraySlice([0x08, 0x07] + [0x22] + varint(health.count + 2) + field(0x0A, health) + [0x22, 0x02, 0x10, 0x05])),
            ("no method", start([0x10, 0x05])),
        ]
        for (name, payload) in cases {
            #expect(ClientFrame.readCommonStart(payload) == nil, "\(name): should not be read directly")
            let reference = try #require(self.viaSwiftProtobuf(payload), "\(name): SwiftProtobuf should accept it")
            let read = try #require(try self.viaClientFrame(payload), "\(name)")
            #expect(read.0 == reference.0, "\(name)")
            #expect(read.1 == reference.1, "\(name)")
        }
        // Spot checks that the cases mean what they say.
        #expect(try self.viaClientFrame(start(field(0x0A, health) + field(0x0A, getLog)))?.1.method == .getLog)
        #expect(try self.viaClientFrame(start(field(0x0A, Array("/x.Y/Z".utf8))))?.1.method == .unknown("/x.Y/Z"))
    }

    @Test("bytes that are not a Frame are rejected, however they start")
    func malformedRejected() {
        let health = Array(MethodPath.health.utf8)
        let malformed: [[UInt8]] = [
            [0x08, 0x07, 0x22, 0x40] + [0x0A, UInt8(health.count)] + health,  // start longer than the frame
            [0x08, 0x07, 0x22, 0x04, 0x0A, 0x02, 0xC3, 0x28],  // method is not UTF-8
            [0x08, 0x07, 0x22, 0x03, 0x2A, 0x05, 0x00],  // request longer than start
            [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],  // an 11-byte varint
        ]
        for bytes in malformed {
            #expect(ClientFrame.readCommonStart(ArraySlice(bytes)) == nil)
            #expect(throws: FrameDecodingError.self) { try ClientFrame(payload: ArraySlice(bytes)) }
        }
    }

    @Test("non-start frames are left to SwiftProtobuf whole")
    func otherKinds() throws {
        for frame in FrameDecoderTests.frames where frame.start == Orchlog_V1_CallStart() {
            guard case .other(let read) = try ClientFrame(payload: self.payload(frame)) else {
                Issue.record("\(frame) was read as a start")
                continue
            }
            #expect(read == frame)
        }
    }

    @Test("mutated starts: whatever is read directly, SwiftProtobuf reads the same")
    func mutationsAgree() throws {
        var generator = SplitMix(seed: 5)
        var readDirectly = 0
        for round in 0..<20_000 {
            var bytes = Array(self.payload(Self.commonStarts[round % Self.commonStarts.count]))
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let index = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: bytes[index] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes[index] ^= 1 << UInt8(generator.next() % 8)
                case 2: bytes.removeSubrange(index...)
                default: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: index)
                }
                if bytes.isEmpty { bytes = [0x08] }
            }
            guard let direct = ClientFrame.readCommonStart(ArraySlice(bytes)) else { continue }
            readDirectly += 1
            let reference = try #require(self.viaSwiftProtobuf(ArraySlice(bytes)), "read directly but rejected by SwiftProtobuf: \(bytes)")
            #expect(direct.0 == reference.0, "\(bytes)")
            #expect(direct.1 == reference.1, "\(bytes)")
        }
        // The mutations must reach the direct reader often enough to mean something.
        #expect(readDirectly > 1_000)
    }

    @Test("method paths map to the served methods, anything else is unknown")
    func methods() {
        for method in RPCMethod.served {
            #expect(RPCMethod(path: method.path) == method)
        }
        #expect(RPCMethod(path: MethodPath.health + " ") == .unknown(MethodPath.health + " "))
        #expect(RPCMethod(path: "") == .unknown(""))
    }
}

private func varint(_ value: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    WireFormat.appendVarint(UInt64(value), to: &bytes)
    return bytes
}
