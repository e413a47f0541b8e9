#ifndef ORCHLOG_SQLITE_WAL_BUFFER_H
#define ORCHLOG_SQLITE_WAL_BUFFER_H

/// The name of the VFS that `orchlog_wal_buffer_register` adds.
extern const char *const orchlog_wal_buffer_vfs_name;

/// Registers, once and not as the default, a VFS over SQLite's default one that gathers the
/// frames a commit appends to its WAL into one write. Returns SQLITE_OK, or SQLite's error.
/// Thread-safe.
int orchlog_wal_buffer_register(void);

#endif
