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

    static func pong(_ payload: Data) -> Frame {
        Frame.with {
            $0.callID = 0
            $0.pong = .with { $0.payload = payload }
        }
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
