import CSQLite

/// A failed SQLite call: the (extended) result code and SQLite's own message.
package struct SQLiteError: Error, CustomStringConvertible, Sendable {
    package let code: Int32
    package let message: String

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    init(code: Int32, db: OpaquePointer?) {
        self.code = code
        self.message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
    }

    /// An INSERT that would repeat a primary key (extended codes are macros Swift cannot import).
    package static let primaryKeyConstraint = SQLITE_CONSTRAINT | (6 << 8)
    /// An INSERT whose foreign key names no row.
    package static let foreignKeyConstraint = SQLITE_CONSTRAINT | (3 << 8)

    /// The primary result code (`SQLITE_CONSTRAINT` for `SQLITE_CONSTRAINT_CHECK`, ...).
    package var primaryCode: Int32 { self.code & 0xFF }

    /// Out of disk, read-only file or I/O trouble: the store cannot write right now.
    package var isStorageTrouble: Bool {
        [SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM]
            .contains(self.primaryCode)
    }

    package var description: String { "SQLite error \(self.code): \(self.message)" }
}
