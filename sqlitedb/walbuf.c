//go:build cgo

// walbuf: a VFS shim that gathers a transaction's writes to its -wal file
// into one write(2). docs/design-walbuf.md states its contract and how it
// is tested (the power-loss suite, TestPowerLoss*).
//
// SQLite writes each WAL frame with two pwrite(2) calls, its 24-byte
// header and then the page, so a commit of 75 pages costs 150 system
// calls, and most of each call's cost in the kernel is per call, not per
// byte (measured on this machine's ext4: 3.7 µs per frame written in two
// calls, 1.1 µs per frame written as one run). The shim keeps the writes of
// a -wal file in a buffer for as long as they are contiguous and writes
// the buffer out in one call:
//
//   - when it writes the page of a commit frame (a frame header whose
//     "database size after commit" field is not zero), inside that xWrite,
//     so an error (a full disk) fails the commit like an unbuffered write
//     would, and no commit returns before its frames are in the OS;
//   - when it writes a commit frame's header over a frame already in the
//     file, which SQLite does when a transaction's pages spilled to the WAL
//     before its commit (walRewriteChecksums reads each frame, then
//     rewrites its header; no page write follows): inside that xWrite too;
//   - before anything else touches the file: a read, a sync, a truncate,
//     a size query, a file control, a lock, close;
//   - when a write is not contiguous with the buffer, or does not fit;
//   - as a safety net, on the database file's xShmBarrier and xShmLock,
//     which SQLite calls before it publishes a new WAL-index header: other
//     connections only ever read frames that the header names;
//   - on "PRAGMA cortex_walbuf_check", which sqlitedb runs after each
//     COMMIT before it acknowledges the transaction.
//
// Errors. The bytes pending are always the running transaction's, so a
// write that fails inside a call that can return an error (xWrite, xRead,
// xSync, ...) fails that transaction in SQLite, exactly as an unbuffered
// write would. A write that fails where no error can be returned (the
// barrier, a lock change, xUnlock), and any failed sync, is kept: from then
// on every call on that -wal file that can fail returns it, and so does
// "PRAGMA cortex_walbuf_check", which sqlitedb runs before acknowledging a
// commit. So no commit is acknowledged over a WAL whose contents are
// unknown; sqlitedb then refuses writes (ErrWALFailed).
//
// Only -wal files are buffered; the database file, the -shm and journals
// pass straight through to the VFS below. The shim is registered under
// the name "cortex-walbuf", not as the default.
//
// The few SQLite declarations needed are in internal/sqliteabi/sqlite_vfs.h.

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_vfs.h"

// The most a -wal file buffers: a larger transaction is written in runs of
// this size.
#define WALBUF_CAP (1 << 20)

// The most the default VFS writes in one call: its unixWrite masks the
// length with 0x1ffff, and fails a longer write whose remainder is a
// multiple of 128 KiB as if the disk were full.
#define WALBUF_WRITE_MAX (128 * 1024 - 1024)

// The size of a WAL frame header (https://www.sqlite.org/walformat.html).
#define WAL_FRAME_HDRSIZE 24

#define SQLITE_FCNTL_PRAGMA 14
#define SQLITE_NOTFOUND 12

extern int sqlite3_libversion_number(void) __attribute__((weak));
extern char *sqlite3_mprintf(const char *, ...) __attribute__((weak));
extern void *sqlite3_malloc(int) __attribute__((weak));

// The SQLite versions the shim was tested with (the power-loss suite):
// it depends on how walFrames and walRewriteChecksums write a WAL.
#define WALBUF_MIN_VERSION 3054000
#define WALBUF_MAX_VERSION 3054999

// A shim's VFS: pAppData points to this.
typedef struct walbufVfsData {
	sqlite3_vfs *under; // the VFS calls pass on to
	int buffer;         // 0: a pass-through (Config.NoWALBuffer), which still
	                    // answers the pragmas and the WAL-index reads
} walbufVfsData;

