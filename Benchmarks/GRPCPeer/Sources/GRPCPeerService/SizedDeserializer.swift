import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

/// A request message with the size of its serialized form (orchlogd refuses an append whose
/// response could exceed the message limit, judged from the request's size).
struct Sized<Message: Sendable>: Sendable {
    var message: Message
    var bytes: Int
}

/// GRPCProtobuf's `ProtobufDeserializer`, plus the byte count and orchlogd's wording for an
/// undecodable request (`request is not a valid orchlog.v1.…`, INVALID_ARGUMENT as in
/// docs/PROTOCOL.md section 4; the library's own wording differs).
struct SizedDeserializer<Message: SwiftProtobuf.Message>: MessageDeserializer {
    private let inner = ProtobufDeserializer<Message>()

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Sized<Message> {
        do {
            return Sized(message: try self.inner.deserialize(serializedMessageBytes), bytes: serializedMessageBytes.count)
        } catch let error as RPCError {
            throw RPCError(
                code: .invalidArgument,
                message: "request is not a valid \(Message.protoMessageName): \(error.cause.map { "\($0)" } ?? error.message)"
            )
        }
    }
}
