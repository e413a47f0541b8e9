import CSQLite
import OrchLogWire

/// A prepared statement: bind by 1-based index, step, read columns by 0-based index.
package final class Statement {
    private let handle: OpaquePointer
    private unowned let db: Database

    init(db: Database, sql: String) throws(SQLiteError) {
        var handle: OpaquePointer?
        let rc = sqlite3_prepare_v3(db.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard rc == SQLITE_OK, let handle else { throw SQLiteError(code: rc, db: db.handle) }
        self.handle = handle
        self.db = db
    }

    deinit { sqlite3_finalize(self.handle) }

    /// Makes the statement ready to run again, with every parameter NULL.
    package func reset() {
        sqlite3_reset(self.handle)
        sqlite3_clear_bindings(self.handle)
    }

    /// Binds text by its UTF-8 byte count, so an embedded NUL is stored, not a truncation.
    package func bind(_ index: Int32, _ value: String?) {
        guard var value else {
            sqlite3_bind_null(self.handle, index)
            return
        }
        value.withUTF8 { bytes in
            if let start = bytes.baseAddress {
                UnsafeRawPointer(start).withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    _ = sqlite3_bind_text(self.handle, index, $0, Int32(bytes.count), csqlite_transient())
                }
            } else {
                // A NULL pointer would bind SQL NULL: the empty string needs a real one.
                sqlite3_bind_text(self.handle, index, "", 0, csqlite_transient())
            }
        }
    }

    /// Binds a value read by `value(_:)`, of the type it was stored with.
    package func bind(_ index: Int32, _ value: StoredValue?) {
        switch value {
        case nil: sqlite3_bind_null(self.handle, index)
        case .integer(let integer): sqlite3_bind_int64(self.handle, index, integer)
        case .real(let real): sqlite3_bind_double(self.handle, index, real)
        case .text(let bytes):
            Self.withNonNullPointer(to: bytes) {
                _ = sqlite3_bind_text(self.handle, index, $0.assumingMemoryBound(to: CChar.self), Int32(bytes.count), csqlite_transient())
            }
        case .blob(let bytes):
            Self.withNonNullPointer(to: bytes) {
                _ = sqlite3_bind_blob(self.handle, index, $0, Int32(bytes.count), csqlite_transient())
            }
        }
    }

    /// The bytes' storage, or a non-NULL pointer to nothing when they are empty: SQLite binds
    /// NULL for a NULL pointer, not an empty text or blob.
    private static func withNonNullPointer(to bytes: [UInt8], _ body: (UnsafeRawPointer) -> Void) {
        bytes.withUnsafeBytes { body($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!) }
    }

    package func bind(_ index: Int32, _ value: Int64?) {
        if let value {
            sqlite3_bind_int64(self.handle, index, value)
        } else {
            sqlite3_bind_null(self.handle, index)
        }
    }

    /// Advances to the next row: `true` with a row to read, `false` when done.
    package func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(self.handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = SQLiteError(code: rc, db: self.db.handle)
            sqlite3_reset(self.handle)
            throw error
        }
    }

    /// Runs a statement that returns no rows.
    package func run() throws(SQLiteError) {
        _ = try self.step()
        sqlite3_reset(self.handle)
    }

    package func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(self.handle, column) == SQLITE_NULL
    }

    package func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(self.handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(self.handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// Appends the column as a protobuf string field, absent when NULL (an empty string with
    /// `nullAsEmpty`): the bytes `WireFormat.appendStringField(tag, text(column), …)` writes,
    /// without making a String when the text is ASCII. Other text goes through `text(_:)`, so
    /// invalid UTF-8 is repaired exactly as there.
    func appendTextField(_ tag: UInt8, column: Int32, nullAsEmpty: Bool = false, to buffer: inout [UInt8]) {
        guard let bytes = sqlite3_column_text(self.handle, column) else {
            if nullAsEmpty { WireFormat.appendStringField(tag, "", to: &buffer) }
            return
        }
        let text = UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(self.handle, column)))
        if WireFormat.isASCII(text) {
            WireFormat.appendBytesField(tag, text, to: &buffer)
        } else {
            WireFormat.appendStringField(tag, String(decoding: text, as: UTF8.self), to: &buffer)
        }
    }

    package func int64(_ column: Int32) -> Int64? {
        self.isNull(column) ? nil : sqlite3_column_int64(self.handle, column)
    }

    /// The column exactly as stored (nil for NULL): what `int64(_:)` would round or replace.
    package func value(_ column: Int32) -> StoredValue? {
        switch sqlite3_column_type(self.handle, column) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(self.handle, column))
        case SQLITE_FLOAT:
            return .real(sqlite3_column_double(self.handle, column))
        case SQLITE_TEXT:
            let bytes = sqlite3_column_text(self.handle, column)
            return .text(Array(UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(self.handle, column)))))
        case SQLITE_BLOB:
            let bytes = sqlite3_column_blob(self.handle, column)?.assumingMemoryBound(to: UInt8.self)
            return .blob(Array(UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(self.handle, column)))))
        default:
            return nil
        }
    }
}

/// A non-NULL SQLite value as stored. A column of INTEGER affinity still holds reals, text and
/// blobs that another tool wrote; a cursor over it binds them back unchanged.
package enum StoredValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text([UInt8])
    case blob([UInt8])
}
