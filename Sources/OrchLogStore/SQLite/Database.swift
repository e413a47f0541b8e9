import CSQLite

/// A statement text that each connection prepares once and then finds by the identity of this
/// object, not by hashing its text: the hot queries run thousands of times a second, and hashing
/// and comparing a 300-byte SELECT each time showed in profiles. Declare instances `static let`.
package final class SQL: Sendable {
    package let text: String

    package init(_ text: String) {
        self.text = text
    }
}

/// One SQLite connection with a cache of prepared statements (one per `SQL`).
///
/// Not thread-safe: each `Database` is confined to one serial queue by its owner.
package final class Database {
    let handle: OpaquePointer
    /// Holds each `SQL` too, so that its identity cannot be reused by another object.
    private var prepared: [ObjectIdentifier: (sql: SQL, statement: Statement)] = [:]

    /// Opens (and with `create`, creates) the database at `path`, through the VFS named `vfs`
    /// (nil: SQLite's default).
    package init(path: String, readOnly: Bool = false, create: Bool = false, vfs: String? = nil) throws(SQLiteError) {
        var flags = SQLITE_OPEN_NOMUTEX
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, flags, vfs)
        guard rc == SQLITE_OK, let handle else {
            let error = SQLiteError(code: rc, db: handle)
            sqlite3_close_v2(handle)
            throw error
        }
        sqlite3_extended_result_codes(handle, 1)
        self.handle = handle
    }

    /// Turns SQLite's memory statistics off for the whole process, which orchlogd does not read:
    /// with them on, every allocation SQLite makes takes one global mutex, shared by the writer,
    /// the readers and the checkpointer. Only takes effect before SQLite's first use in the
    /// process; returns whether it did.
    package static func disableMemoryStatistics() -> Bool {
        csqlite_disable_memory_statistics() == SQLITE_OK
    }

    deinit {
        self.prepared.removeAll()
        sqlite3_close_v2(self.handle)
    }

    /// Runs one or more statements that return no rows.
    package func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(self.handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw SQLiteError(code: rc, db: self.handle) }
    }

    /// The prepared statement for `sql`, reset and cleared; prepared on first use.
    package func statement(_ sql: SQL) throws(SQLiteError) -> Statement {
        if let cached = self.prepared[ObjectIdentifier(sql)] {
            cached.statement.reset()
            return cached.statement
        }
        let statement = try Statement(db: self, sql: sql.text)
        self.prepared[ObjectIdentifier(sql)] = (sql, statement)
        return statement
    }

    /// The rowid of the last successful INSERT on this connection.
    package var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(self.handle) }

    /// True when SQLite opened the file read-only because it could not open it for writing
    /// (file mode, read-only filesystem): every write then fails with `SQLITE_READONLY`.
    package var isReadOnly: Bool { sqlite3_db_readonly(self.handle, "main") == 1 }

    /// False while a transaction is open; SQLite may roll one back by itself after some errors.
    package var isAutocommit: Bool { sqlite3_get_autocommit(self.handle) != 0 }

    /// Runs a single-value query such as `PRAGMA journal_mode`, prepared for this one run.
    package func scalarText(_ sql: String) throws(SQLiteError) -> String? {
        let statement = try Statement(db: self, sql: sql)
        return try statement.step() ? statement.text(0) : nil
    }
}
