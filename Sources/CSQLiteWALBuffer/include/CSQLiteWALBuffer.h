#ifndef ORCHLOG_SQLITE_WAL_BUFFER_H
#define ORCHLOG_SQLITE_WAL_BUFFER_H

struct sqlite3;

/// The name of the VFS that `orchlog_wal_buffer_register` adds.
extern const char *const orchlog_wal_buffer_vfs_name;

/// Registers, once and not as the default, a VFS over SQLite's default one that gathers the
/// frames a commit appends to its WAL into one write. Returns SQLITE_OK, or SQLite's error.
/// Thread-safe.
int orchlog_wal_buffer_register(void);

/// What `orchlog_wal_buffer_sync` found.
typedef enum {
    /// Everything written to the WAL before the call is durable.
    ORCHLOG_WAL_SYNC_OK = 0,
    /// `db` has no WAL open through this VFS (not in WAL mode, or not yet read).
    ORCHLOG_WAL_SYNC_NO_WAL,
    /// The sync failed; `*sysErrno` says why.
    ORCHLOG_WAL_SYNC_FAILED,
    /// The sync returned, but the WAL's path no longer names the file synced (removed or
    /// replaced); `*sysErrno` is the path lookup's error, or 0.
    ORCHLOG_WAL_SYNC_MOVED,
} OrchlogWALSync;

/// Makes what `db` (opened through this VFS) wrote to its WAL durable: fdatasync of SQLite's own
/// descriptor of the WAL (and, the first time after SQLite opened it, of its directory), then
/// a check that its path still names that file. Call it on the connection's own thread.
OrchlogWALSync orchlog_wal_buffer_sync(struct sqlite3 *db, int *sysErrno);

#endif