typedef struct walbufFile walbufFile;
struct walbufFile {
	sqlite3_file base;   // pMethods: &walbufMethods
	sqlite3_file *real;  // the VFS below's file, just after this struct
	int isWal;
	int buffered;        // -wal files of a buffering shim
	walbufFile *wal;     // main database file: its -wal file, when open

	// Main database files: the open ones are in a list, so that sqlitedb
	// can read the WAL index from SQLite's own mapping of the -shm
	// (cortex_walbuf_wal_index) instead of opening the file itself.
	const char *name;    // SQLite keeps it valid while the file is open
	volatile unsigned char *shm0; // the -shm's first region, when mapped
	walbufFile *next;

	// -wal files only.
	walbufFile *db;      // the database file this -wal belongs to
	char *buf;           // pending bytes, written at bufOff
	int nBuf;
	sqlite3_int64 bufOff;
	int commitPending;   // the last write was a commit frame's header
	sqlite3_int64 lastRead; // offset of the last call if it was a read; else -1
	int failed;          // the first write or sync that failed: kept for good
};

// Counters for tests (walbufCounts): writes SQLite asked for on -wal
// files, and the write calls the shim made for them.
static long long walbufWrites, walbufCalls;
// walbufDBSyncs counts the database-file syncs "PRAGMA cortex_db_sync" made.
static long long walbufDBSyncs;

// Test hook (walbufBreakForTest): when set, the shim no longer knows
// where a transaction ends: no flush at a commit frame, at the WAL-index
// barrier and lock, or on the check pragma. The power-loss suite must then
// fail (TestPowerLossCatchesBrokenWALBuffer).
static int walbufBroken;

static sqlite3_io_methods walbufMethods;

// A shim's VFS keeps the VFS it passes calls to in pAppData.
#define B(v) (((walbufVfsData *)(v)->pAppData)->under)

// The open main database files (walbufFile.next), under dbMu.
static pthread_mutex_t dbMu = PTHREAD_MUTEX_INITIALIZER;
static walbufFile *dbFiles;

// flush writes the pending bytes out, after reporting a failure kept from
// before. The pending bytes are always the running transaction's (the
// commit's last write flushes), so a failure returned here fails that
// transaction in SQLite, as an unbuffered write would.
static int flush(walbufFile *p) {
	if (p->failed != SQLITE_OK) {
		p->nBuf = 0;
		return p->failed;
	}
	if (p->nBuf == 0) {
		return SQLITE_OK;
	}
	int rc = SQLITE_OK;
	for (int done = 0; done < p->nBuf && rc == SQLITE_OK;) {
		int n = p->nBuf - done;
		if (n > WALBUF_WRITE_MAX) {
			n = WALBUF_WRITE_MAX;
		}
		rc = p->real->pMethods->xWrite(p->real, p->buf + done, n, p->bufOff + done);
		__atomic_add_fetch(&walbufCalls, 1, __ATOMIC_RELAXED);
		done += n;
	}
	p->nBuf = 0;
	return rc;
}

// flushKeep flushes where an error cannot be returned to SQLite: a failure
// is kept, and every later call on the file returns it.
static void flushKeep(walbufFile *p) {
	int rc = flush(p);
	if (rc != SQLITE_OK) {
		p->failed = rc;
	}
}

// flushAll flushes a -wal file (and reports a failure kept from before);
// for other files it does nothing.
static int flushAll(walbufFile *p) {
	if (!p->isWal) {
		return SQLITE_OK;
	}
	return flush(p);
}

static int wbClose(sqlite3_file *f) {
	walbufFile *p = (walbufFile *)f;
	int rc = flushAll(p);
	if (p->isWal && p->db && p->db->wal == p) {
		p->db->wal = 0;
	}
	if (!p->isWal && p->wal && p->wal->db == p) {
		p->wal->db = 0;
	}
	if (p->name) {
		pthread_mutex_lock(&dbMu);
		for (walbufFile **q = &dbFiles; *q; q = &(*q)->next) {
			if (*q == p) {
				*q = p->next;
				break;
			}
		}
		p->shm0 = 0;
		pthread_mutex_unlock(&dbMu);
	}
	free(p->buf);
	p->buf = 0;
	int rc2 = p->real->pMethods->xClose(p->real);
	return rc != SQLITE_OK ? rc : rc2;
}

