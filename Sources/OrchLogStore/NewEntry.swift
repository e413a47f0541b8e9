import OrchLogWire

/// An entry that passed every check that needs no database: ids are canonical, content is
/// present and within bounds, the entry is not its own parent.
///
/// The checks that need the database (valid JSON by SQLite's own `json_valid`, parent existence,
/// an existing id) run in the writer, in that order, before anything is written.
package struct NewEntry: Sendable, Equatable {
    package var id: String
    package var category: String?
    package var parentID: String?
    package var content: String
    /// `nil`: the writer assigns 1 + the highest order among the parent's children.
    package var siblingOrder: Int64?
    package var elaboration: String?
    /// The field path used in error messages (`entry` or `entries[3]`).
    package var fieldPath: String

    /// Validates request fields in the protocol's order: malformed ids, self-parent, missing
    /// content, content size. An absent id gets a fresh UUIDv7.
    ///
    /// - Throws: `RPCStatus` INVALID_ARGUMENT naming the field.
    package static func validate(
        id: String?, category: String?, parentID: String?, content: String?,
        siblingOrder: Int64?, elaboration: String?,
        fieldPath: String, maxContentBytes: Int
    ) throws(RPCStatus) -> NewEntry {
        let canonicalID: String
        if let id {
            guard let canonical = LogID.canonical(id) else {
                throw .invalidArgument("\(fieldPath).orchestration_session_log_id: \(Self.quoted(id)) is not a UUID (8-4-4-4-12 hex digits)")
            }
            canonicalID = canonical
        } else {
            canonicalID = LogID.generateV7()
        }
        var canonicalParent: String?
        if let parentID {
            guard let canonical = LogID.canonical(parentID) else {
                throw .invalidArgument("\(fieldPath).parent_exec_id: \(Self.quoted(parentID)) is not a UUID (8-4-4-4-12 hex digits)")
            }
            canonicalParent = canonical
        }
        if canonicalParent == canonicalID {
            throw .invalidArgument("\(fieldPath).parent_exec_id: an entry cannot be its own parent (\(canonicalID))")
        }
        guard let content else {
            throw .invalidArgument("\(fieldPath).content: required (the column is NOT NULL)")
        }
        let contentBytes = content.utf8.count
        if contentBytes > maxContentBytes {
            throw .invalidArgument("\(fieldPath).content: \(contentBytes) bytes exceeds the limit of \(maxContentBytes) bytes")
        }
        return NewEntry(
            id: canonicalID, category: category, parentID: canonicalParent, content: content,
            siblingOrder: siblingOrder, elaboration: elaboration, fieldPath: fieldPath
        )
    }

    /// A short quoted excerpt of untrusted text for error messages.
    static func quoted(_ text: String) -> String {
        let start = text.excerpt(maxBytes: 64)
        let excerpt = start.utf8.count < text.utf8.count ? start + "…" : text
        return "\"\(excerpt)\""
    }
}

extension NewEntry {
    /// Validates one entry of a request message (absent fields are nil); see `validate`.
    package static func validate(
        _ message: LogEntryMessage, fieldPath: String, maxContentBytes: Int
    ) throws(RPCStatus) -> NewEntry {
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
