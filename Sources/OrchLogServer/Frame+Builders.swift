import Foundation
import OrchLogWire

/// Frames the server sends.
extension Frame {
    static func helloAck(_ configuration: ServerConfiguration) -> Frame {
        Frame.with {
            $0.callID = 0
            $0.helloAck = .with {
                $0.protocolVersion = ProtocolConstants.version
                $0.serverName = "\(configuration.serverName)/\(configuration.version)"
                $0.maxFrameBytes = UInt32(configuration.maxFrameBytes)
                $0.maxConcurrentCalls = UInt32(configuration.maxConcurrentCalls)
            }
        }
    }

    static func goAway(_ status: RPCStatus, lastCallID: UInt32) -> Frame {
        Frame.with {
            $0.callID = 0
            $0.goaway = .with {
                $0.code = status.code
                $0.message = status.message
                $0.lastCallID = lastCallID
            }
        }
    }

    /// The answer to a ping: its payload, and call_id 0 written out as in every frame the server
    /// sends, unless that makes the frame larger than `maxFrameBytes` (a ping of the largest size
    /// that left its call_id out).
    static func pong(_ payload: Data, maxFrameBytes: Int) -> Frame {
        var frame = Frame.with {
            $0.callID = 0
            $0.pong = .with { $0.payload = payload }
        }
        if ((try? frame.serializedBytes() as [UInt8])?.count ?? 0) > maxFrameBytes { frame.clearCallID() }
        return frame
    }

    /// The frame kind's name as in docs/PROTOCOL.md, for error messages.
    var kindName: String {
        switch self.kind {
        case .hello: "hello"
        case .helloAck: "hello_ack"
        case .start: "start"
        case .message: "message"
        case .credit: "credit"
        case .cancel: "cancel"
        case .end: "end"
        case .ping: "ping"
        case .pong: "pong"
        case .goaway: "goaway"
        case nil: "unknown"
        }
    }
}