// Calls that flush the pending bytes first, then pass on to the VFS
// below: anything that reads, syncs, sizes, truncates or locks the file
// must see every byte SQLite wrote. After a failure they return it.
#define FLUSH_THEN(method, params, args)                               \
	static int wb##method params {                                     \
		walbufFile *p = (walbufFile *)f;                               \
		p->lastRead = -1;                                              \
		int rc = flushAll(p);                                          \
		return rc != SQLITE_OK ? rc : p->real->pMethods->x##method args; \
	}

FLUSH_THEN(Truncate, (sqlite3_file * f, sqlite3_int64 size), (p->real, size))
FLUSH_THEN(FileSize, (sqlite3_file * f, sqlite3_int64 *size), (p->real, size))
FLUSH_THEN(Lock, (sqlite3_file * f, int lock), (p->real, lock))

static int wbRead(sqlite3_file *f, void *out, int n, sqlite3_int64 off) {
	walbufFile *p = (walbufFile *)f;
	int rc = flushAll(p);
	if (rc != SQLITE_OK) {
		return rc;
	}
	p->lastRead = off;
	return p->real->pMethods->xRead(p->real, out, n, off);
}

static int wbSync(sqlite3_file *f, int flags) {
	walbufFile *p = (walbufFile *)f;
	p->lastRead = -1;
	int rc = flushAll(p);
	if (rc != SQLITE_OK) {
		return rc;
	}
	rc = p->real->pMethods->xSync(p->real, flags);
	if (rc != SQLITE_OK && p->isWal) {
		// After a failed fsync the kernel may have dropped the dirty
		// pages: what the file holds is unknown.
		p->failed = rc;
	}
	return rc;
}

// Unlock always reaches the VFS below: SQLite must not keep a lock
// because a write failed.
static int wbUnlock(sqlite3_file *f, int lock) {
	walbufFile *p = (walbufFile *)f;
	p->lastRead = -1;
	if (p->isWal) {
		flushKeep(p);
	}
	return p->real->pMethods->xUnlock(p->real, lock);
}

// checkPragma answers "PRAGMA cortex_walbuf_check" on a database file:
// its -wal's pending bytes are written, and any failure since it was
// opened is returned.
static int checkPragma(walbufFile *db, char **azArg) {
	walbufFile *w = db->wal;
	if (w == 0) {
		return SQLITE_OK;
	}
	if (!walbufBroken) {
		flushKeep(w);
	}
	int rc = w->failed;
	if (rc != SQLITE_OK && sqlite3_mprintf != 0) {
		azArg[0] = sqlite3_mprintf(
		    "walbuf: a write or sync of the -wal file failed (SQLite result code %d); "
		    "the WAL's contents are unknown and no further writes are accepted", rc);
	}
	return rc;
}

// syncPragma answers "PRAGMA cortex_wal_sync" on a database file: its
// connection's -wal is written out and synced, on the connection's own
// thread. A failure is kept, as any failed sync of a -wal.
static int syncPragma(walbufFile *db, char **azArg) {
	walbufFile *w = db->wal;
	if (w == 0) {
		return SQLITE_OK;
	}
	int rc = wbSync((sqlite3_file *)w, 2 /* SQLITE_SYNC_NORMAL */);
	if (rc != SQLITE_OK) {
		w->failed = rc;
		if (sqlite3_mprintf != 0) {
			azArg[0] = sqlite3_mprintf("walbuf: fsync of the -wal file failed (SQLite result code %d)", rc);
		}
	}
	return rc;
}

