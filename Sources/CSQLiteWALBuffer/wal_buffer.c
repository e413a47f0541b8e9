// A VFS over SQLite's default one for the writer's connection. SQLite appends each WAL frame
// with two writes (its 24-byte header, then its page), so a commit of N pages costs 2N
// `pwrite` calls; here consecutive WAL writes are gathered in a buffer and reach the file in
// one write, no later than the end of the commit frame: SQLite publishes a commit to other
// connections (the WAL index) only after its last frame is written, so they never read a frame
// that is still buffered. Any other use of the WAL file (read, sync, size, truncate, close, file
// control) writes the buffer out first. Every other file passes straight through.
//
// The writer also makes its commits durable here (`orchlog_wal_buffer_sync`): through SQLite's
// own descriptor of the WAL, so there is no second descriptor to keep in step, and with a check
// of the WAL's path that asks the kernel for the inode only. Any stat that asks for timestamps
// makes the next write of a file on a multigrain-timestamp filesystem (ext4 since Linux 6.13)
// take a fine-grained mtime, which dirties the inode at every commit, and an fdatasync then
// writes the inode too: one more disk write and wait per flush.
#define _GNU_SOURCE  // statx
#include "CSQLiteWALBuffer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

const char *const orchlog_wal_buffer_vfs_name = "orchlog-wal-buffer";

// Larger commits are written in pieces of at most this size: the unix VFS writes at most
// 128 KiB - 1 bytes per call (it masks the count with 0x1ffff, expecting pages).
#define BUFFER_CAPACITY (126 * 1024)
#define WAL_HEADER_BYTES 32
#define FRAME_HEADER_BYTES 24

// Which file a path names: asked of `statx` for the inode number only. A stat that asks for
// timestamps would cost a disk write per commit (above).
typedef struct FileIdentity {
    unsigned int deviceMajor, deviceMinor;
    unsigned long long inode;
} FileIdentity;

static int read_identity(const char *path, FileIdentity *identity) {
    struct statx now;
    if (statx(AT_FDCWD, path, 0, STATX_INO, &now) != 0) return -1;
    identity->deviceMajor = now.stx_dev_major;
    identity->deviceMinor = now.stx_dev_minor;
    identity->inode = now.stx_ino;
    return 0;
}

typedef struct BufferedFile {
    sqlite3_file base;
    // The default VFS's file, stored right after this struct.
    sqlite3_file *real;
    // WAL files only: bytes not yet written, which belong at `start`.
    unsigned char *pending;
    sqlite3_int64 start;
    int length;
    // The last write was the header of a commit frame: its page ends the commit.
    int commitPageNext;
    // WAL files only: the name SQLite opened (valid until xClose), and the file it named then.
    const char *path;
    FileIdentity identity;
} BufferedFile;

static sqlite3_vfs *default_vfs;
static sqlite3_vfs buffered_vfs;
static sqlite3_io_methods methods[4];  // by the real file's iVersion (1 to 3)

static int write_pending(BufferedFile *file) {
    if (file->length == 0) return SQLITE_OK;
    int rc = file->real->pMethods->xWrite(file->real, file->pending, file->length, file->start);
    file->length = 0;
    return rc;
}

static int fs_close(sqlite3_file *f) {
    BufferedFile *file = (BufferedFile *)f;
    int rc = write_pending(file);
    int closed = file->real->pMethods ? file->real->pMethods->xClose(file->real) : SQLITE_OK;
    sqlite3_free(file->pending);
    file->pending = NULL;
    return rc != SQLITE_OK ? rc : closed;
}

