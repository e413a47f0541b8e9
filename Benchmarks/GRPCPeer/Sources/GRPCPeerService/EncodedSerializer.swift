import GRPCCore

/// Writes messages that are already protobuf bytes: StreamChildren sends each stored entry as the
/// store encoded it (`EncodedEntry`, once per child for every follower), as orchlogd does.
struct EncodedSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }
}