// dbSyncPragma answers "PRAGMA cortex_db_sync" on a database file: the
// database file itself is synced, on the connection's own thread. sqlitedb's
// checkpointer runs it after its PASSIVE passes: under continuous writes a
// pass never copies the last frame, so SQLite does not sync the database
// file after it, and the checkpoint that does complete (on the writer,
// which then waits) would write back every page the passes copied. It only
// hastens what that checkpoint does; SQLite still syncs the database file
// before the WAL can start over.
static int dbSyncPragma(walbufFile *db, char **azArg) {
	int rc = wbSync((sqlite3_file *)db, 2 /* SQLITE_SYNC_NORMAL */);
	__atomic_add_fetch(&walbufDBSyncs, 1, __ATOMIC_RELAXED);
	if (rc != SQLITE_OK && sqlite3_mprintf != 0) {
		azArg[0] = sqlite3_mprintf("walbuf: fsync of the database file failed (SQLite result code %d)", rc);
	}
	return rc;
}

static int wbFileControl(sqlite3_file *f, int op, void *arg) {
	walbufFile *p = (walbufFile *)f;
	if (op == SQLITE_FCNTL_PRAGMA && !p->isWal) {
		char **azArg = arg;
		if (azArg[1] != 0 && strcmp(azArg[1], "cortex_walbuf_check") == 0) {
			return checkPragma(p, azArg);
		}
		if (azArg[1] != 0 && strcmp(azArg[1], "cortex_wal_sync") == 0) {
			return syncPragma(p, azArg);
		}
		if (azArg[1] != 0 && strcmp(azArg[1], "cortex_db_sync") == 0) {
			return dbSyncPragma(p, azArg);
		}
	}
	p->lastRead = -1;
	int rc = flushAll(p);
	return rc != SQLITE_OK ? rc : p->real->pMethods->xFileControl(p->real, op, arg);
}

// Dirty pages, for a backup's copy of the database file in rounds
// (backupfile.go): while a database file is tracked, every page number the
// writer puts in a WAL frame of it is set in a bitmap, which the backup
// takes (cortex_dirty_swap) at moments when the WAL is all in the file,
// and copies those pages again. A set names its file by SQLite's name for
// it; each backup has its own. A bitmap that cannot grow marks its set
// failed, and the backup falls back.
typedef struct dirtySet dirtySet;
struct dirtySet {
	char *name;
	unsigned char *bits;
	unsigned long long nbits;
	int failed;
	dirtySet *next;
};
static pthread_mutex_t dirtyMu = PTHREAD_MUTEX_INITIALIZER;
static dirtySet *dirtySets;
static int dirtyCount; // sets tracked: read without the lock, as a hint

// dirtyMark sets the page of the frame header h written to p, a -wal file,
// in every set tracking its database.
static void dirtyMark(walbufFile *p, const unsigned char *h) {
	if (__atomic_load_n(&dirtyCount, __ATOMIC_ACQUIRE) == 0 || p->db == 0 || p->db->name == 0) {
		return;
	}
	unsigned long long pg = ((unsigned long long)h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3];
	pthread_mutex_lock(&dirtyMu);
	for (dirtySet *d = dirtySets; d; d = d->next) {
		if (d->failed || strcmp(d->name, p->db->name) != 0) {
			continue;
		}
		if (pg >= d->nbits) {
			unsigned long long n = d->nbits * 2;
			if (n <= pg) {
				n = pg + 1;
			}
			n = (n + 7) & ~7ULL;
			unsigned char *b = realloc(d->bits, n / 8);
			if (b == 0) {
				d->failed = 1;
				continue;
			}
			memset(b + d->nbits / 8, 0, (n - d->nbits) / 8);
			d->bits = b;
			d->nbits = n;
		}
		d->bits[pg >> 3] |= (unsigned char)(1 << (pg & 7));
	}
	pthread_mutex_unlock(&dirtyMu);
}

// cortex_dirty_start starts a set tracking the database SQLite names name,
// with room for pages pages; it returns the set, or 0 when memory ran out.
void *cortex_dirty_start(const char *name, unsigned long long pages) {
	dirtySet *d = calloc(1, sizeof(*d));
	unsigned long long n = ((pages + 1) + 7) & ~7ULL;
	if (d == 0 || (d->name = strdup(name)) == 0 || (d->bits = calloc(n / 8, 1)) == 0) {
		if (d != 0) {
			free(d->name);
		}
		free(d);
		return 0;
	}
	d->nbits = n;
	pthread_mutex_lock(&dirtyMu);
	d->next = dirtySets;
	dirtySets = d;
	__atomic_add_fetch(&dirtyCount, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&dirtyMu);
	return d;
}