static int fs_read(sqlite3_file *f, void *data, int amount, sqlite3_int64 offset) {
    BufferedFile *file = (BufferedFile *)f;
    int rc = write_pending(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xRead(file->real, data, amount, offset);
}

static int fs_write(sqlite3_file *f, const void *data, int amount, sqlite3_int64 offset) {
    BufferedFile *file = (BufferedFile *)f;
    if (!file->pending) return file->real->pMethods->xWrite(file->real, data, amount, offset);

    int follows = file->length > 0 && offset == file->start + file->length
        && file->length + amount <= BUFFER_CAPACITY;
    if (!follows) {
        int rc = write_pending(file);
        if (rc != SQLITE_OK) return rc;
        if (amount > BUFFER_CAPACITY) {
            file->commitPageNext = 0;
            return file->real->pMethods->xWrite(file->real, data, amount, offset);
        }
        file->start = offset;
    }
    memcpy(file->pending + file->length, data, (size_t)amount);
    file->length += amount;

    if (amount == FRAME_HEADER_BYTES && offset >= WAL_HEADER_BYTES) {
        // Bytes 4-7 of a frame header: the database size after a commit, 0 in other frames.
        const unsigned char *header = data;
        file->commitPageNext = (header[4] | header[5] | header[6] | header[7]) != 0;
        return SQLITE_OK;
    }
    if (file->commitPageNext) {
        file->commitPageNext = 0;
        return write_pending(file);
    }
    return SQLITE_OK;
}

static int fs_truncate(sqlite3_file *f, sqlite3_int64 size) {
    BufferedFile *file = (BufferedFile *)f;
    int rc = write_pending(file);
    return rc != SQLITE_OK ? rc : file->real->pMethods->xTruncate(file->real, size);
}

static int fs_sync(sqlite3_file *f, int flags) {
    BufferedFile *file = (BufferedFile *)f;
    int rc = write_pending(file);
    return rc != SQLITE_OK ? rc : file->real->pMethods->xSync(file->real, flags);
}

static int fs_file_size(sqlite3_file *f, sqlite3_int64 *size) {
    BufferedFile *file = (BufferedFile *)f;
    int rc = write_pending(file);
    return rc != SQLITE_OK ? rc : file->real->pMethods->xFileSize(file->real, size);
}

static int fs_lock(sqlite3_file *f, int level) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xLock(real, level);
}

static int fs_unlock(sqlite3_file *f, int level) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xUnlock(real, level);
}

static int fs_check_reserved_lock(sqlite3_file *f, int *result) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xCheckReservedLock(real, result);
}

static int fs_file_control(sqlite3_file *f, int op, void *arg) {
    BufferedFile *file = (BufferedFile *)f;
    int rc = write_pending(file);
    return rc != SQLITE_OK ? rc : file->real->pMethods->xFileControl(file->real, op, arg);
}

static int fs_sector_size(sqlite3_file *f) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xSectorSize(real);
}

static int fs_device_characteristics(sqlite3_file *f) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xDeviceCharacteristics(real);
}

static int fs_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **out) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xShmMap(real, region, size, extend, out);
}

static int fs_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xShmLock(real, offset, n, flags);
}

static void fs_shm_barrier(sqlite3_file *f) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    real->pMethods->xShmBarrier(real);
}

static int fs_shm_unmap(sqlite3_file *f, int deleteFlag) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xShmUnmap(real, deleteFlag);
}

static int fs_fetch(sqlite3_file *f, sqlite3_int64 offset, int amount, void **out) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xFetch(real, offset, amount, out);
}

static int fs_unfetch(sqlite3_file *f, sqlite3_int64 offset, void *page) {
    sqlite3_file *real = ((BufferedFile *)f)->real;
    return real->pMethods->xUnfetch(real, offset, page);
}

static int vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *outFlags) {
    (void)vfs;
    BufferedFile *file = (BufferedFile *)f;
    memset(file, 0, sizeof(*file));
    file->real = (sqlite3_file *)&file[1];
    int rc = default_vfs->xOpen(default_vfs, name, file->real, flags, outFlags);
    if (rc != SQLITE_OK) {
        if (file->real->pMethods) file->real->pMethods->xClose(file->real);
        return rc;
    }
    if (flags & SQLITE_OPEN_WAL) {
        file->pending = sqlite3_malloc(BUFFER_CAPACITY);
        if (!file->pending) {
            file->real->pMethods->xClose(file->real);
            return SQLITE_NOMEM;
        }
        // SQLite just opened (or created) it by this name, so the name can only fail to resolve
        // if the file is already gone again.
        if (!name || read_identity(name, &file->identity) != 0) {
            fs_close(f);
            return SQLITE_CANTOPEN;
        }
        file->path = name;
    }
    int version = file->real->pMethods->iVersion;
    file->base.pMethods = &methods[version < 1 ? 1 : version > 3 ? 3 : version];
    return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *v, const char *name, int syncDir) {
    (void)v;
    return default_vfs->xDelete(default_vfs, name, syncDir);
}

static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *result) {
    (void)v;
    return default_vfs->xAccess(default_vfs, name, flags, result);
}

static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out) {
    (void)v;
    return default_vfs->xFullPathname(default_vfs, name, n, out);
}

static void *vfs_dl_open(sqlite3_vfs *v, const char *name) {
    (void)v;
    return default_vfs->xDlOpen(default_vfs, name);
}

static void vfs_dl_error(sqlite3_vfs *v, int n, char *message) {
    (void)v;
    default_vfs->xDlError(default_vfs, n, message);
}

static void (*vfs_dl_sym(sqlite3_vfs *v, void *handle, const char *symbol))(void) {
    (void)v;
    return default_vfs->xDlSym(default_vfs, handle, symbol);
}

