import Foundation
import OrchLogWire

extension LogEntry {
    /// The request form: NULL columns stay absent.
    var message: LogEntryMessage {
        LogEntryMessage.with {
            $0.orchestrationSessionLogID = self.id.wireString
            if let category = self.category { $0.category = category }
            if let parent = self.parentID { $0.parentExecID = parent.wireString }
            $0.content = self.content
            if let order = self.siblingOrder { $0.siblingOrder = order }
            if let elaboration = self.elaboration { $0.elaboration = elaboration }
        }
    }

    /// A stored entry from the server.
    init(_ message: LogEntryMessage) throws(OrchLogError) {
        guard let id = UUID(uuidString: message.orchestrationSessionLogID) else {
            throw OrchLogError(code: .internal, message: "server sent an entry id that is not a UUID: \(message.orchestrationSessionLogID)")
        }
        var parent: UUID?
        if message.hasParentExecID {
            guard let parsed = UUID(uuidString: message.parentExecID) else {
                throw OrchLogError(code: .internal, message: "server sent a parent id that is not a UUID: \(message.parentExecID)")
            }
            parent = parsed
        }
        self.init(
            id: id, content: message.content, category: message.hasCategory ? message.category : nil,
            parentID: parent, siblingOrder: message.hasSiblingOrder ? message.siblingOrder : nil,
            elaboration: message.hasElaboration ? message.elaboration : nil
        )
        self.seq = message.seq
    }
}

extension AppendResult {
    init(_ message: Orchlog_V1_AppendLogResponse) throws(OrchLogError) {
        self.init(entry: try LogEntry(message.entry), created: message.created)
    }
}