// cortex_dirty_swap hands the pages set in set since its start or the last
// swap to the caller (*bits, *nbits; free it with free) and starts anew:
// 0, or 1 when the set failed (memory ran out).
int cortex_dirty_swap(void *set, unsigned char **bits, unsigned long long *nbits) {
	dirtySet *d = set;
	int rc = 1;
	pthread_mutex_lock(&dirtyMu);
	unsigned char *fresh = d->failed ? 0 : calloc(d->nbits / 8, 1);
	if (fresh != 0) {
		*bits = d->bits;
		*nbits = d->nbits;
		d->bits = fresh;
		rc = 0;
	}
	pthread_mutex_unlock(&dirtyMu);
	return rc;
}

// cortex_dirty_stop ends set.
void cortex_dirty_stop(void *set) {
	pthread_mutex_lock(&dirtyMu);
	for (dirtySet **pp = &dirtySets; *pp; pp = &(*pp)->next) {
		if (*pp == set) {
			*pp = ((dirtySet *)set)->next;
			__atomic_sub_fetch(&dirtyCount, 1, __ATOMIC_RELEASE);
			break;
		}
	}
	pthread_mutex_unlock(&dirtyMu);
	dirtySet *d = set;
	free(d->bits);
	free(d->name);
	free(d);
}

static int wbWrite(sqlite3_file *f, const void *data, int n, sqlite3_int64 off) {
	walbufFile *p = (walbufFile *)f;
	if (p->isWal && n == WAL_FRAME_HDRSIZE) {
		dirtyMark(p, data);
	}
	if (!p->buffered) {
		return p->real->pMethods->xWrite(p->real, data, n, off);
	}
	if (p->failed != SQLITE_OK) {
		return p->failed;
	}
	__atomic_add_fetch(&walbufWrites, 1, __ATOMIC_RELAXED);
	int rc;
	int endsCommit = p->commitPending;
	int afterRead = p->lastRead == off;
	p->commitPending = 0;
	p->lastRead = -1;
	if (p->nBuf > 0 && (off != p->bufOff + p->nBuf || p->nBuf + n > WALBUF_CAP)) {
		rc = flushAll(p);
		if (rc != SQLITE_OK) {
			return rc;
		}
	}
	if (n > WALBUF_CAP) {
		rc = flushAll(p);
		if (rc == SQLITE_OK) {
			rc = p->real->pMethods->xWrite(p->real, data, n, off);
			__atomic_add_fetch(&walbufCalls, 1, __ATOMIC_RELAXED);
		}
		return rc;
	}
	if (p->buf == 0) {
		p->buf = malloc(WALBUF_CAP);
		if (p->buf == 0) {
			__atomic_add_fetch(&walbufCalls, 1, __ATOMIC_RELAXED);
			return p->real->pMethods->xWrite(p->real, data, n, off);
		}
	}
	if (p->nBuf == 0) {
		p->bufOff = off;
	}
	memcpy(p->buf + p->nBuf, data, n);
	p->nBuf += n;
	if (n == WAL_FRAME_HDRSIZE && !walbufBroken) {
		// A frame header: bytes 4-7 are the database size after commit,
		// big-endian, not zero only in a transaction's commit frame.
		const unsigned char *h = data;
		if ((h[4] | h[5] | h[6] | h[7]) != 0) {
			if (afterRead) {
				// A header rewritten over a frame just read back
				// (walRewriteChecksums): no page follows.
				return flushAll(p);
			}
			p->commitPending = 1;
		}
		return SQLITE_OK;
	}
	if (endsCommit) {
		// The page of a commit frame: the transaction's last write.
		return flushAll(p);
	}
	return SQLITE_OK;
}

