import GRPCCore
import OrchLogWire

extension RPCStatus {
    /// The same status as a grpc-swift error: orchlog's codes are gRPC's numbers, so the code
    /// carries over one to one, with the same message; `details` become trailing metadata.
    var rpcError: RPCError {
        let code = Status.Code(rawValue: self.code.rawValue).flatMap { RPCError.Code($0) } ?? .unknown
        var metadata = Metadata()
        for (key, value) in self.details.sorted(by: { $0.key < $1.key }) {
            metadata.addString(value, forKey: key)
        }
        return RPCError(code: code, message: self.message, metadata: metadata)
    }
}
