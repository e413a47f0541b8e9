/// How the store opens and runs its database.
package struct StoreOptions: Sendable {
    /// When appends are acknowledged (SQLite itself runs `synchronous=NORMAL` either way).
    package enum Sync: String, Sendable, CaseIterable {
        /// After an fdatasync of the WAL that covers them: an acknowledged append survives
        /// power loss. One flush serves each group commit (see `WALSyncer`).
        case full
        /// After COMMIT, fsync at checkpoints only: survives a crash of orchlogd, not power loss.
        case normal
    }

    package var sync: Sync = .full
    /// Reader connections (each on its own queue).
    package var readerCount: Int = 2
    /// The largest `content` accepted, in UTF-8 bytes: by default as much as a 4 MiB frame
    /// carries with room for the other fields, so an over-long content gets INVALID_ARGUMENT
    /// rather than costing the connection.
    package var maxContentBytes: Int = 4 * 1024 * 1024 - 64 * 1024
    /// WAL pages after which a background PASSIVE checkpoint runs.
    package var checkpointPages: Int32 = 1000
    /// How often the checkpointer looks for a pause in the commits; a look that finds none
    /// since the last one runs a pass that copies what the WAL still holds.
    package var quietCheckpointDelay: Duration = .seconds(1)
    /// How often the writer looks for rows that another process appended, in milliseconds
    /// (their followers then re-read the database); 0 never.
    package var pollExternalMillis: Int = 500
    /// How long a connection waits on a lock held by another process, in milliseconds.
    package var busyTimeoutMillis: Int32 = 5000

    package init() {}
}

/// Why the store could not open a database.
package struct StoreError: Error, CustomStringConvertible, Sendable {
    package let description: String
    init(_ description: String) { self.description = description }
}