static int wbCheckReservedLock(sqlite3_file *f, int *out) {
	walbufFile *p = (walbufFile *)f;
	return p->real->pMethods->xCheckReservedLock(p->real, out);
}

static int wbSectorSize(sqlite3_file *f) {
	walbufFile *p = (walbufFile *)f;
	return p->real->pMethods->xSectorSize(p->real);
}

static int wbDeviceCharacteristics(sqlite3_file *f) {
	walbufFile *p = (walbufFile *)f;
	return p->real->pMethods->xDeviceCharacteristics(p->real);
}

// flushWAL flushes a database file's -wal before SQLite touches the WAL
// index. A failure is kept in the -wal file (returned by its next call
// and by the check pragma), as these calls cannot return one.
static void flushWAL(walbufFile *db) {
	walbufFile *w = db->wal;
	if (w != 0 && w->nBuf > 0 && !walbufBroken) {
		flushKeep(w);
	}
}

static int wbShmMap(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp) {
	walbufFile *p = (walbufFile *)f;
	if (p->real->pMethods->iVersion < 2) {
		return SQLITE_IOERR;
	}
	int rc = p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, pp);
	if (rc == SQLITE_OK && pg == 0 && p->name && *pp != 0) {
		pthread_mutex_lock(&dbMu);
		p->shm0 = (volatile unsigned char *)*pp;
		pthread_mutex_unlock(&dbMu);
	}
	return rc;
}

static int wbShmLock(sqlite3_file *f, int offset, int n, int flags) {
	walbufFile *p = (walbufFile *)f;
	if (p->real->pMethods->iVersion < 2) {
		return SQLITE_IOERR;
	}
	if (flags & SQLITE_SHM_UNLOCK) {
		flushWAL(p);
	}
	return p->real->pMethods->xShmLock(p->real, offset, n, flags);
}

static void wbShmBarrier(sqlite3_file *f) {
	walbufFile *p = (walbufFile *)f;
	if (p->real->pMethods->iVersion < 2) {
		return;
	}
	flushWAL(p);
	p->real->pMethods->xShmBarrier(p->real);
}

static int wbShmUnmap(sqlite3_file *f, int deleteFlag) {
	walbufFile *p = (walbufFile *)f;
	if (p->real->pMethods->iVersion < 2) {
		return SQLITE_OK;
	}
	flushWAL(p);
	if (p->name) {
		pthread_mutex_lock(&dbMu);
		p->shm0 = 0;
		pthread_mutex_unlock(&dbMu);
	}
	return p->real->pMethods->xShmUnmap(p->real, deleteFlag);
}

static int wbFetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) {
	walbufFile *p = (walbufFile *)f;
	if (p->real->pMethods->iVersion < 3) {
		*pp = 0;
		return SQLITE_OK;
	}
	return p->real->pMethods->xFetch(p->real, off, n, pp);
}

static int wbUnfetch(sqlite3_file *f, sqlite3_int64 off, void *ptr) {
	walbufFile *p = (walbufFile *)f;
	if (p->real->pMethods->iVersion < 3) {
		return SQLITE_OK;
	}
	return p->real->pMethods->xUnfetch(p->real, off, ptr);
}

static int wbOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outFlags) {
	walbufFile *p = (walbufFile *)f;
	memset(p, 0, sizeof(*p));
	p->lastRead = -1;
	p->real = (sqlite3_file *)&p[1];
	int rc = B(vfs)->xOpen(B(vfs), name, p->real, flags, outFlags);
	if (p->real->pMethods == 0) {
		// Failed to open: SQLite will not call xClose.
		p->base.pMethods = 0;
		return rc;
	}
	p->base.pMethods = &walbufMethods;
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_MAIN_DB) && name != 0) {
		p->name = name;
		pthread_mutex_lock(&dbMu);
		p->next = dbFiles;
		dbFiles = p;
		pthread_mutex_unlock(&dbMu);
	}
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) && name != 0) {
		p->isWal = 1;
		p->buffered = ((walbufVfsData *)vfs->pAppData)->buffer;
		sqlite3_file *dbf = sqlite3_database_file_object(name);
		if (dbf != 0 && dbf->pMethods == &walbufMethods) {
			p->db = (walbufFile *)dbf;
			p->db->wal = p;
		}
	}
	return rc;
}

