import Foundation
import OrchLogWire
import SwiftProtobuf

extension LoadConnection {
    /// Runs one call to its end on this connection alone: set-up work, and single streams whose
    /// every message the scenario wants to see (with the time its bytes arrived).
    ///
    /// - Throws: `BenchError` if the call ends with any status but OK.
    @discardableResult
    func call(
        _ method: String, _ request: some SwiftProtobuf.Message, initialCredit: UInt32 = 0,
        onMessage: (Data, UInt64) throws -> Void = { _, _ in }
    ) throws -> Orchlog_V1_CallEnd {
        let callID = self.start(method, request: request.encodedBytes(), initialCredit: initialCredit)
        var ending: Orchlog_V1_CallEnd?
        try LoadLoop(connections: [self]).run(
            onFrame: { _, raw, now in
                guard raw.callID == callID, raw.kind == RawFrame.message || raw.kind == RawFrame.end else { return }
                if raw.kind == RawFrame.message {
                    // A client decodes each message; the frame around it needs no protobuf decoder.
                    try onMessage(Data(raw.messagePayload), now)
                } else if case .end(let end) = try raw.decode().kind {
                    ending = end
                }
            },
            isDone: { ending != nil }
        )
        guard let ending, ending.code == .ok else {
            throw BenchError("\(method) failed: \(ending?.code ?? .unknown) \(ending?.message ?? "")")
        }
        return ending
    }

    /// The one response message of a unary call, decoded.
    func unary<Response: SwiftProtobuf.Message>(
        _ method: String, _ request: some SwiftProtobuf.Message, as: Response.Type = Response.self
    ) throws -> Response {
        var response: Response?
        try self.call(method, request) { payload, _ in response = try Response(serializedBytes: payload) }
        guard let response else { throw BenchError("\(method) ended OK without a response") }
        return response
    }
}
