import Foundation
import OrchLogWire
import Testing

@Suite("FrameEncoder")
struct FrameEncoderTests {
    /// Call ids at every varint length boundary.
    static let callIDs: [UInt32] = [1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, UInt32.max]

    @Test("message frames are byte for byte what SwiftProtobuf writes", arguments: [0, 1, 127, 128, 300, 70_000])
    func messageFrames(payloadBytes: Int) {
        let payload = (0..<payloadBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for callID in Self.callIDs {
            var direct: [UInt8] = [9, 9]  // appends after what is already buffered
            FrameEncoder.encodeMessage(callID: callID, payload: payload, into: &direct)
            let reference = FrameEncoder.encode(Frame.with {
                $0.callID = callID
                $0.message = .with { $0.payload = Data(payload) }
            })
            #expect(direct == [9, 9] + reference, "call \(callID), payload \(payloadBytes) bytes")
        }
    }

    @Test("start frames are byte for byte what SwiftProtobuf writes", arguments: [0, 5, 200])
    func startFrames(requestBytes: Int) {
        let request = (0..<requestBytes).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for callID in Self.callIDs {
            for credit: UInt32 in [0, 1, 256, 100_000] {
                var direct: [UInt8] = []
                FrameEncoder.encodeStart(callID: callID, method: MethodPath.appendLog, request: request, initialCredit: credit, into: &direct)
                let reference = FrameEncoder.encode(Frame.with {
                    $0.callID = callID
                    $0.start = .with {
                        $0.method = MethodPath.appendLog
                        if credit > 0 { $0.initialCredit = credit }
                        $0.request = Data(request)
                    }
                })
                #expect(direct == reference, "call \(callID), credit \(credit), request \(requestBytes) bytes")
            }
        }
    }

    @Test("end frames are byte for byte what SwiftProtobuf writes")
    func endFrames() {
        let statuses = [
            RPCStatus.ok,
            RPCStatus(.notFound, "orchestration_session_log_id: entry 0191 not found"),
            RPCStatus(.invalidArgument, String(repeating: "é", count: 200)),
            RPCStatus(.unauthenticated, "x"),
            RPCStatus(.resourceExhausted, "too many calls", details: ["retryable": "true"]),
            RPCStatus(.unavailable, "", details: ["a": "1", "b": ""]),
        ]
        for status in statuses {
            for callID in Self.callIDs {
                var direct: [UInt8] = []
                FrameEncoder.encodeEnd(callID: callID, status: status, into: &direct)
                let reference = FrameEncoder.encode(Frame.with {
                    $0.callID = callID
                    $0.end = .with {
                        $0.code = status.code
                        if !status.message.isEmpty { $0.message = status.message }
                        $0.details = status.details
                    }
                })
                var decoder = FrameDecoder()
                decoder.append(direct)
                let decoded = try? decoder.next()
                #expect(decoded?.end.code == status.code && decoded?.end.message == status.message
                        && decoded?.end.details == status.details && decoded?.callID == callID)
                if status.details.count <= 1 {
                    #expect(direct == reference, "call \(callID), \(status)")
                }
            }
        }
    }
}