static int wbDelete(sqlite3_vfs *v, const char *n, int s) { return B(v)->xDelete(B(v), n, s); }
static int wbAccess(sqlite3_vfs *v, const char *n, int fl, int *o) { return B(v)->xAccess(B(v), n, fl, o); }
static int wbFullPathname(sqlite3_vfs *v, const char *n, int no, char *o) {
	return B(v)->xFullPathname(B(v), n, no, o);
}
static void *wbDlOpen(sqlite3_vfs *v, const char *n) { return B(v)->xDlOpen(B(v), n); }
static void wbDlError(sqlite3_vfs *v, int n, char *o) { B(v)->xDlError(B(v), n, o); }
static void (*wbDlSym(sqlite3_vfs *v, void *h, const char *s))(void) { return B(v)->xDlSym(B(v), h, s); }
static void wbDlClose(sqlite3_vfs *v, void *h) { B(v)->xDlClose(B(v), h); }
static int wbRandomness(sqlite3_vfs *v, int n, char *o) { return B(v)->xRandomness(B(v), n, o); }
static int wbSleep(sqlite3_vfs *v, int us) { return B(v)->xSleep(B(v), us); }
static int wbCurrentTime(sqlite3_vfs *v, double *t) { return B(v)->xCurrentTime(B(v), t); }
static int wbGetLastError(sqlite3_vfs *v, int n, char *o) { return B(v)->xGetLastError(B(v), n, o); }
static int wbCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *t) {
	return B(v)->xCurrentTimeInt64(B(v), t);
}

// cortex_walbuf_counts reports the counters.
void cortex_walbuf_counts(long long *writes, long long *calls) {
	*writes = __atomic_load_n(&walbufWrites, __ATOMIC_RELAXED);
	*calls = __atomic_load_n(&walbufCalls, __ATOMIC_RELAXED);
}

// cortex_walbuf_db_syncs reports walbufDBSyncs.
long long cortex_walbuf_db_syncs(void) { return __atomic_load_n(&walbufDBSyncs, __ATOMIC_RELAXED); }

// cortex_walbuf_break sets the test hook (see walbufBroken).
void cortex_walbuf_break(int on) { walbufBroken = on; }

// cortex_walbuf_version is the linked SQLite's version number, or 0.
int cortex_walbuf_version(void) {
	return sqlite3_libversion_number ? sqlite3_libversion_number() : 0;
}

