import Foundation

/// One entry of the orchestration session log: a row of `orchestration_session_log`.
///
/// `nil` is SQL NULL. `seq` is the server's arrival order (the row's rowid); it is 0 on an entry
/// that has not been stored yet.
public struct LogEntry: Sendable, Hashable {
    /// The entry's id. The initializer fixes a fresh UUIDv7, so that a retried append of this
    /// value can never create a second row.
    public var id: UUID
    public var category: String?
    /// The parent entry; `nil` for a root.
    public var parentID: UUID?
    public var content: String
    /// Order among siblings; `nil` on append lets the server assign 1 + the highest.
    public var siblingOrder: Int64?
    /// JSON text, checked by the server.
    public var elaboration: String?
    /// Arrival order, set by the server.
    public var seq: UInt64

    /// An entry to append.
    ///
    /// - Parameters:
    ///   - id: defaults to a new UUIDv7 (time-ordered, as the server prefers).
    ///   - content: required; the column is NOT NULL.
    public init(
        id: UUID = .v7(), content: String, category: String? = nil, parentID: UUID? = nil,
        siblingOrder: Int64? = nil, elaboration: String? = nil
    ) {
        self.id = id
        self.content = content
        self.category = category
        self.parentID = parentID
        self.siblingOrder = siblingOrder
        self.elaboration = elaboration
        self.seq = 0
    }
}

/// What an append did.
public struct AppendResult: Sendable, Hashable {
    /// The entry as stored: with its `seq` and assigned `siblingOrder`.
    public var entry: LogEntry
    /// `false` when an identical entry with that id was already stored (a retry that had landed).
    public var created: Bool
}

/// One node of a subtree, in depth-first preorder.
public struct TreeNode: Sendable, Hashable {
    public var entry: LogEntry
    /// 0 for the root of the walk.
    public var depth: Int
}

/// The server's answer to `health()`.
public struct HealthStatus: Sendable, Hashable {
    /// `SERVING` when the server accepts calls.
    public var status: String
    public var version: String
    public var entryCount: UInt64
}
