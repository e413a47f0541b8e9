import GRPCCore
import OrchLogStore
import OrchLogWire

// The small message <-> store conversions that orchlogd keeps in OrchLogServer
// (LogRecord+Message.swift), which this package does not share: repeated here verbatim so the
// peer stores and answers exactly what orchlogd does.

extension LogEntryMessage {
    /// The wire form of a stored row; NULL columns stay absent.
    init(_ record: LogRecord) {
        self.init()
        self.orchestrationSessionLogID = record.id
        if let category = record.category { self.category = category }
        if let parent = record.parentID { self.parentExecID = parent }
        self.content = record.content
        if let order = record.siblingOrder { self.siblingOrder = order }
        if let elaboration = record.elaboration { self.elaboration = elaboration }
        self.seq = record.seq
    }
}

extension NewEntry {
    /// Validates one entry of a request; see `NewEntry.validate`.
    static func validate(_ message: LogEntryMessage, fieldPath: String, maxContentBytes: Int) throws(RPCStatus) -> NewEntry {
        try NewEntry.validate(
            id: message.hasOrchestrationSessionLogID ? message.orchestrationSessionLogID : nil,
            category: message.hasCategory ? message.category : nil,
            parentID: message.hasParentExecID ? message.parentExecID : nil,
            content: message.hasContent ? message.content : nil,
            siblingOrder: message.hasSiblingOrder ? message.siblingOrder : nil,
            elaboration: message.hasElaboration ? message.elaboration : nil,
            fieldPath: fieldPath, maxContentBytes: maxContentBytes
        )
    }
}

/// Parses an id field of a request into canonical form.
func canonicalID(_ text: String?, field: String) throws(RPCStatus) -> String {
    guard let text else { throw .invalidArgument("\(field): required") }
    guard let id = LogID.canonical(text) else {
        throw .invalidArgument("\(field): \"\(text.prefix(64))\" is not a UUID (8-4-4-4-12 hex digits)")
    }
    return id
}

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