// cortex_walbuf_wal_index reads mxFrame (offset 16 of the WAL-index
// header) and nBackfill (offset 96) from the -shm mapping of an open
// connection to the database SQLite names path; it returns 0 when none
// has it mapped. https://www.sqlite.org/walformat.html#the_wal_index_file_format
// It takes no lock; a torn read is as good as a stale one to its callers.
int cortex_walbuf_wal_index(const char *path, unsigned *mx, unsigned *backfill) {
	int found = 0;
	pthread_mutex_lock(&dbMu);
	for (walbufFile *p = dbFiles; p; p = p->next) {
		if (p->shm0 != 0 && strcmp(p->name, path) == 0) {
			*mx = *(volatile unsigned *)(p->shm0 + 16);
			*backfill = *(volatile unsigned *)(p->shm0 + 96);
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&dbMu);
	return found;
}

// cortex_walbuf_register registers a shim named name over the VFS named
// base (the default VFS when base is NULL); buffer 0 makes it a
// pass-through. It returns an SQLite result code; SQLITE_NOTFOUND when
// this SQLite's version is outside the tested range. The name must stay
// valid for the life of the process.
int cortex_walbuf_register(const char *name, const char *base, int buffer) {
	if (sqlite3_vfs_find == 0 || sqlite3_vfs_register == 0 || sqlite3_database_file_object == 0 ||
	    sqlite3_libversion_number == 0) {
		return SQLITE_ERROR;
	}
	int v = sqlite3_libversion_number();
	if (v < WALBUF_MIN_VERSION || v > WALBUF_MAX_VERSION) {
		return SQLITE_NOTFOUND;
	}
	if (sqlite3_vfs_find(name) != 0) {
		return SQLITE_OK;
	}
	sqlite3_vfs *under = sqlite3_vfs_find(base);
	if (under == 0 || under->iVersion < 2) {
		return SQLITE_ERROR;
	}
	walbufMethods = (sqlite3_io_methods){
		3, wbClose, wbRead, wbWrite, wbTruncate, wbSync, wbFileSize, wbLock, wbUnlock,
		wbCheckReservedLock, wbFileControl, wbSectorSize, wbDeviceCharacteristics,
		wbShmMap, wbShmLock, wbShmBarrier, wbShmUnmap, wbFetch, wbUnfetch,
	};
	sqlite3_vfs *vfs = malloc(sizeof(sqlite3_vfs));
	walbufVfsData *data = malloc(sizeof(walbufVfsData));
	if (vfs == 0 || data == 0) {
		free(vfs);
		free(data);
		return SQLITE_NOMEM;
	}
	*data = (walbufVfsData){under, buffer};
	*vfs = (sqlite3_vfs){
		2, (int)sizeof(walbufFile) + under->szOsFile, under->mxPathname, 0, name, data,
		wbOpen, wbDelete, wbAccess, wbFullPathname, wbDlOpen, wbDlError, wbDlSym, wbDlClose,
		wbRandomness, wbSleep, wbCurrentTime, wbGetLastError, wbCurrentTimeInt64,
	};
	int rc = sqlite3_vfs_register(vfs, 0);
	if (rc != SQLITE_OK) {
		free(vfs);
		free(data);
	}
	return rc;
}

// Reading a file through SQLite's own VFS (checkWAL in walcheck.go): the
// -wal file of a database no connection of this process has opened yet is
// read with the default VFS's xOpen/xRead/xClose, the calls SQLite itself
// makes, instead of a descriptor Go opens beside SQLite's.

#define SQLITE_OPEN_READONLY 0x00000001
#define SQLITE_IOERR_SHORT_READ (SQLITE_IOERR | (2 << 8))

extern void sqlite3_free(void *) __attribute__((weak));

// cortex_vfs_open_wal opens path read-only as a WAL file through SQLite's
// default VFS and returns the open file, or 0 with *rc set (SQLITE_CANTOPEN
// when it does not exist). path must stay valid until cortex_vfs_close.
sqlite3_file *cortex_vfs_open_wal(const char *path, int *rc) {
	sqlite3_vfs *vfs = sqlite3_vfs_find ? sqlite3_vfs_find(0) : 0;
	if (vfs == 0 || sqlite3_malloc == 0) {
		*rc = SQLITE_ERROR;
		return 0;
	}
	sqlite3_file *f = sqlite3_malloc(vfs->szOsFile);
	if (f == 0) {
		*rc = SQLITE_NOMEM;
		return 0;
	}
	memset(f, 0, vfs->szOsFile);
	int out = 0;
	*rc = vfs->xOpen(vfs, path, f, SQLITE_OPEN_READONLY | SQLITE_OPEN_WAL, &out);
	if (*rc != SQLITE_OK) {
		if (f->pMethods != 0) {
			f->pMethods->xClose(f);
		}
		sqlite3_free(f);
		return 0;
	}
	return f;
}

// cortex_vfs_read reads n bytes at off: SQLITE_OK, or
// SQLITE_IOERR_SHORT_READ past the end of the file, or an error.
int cortex_vfs_read(sqlite3_file *f, void *buf, int n, long long off) {
	return f->pMethods->xRead(f, buf, n, off);
}

// cortex_vfs_close closes a file cortex_vfs_open_wal opened.
void cortex_vfs_close(sqlite3_file *f) {
	f->pMethods->xClose(f);
	sqlite3_free(f);
}