static void vfs_dl_close(sqlite3_vfs *v, void *handle) {
    (void)v;
    default_vfs->xDlClose(default_vfs, handle);
}

static int vfs_randomness(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    return default_vfs->xRandomness(default_vfs, n, out);
}

static int vfs_sleep(sqlite3_vfs *v, int micros) {
    (void)v;
    return default_vfs->xSleep(default_vfs, micros);
}

static int vfs_current_time(sqlite3_vfs *v, double *now) {
    (void)v;
    return default_vfs->xCurrentTime(default_vfs, now);
}

static int vfs_get_last_error(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    return default_vfs->xGetLastError ? default_vfs->xGetLastError(default_vfs, n, out) : 0;
}

static int vfs_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *now) {
    (void)v;
    return default_vfs->xCurrentTimeInt64(default_vfs, now);
}

static int is_buffered_wal(sqlite3_file *f) {
    return f && f->pMethods >= &methods[1] && f->pMethods <= &methods[3] && ((BufferedFile *)f)->pending;
}

OrchlogWALSync orchlog_wal_buffer_sync(sqlite3 *db, int *sysErrno) {
    *sysErrno = 0;
    sqlite3_file *f = NULL;
    // The WAL's file once the connection has one open, else its (closed) rollback journal.
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK || !is_buffered_wal(f)) {
        return ORCHLOG_WAL_SYNC_NO_WAL;
    }
    BufferedFile *file = (BufferedFile *)f;
    // The default VFS's sync: fdatasync, and at the first sync after SQLite opened the WAL
    // (which may have created it), an fsync of its directory.
    if (fs_sync(f, SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY) != SQLITE_OK) {
        if (file->real->pMethods->xFileControl(file->real, SQLITE_FCNTL_LAST_ERRNO, sysErrno) != SQLITE_OK) {
            *sysErrno = 0;
        }
        return ORCHLOG_WAL_SYNC_FAILED;
    }
    // What was synced must still be the file its path names: a WAL removed or replaced under
    // SQLite is not read back after a restart.
    FileIdentity now;
    if (read_identity(file->path, &now) != 0) {
        *sysErrno = errno;
        return ORCHLOG_WAL_SYNC_MOVED;
    }
    int same = now.inode == file->identity.inode && now.deviceMajor == file->identity.deviceMajor
        && now.deviceMinor == file->identity.deviceMinor;
    return same ? ORCHLOG_WAL_SYNC_OK : ORCHLOG_WAL_SYNC_MOVED;
}

static int register_result = SQLITE_ERROR;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;

static void register_vfs(void) {
    if (sqlite3_initialize() != SQLITE_OK) return;
    default_vfs = sqlite3_vfs_find(NULL);
    if (!default_vfs) return;

    sqlite3_io_methods template = {
        0, fs_close, fs_read, fs_write, fs_truncate, fs_sync, fs_file_size, fs_lock, fs_unlock,
        fs_check_reserved_lock, fs_file_control, fs_sector_size, fs_device_characteristics,
        fs_shm_map, fs_shm_lock, fs_shm_barrier, fs_shm_unmap, fs_fetch, fs_unfetch,
    };
    for (int version = 1; version <= 3; version++) {
        methods[version] = template;
        methods[version].iVersion = version;
    }

    // Version 2 of the VFS: the system-call overrides of version 3 are the default VFS's own.
    buffered_vfs.iVersion = default_vfs->iVersion < 2 ? default_vfs->iVersion : 2;
    buffered_vfs.szOsFile = (int)sizeof(BufferedFile) + default_vfs->szOsFile;
    buffered_vfs.mxPathname = default_vfs->mxPathname;
    buffered_vfs.zName = orchlog_wal_buffer_vfs_name;
    buffered_vfs.xOpen = vfs_open;
    buffered_vfs.xDelete = vfs_delete;
    buffered_vfs.xAccess = vfs_access;
    buffered_vfs.xFullPathname = vfs_full_pathname;
    buffered_vfs.xDlOpen = vfs_dl_open;
    buffered_vfs.xDlError = vfs_dl_error;
    buffered_vfs.xDlSym = vfs_dl_sym;
    buffered_vfs.xDlClose = vfs_dl_close;
    buffered_vfs.xRandomness = vfs_randomness;
    buffered_vfs.xSleep = vfs_sleep;
    buffered_vfs.xCurrentTime = vfs_current_time;
    buffered_vfs.xGetLastError = vfs_get_last_error;
    buffered_vfs.xCurrentTimeInt64 = vfs_current_time_int64;
    register_result = sqlite3_vfs_register(&buffered_vfs, 0);
}

int orchlog_wal_buffer_register(void) {
    pthread_once(&register_once, register_vfs);
    return register_result;
}
