/// Numbers fixed by the protocol (docs/PROTOCOL.md).
package enum ProtocolConstants {
    /// The only protocol version this build speaks.
    package static let version: UInt32 = 1
    /// Bytes of the big-endian length prefix in front of every frame.
    package static let lengthPrefixBytes = 4
    /// Default bound on a frame's payload length.
    package static let defaultMaxFrameBytes = 4 * 1024 * 1024
    /// The bounds a server may announce in `hello_ack.max_frame_bytes`.
    package static let maxFrameBytesRange = 64 * 1024...256 * 1024 * 1024
    /// Protobuf nesting bound when decoding untrusted bytes.
    package static let messageDepthLimit = 32
}

/// The service's method paths, as carried in `CallStart.method`.
package enum MethodPath {
    package static let service = "orchlog.v1.OrchestrationLog"
    package static let appendLog = "/\(service)/AppendLog"
    package static let appendLogs = "/\(service)/AppendLogs"
    package static let getLog = "/\(service)/GetLog"
    package static let streamChildren = "/\(service)/StreamChildren"
    package static let getTree = "/\(service)/GetTree"
    package static let health = "/\(service)/Health"
}
