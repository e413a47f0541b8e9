import OrchLogWire

/// The rows the load generator appends: small and realistic (an orchestrator noting a step).
enum Entries {
    static func newID(_ kind: IDKind) -> String {
        switch kind {
        case .v7: LogID.generateV7()
        case .v4: LogID.generateV4()
        }
    }

    /// A root entry to hang the run's children on.
    static func root(_ content: String, ids: IDKind = .v7) -> LogEntryMessage {
        .with {
            $0.orchestrationSessionLogID = newID(ids)
            $0.category = "note"
            $0.content = content
        }
    }

    /// A child of `parent` with a client-generated id (retry-safe, as PROTOCOL.md recommends).
    static func child(of parent: String, step: Int, id: String) -> LogEntryMessage {
        .with {
            $0.orchestrationSessionLogID = id
            $0.category = "note"
            $0.parentExecID = parent
            $0.content = "step \(step) done"
        }
    }
}
