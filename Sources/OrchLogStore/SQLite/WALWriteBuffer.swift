import CSQLite
import CSQLiteWALBuffer

/// The writer's connection opens its database through a VFS (`CSQLiteWALBuffer`) that gathers
/// the WAL frames of a commit into one write: SQLite writes each frame's header and page
/// separately, two `pwrite`s per page, and at ~15 pages a commit those calls were about 8 % of
/// orchlogd's CPU under load. Commits reach the file before SQLite publishes them to other
/// connections; other files pass straight through. `WALSyncer` flushes the WAL through it.
package enum WALWriteBuffer {
    /// The VFS's name, registered on first use; nil if SQLite refused it (only when out of
    /// memory), and then the writer's connection cannot open.
    package static let vfsName: String? = {
        orchlog_wal_buffer_register() == SQLITE_OK ? String(cString: orchlog_wal_buffer_vfs_name) : nil
    }()
}
