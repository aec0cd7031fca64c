//go:build cgo

// crashvfs: a VFS that passes every call to SQLite's default VFS and
// journals, in order, each write, sync, truncate and delete made to the
// database and -wal files it opens, with the bytes written. A test replays
// the journal up to any point and "cuts the power" there: what a completed
// sync covered survives, the rest may be dropped, reordered or torn
// (package crashvfs, replay.go). It is the approach of SQLite's own crash
// tests (src/test6.c), moved out of the process: the test runs the workload
// once against real files and checks thousands of crash images afterwards.
//
// The SQLite declarations needed are in ../sqliteabi/sqlite_vfs.h.

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_vfs.h"

// Journal entry kinds; the same numbers are in crashvfs.go.
enum { OP_WRITE = 1, OP_SYNC = 2, OP_TRUNCATE = 3, OP_DELETE = 4, OP_MARK = 5 };

typedef struct crashOp {
	int kind;
	int file;             // index into names; -1 for a mark
	sqlite3_int64 off;    // write offset, truncate size, or the mark
	sqlite3_int64 len;    // bytes written
	sqlite3_int64 data;   // offset of the bytes in blob
} crashOp;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int recording;
static crashOp *ops;
static long nOps, capOps;
static unsigned char *blob;
static sqlite3_int64 nBlob, capBlob;
#define MAX_FILES 64
static char *names[MAX_FILES];
static int nNames;
static int oom;

// fileID returns the index of name, adding it; -1 when full. Holds mu.
static int fileID(const char *name) {
	for (int i = 0; i < nNames; i++) {
		if (strcmp(names[i], name) == 0) {
			return i;
		}
	}
	if (nNames == MAX_FILES) {
		return -1;
	}
	names[nNames] = strdup(name);
	if (names[nNames] == 0) {
		return -1;
	}
	return nNames++;
}

// record appends an entry (and its bytes) to the journal when recording.
static void record(int kind, const char *name, sqlite3_int64 off, const void *data, sqlite3_int64 len) {
	pthread_mutex_lock(&mu);
	if (!recording || oom) {
		pthread_mutex_unlock(&mu);
		return;
	}
	int id = name ? fileID(name) : -1;
	if (name && id < 0) {
		oom = 1;
		pthread_mutex_unlock(&mu);
		return;
	}
	if (nOps == capOps) {
		long c = capOps ? capOps * 2 : 4096;
		crashOp *n = realloc(ops, c * sizeof(crashOp));
		if (n == 0) {
			oom = 1;
			pthread_mutex_unlock(&mu);
			return;
		}
		ops = n;
		capOps = c;
	}
	if (data && nBlob + len > capBlob) {
		sqlite3_int64 c = capBlob ? capBlob : (1 << 20);
		while (c < nBlob + len) {
			c *= 2;
		}
		unsigned char *n = realloc(blob, c);
		if (n == 0) {
			oom = 1;
			pthread_mutex_unlock(&mu);
			return;
		}
		blob = n;
		capBlob = c;
	}
	crashOp *o = &ops[nOps++];
	o->kind = kind;
	o->file = id;
	o->off = off;
	o->len = data ? len : 0;
	o->data = nBlob;
	if (data) {
		memcpy(blob + nBlob, data, len);
		nBlob += len;
	}
	pthread_mutex_unlock(&mu);
}

typedef struct crashFile {
	sqlite3_file base;
	sqlite3_file *real;
	const char *name; // journaled files only; SQLite keeps the string alive while open
	int isWal;
} crashFile;

// Fault injection (crashvfs_fail): once failAfter writes to -wal files have
// succeeded, every further write to one fails with SQLITE_IOERR_WRITE; -1
// turns it off. failed counts the writes failed.
static long failAfter = -1, walWritesOK, failed;

// failNow reports whether this -wal write is to fail, counting it.
static int failNow(void) {
	pthread_mutex_lock(&mu);
	int r = 0;
	if (failAfter >= 0 && walWritesOK >= failAfter) {
		failed++;
		r = 1;
	} else {
		walWritesOK++;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

static sqlite3_vfs crashVfs;
static sqlite3_io_methods crashMethods;

static sqlite3_vfs *baseVfs(void) { return (sqlite3_vfs *)crashVfs.pAppData; }

static int cClose(sqlite3_file *f) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xClose(p->real);
}
static int cRead(sqlite3_file *f, void *out, int n, sqlite3_int64 off) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xRead(p->real, out, n, off);
}
static int cWrite(sqlite3_file *f, const void *data, int n, sqlite3_int64 off) {
	crashFile *p = (crashFile *)f;
	if (p->isWal && failNow()) {
		return SQLITE_IOERR | (3 << 8); // SQLITE_IOERR_WRITE
	}
	int rc = p->real->pMethods->xWrite(p->real, data, n, off);
	if (rc == SQLITE_OK && p->name) {
		record(OP_WRITE, p->name, off, data, n);
	}
	return rc;
}
static int cTruncate(sqlite3_file *f, sqlite3_int64 size) {
	crashFile *p = (crashFile *)f;
	int rc = p->real->pMethods->xTruncate(p->real, size);
	if (rc == SQLITE_OK && p->name) {
		record(OP_TRUNCATE, p->name, size, 0, 0);
	}
	return rc;
}
static int cSync(sqlite3_file *f, int flags) {
	crashFile *p = (crashFile *)f;
	// The journal decides what a power cut keeps, so a journaled file's
	// sync is recorded, not made: fsync would only slow the workload.
	int rc = p->name ? SQLITE_OK : p->real->pMethods->xSync(p->real, flags);
	if (rc == SQLITE_OK && p->name) {
		// Journaled once it has completed: a sync still running when the
		// power goes covers nothing.
		record(OP_SYNC, p->name, 0, 0, 0);
	}
	return rc;
}
static int cFileSize(sqlite3_file *f, sqlite3_int64 *size) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xFileSize(p->real, size);
}
static int cLock(sqlite3_file *f, int l) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xLock(p->real, l);
}
static int cUnlock(sqlite3_file *f, int l) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xUnlock(p->real, l);
}
static int cCheckReservedLock(sqlite3_file *f, int *out) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xCheckReservedLock(p->real, out);
}
static int cFileControl(sqlite3_file *f, int op, void *arg) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xFileControl(p->real, op, arg);
}
static int cSectorSize(sqlite3_file *f) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xSectorSize(p->real);
}
static int cDeviceCharacteristics(sqlite3_file *f) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xDeviceCharacteristics(p->real);
}
static int cShmMap(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, pp);
}
static int cShmLock(sqlite3_file *f, int offset, int n, int flags) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xShmLock(p->real, offset, n, flags);
}
static void cShmBarrier(sqlite3_file *f) {
	crashFile *p = (crashFile *)f;
	p->real->pMethods->xShmBarrier(p->real);
}
static int cShmUnmap(sqlite3_file *f, int deleteFlag) {
	crashFile *p = (crashFile *)f;
	return p->real->pMethods->xShmUnmap(p->real, deleteFlag);
}
// No memory-mapped reads: every read goes through xRead, as a crash image
// is built only from the journal.
static int cFetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) {
	(void)f, (void)off, (void)n;
	*pp = 0;
	return SQLITE_OK;
}
static int cUnfetch(sqlite3_file *f, sqlite3_int64 off, void *ptr) {
	(void)f, (void)off, (void)ptr;
	return SQLITE_OK;
}

static int cOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outFlags) {
	crashFile *p = (crashFile *)f;
	memset(p, 0, sizeof(*p));
	p->real = (sqlite3_file *)&p[1];
	int rc = baseVfs()->xOpen(baseVfs(), name, p->real, flags, outFlags);
	if (p->real->pMethods == 0) {
		p->base.pMethods = 0;
		return rc;
	}
	p->base.pMethods = &crashMethods;
	if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
		p->name = name;
	}
	p->isWal = (flags & SQLITE_OPEN_WAL) != 0;
	return rc;
}

static int cDelete(sqlite3_vfs *v, const char *n, int s) {
	int rc = baseVfs()->xDelete(baseVfs(), n, s);
	if (rc == SQLITE_OK) {
		record(OP_DELETE, n, 0, 0, 0);
	}
	return rc;
}
static int cAccess(sqlite3_vfs *v, const char *n, int fl, int *o) { return baseVfs()->xAccess(baseVfs(), n, fl, o); }
static int cFullPathname(sqlite3_vfs *v, const char *n, int no, char *o) {
	return baseVfs()->xFullPathname(baseVfs(), n, no, o);
}
static void *cDlOpen(sqlite3_vfs *v, const char *n) { return baseVfs()->xDlOpen(baseVfs(), n); }
static void cDlError(sqlite3_vfs *v, int n, char *o) { baseVfs()->xDlError(baseVfs(), n, o); }
static void (*cDlSym(sqlite3_vfs *v, void *h, const char *s))(void) { return baseVfs()->xDlSym(baseVfs(), h, s); }
static void cDlClose(sqlite3_vfs *v, void *h) { baseVfs()->xDlClose(baseVfs(), h); }
static int cRandomness(sqlite3_vfs *v, int n, char *o) { return baseVfs()->xRandomness(baseVfs(), n, o); }
static int cSleep(sqlite3_vfs *v, int us) { return baseVfs()->xSleep(baseVfs(), us); }
static int cCurrentTime(sqlite3_vfs *v, double *t) { return baseVfs()->xCurrentTime(baseVfs(), t); }
static int cGetLastError(sqlite3_vfs *v, int n, char *o) { return baseVfs()->xGetLastError(baseVfs(), n, o); }
static int cCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *t) { return baseVfs()->xCurrentTimeInt64(baseVfs(), t); }

// crashvfs_register registers the VFS as "cortex-crash", once.
int crashvfs_register(void) {
	if (crashVfs.zName != 0) {
		return SQLITE_OK;
	}
	if (sqlite3_vfs_find == 0 || sqlite3_vfs_register == 0) {
		return SQLITE_ERROR;
	}
	sqlite3_vfs *base = sqlite3_vfs_find("unix");
	if (base == 0 || base->iVersion < 2) {
		return SQLITE_ERROR;
	}
	crashMethods = (sqlite3_io_methods){
		3, cClose, cRead, cWrite, cTruncate, cSync, cFileSize, cLock, cUnlock,
		cCheckReservedLock, cFileControl, cSectorSize, cDeviceCharacteristics,
		cShmMap, cShmLock, cShmBarrier, cShmUnmap, cFetch, cUnfetch,
	};
	crashVfs = (sqlite3_vfs){
		2, (int)sizeof(crashFile) + base->szOsFile, base->mxPathname, 0, "cortex-crash", base,
		cOpen, cDelete, cAccess, cFullPathname, cDlOpen, cDlError, cDlSym, cDlClose,
		cRandomness, cSleep, cCurrentTime, cGetLastError, cCurrentTimeInt64,
	};
	int rc = sqlite3_vfs_register(&crashVfs, 0);
	if (rc != SQLITE_OK) {
		crashVfs.zName = 0;
	}
	return rc;
}

// crashvfs_start empties the journal and starts recording.
void crashvfs_start(void) {
	pthread_mutex_lock(&mu);
	nOps = 0;
	nBlob = 0;
	oom = 0;
	for (int i = 0; i < nNames; i++) {
		free(names[i]);
	}
	nNames = 0;
	recording = 1;
	pthread_mutex_unlock(&mu);
}

// crashvfs_stop stops recording; it reports 1 if the journal is
// incomplete (it ran out of memory).
int crashvfs_stop(void) {
	pthread_mutex_lock(&mu);
	recording = 0;
	int r = oom;
	pthread_mutex_unlock(&mu);
	return r;
}

// crashvfs_mark journals a marker with value v (a test's acknowledged commit).
void crashvfs_mark(sqlite3_int64 v) { record(OP_MARK, 0, v, 0, 0); }

// Reading the journal after crashvfs_stop.
long crashvfs_nops(void) { return nOps; }
void crashvfs_op(long i, int *kind, int *file, sqlite3_int64 *off, sqlite3_int64 *len, const unsigned char **data) {
	crashOp *o = &ops[i];
	*kind = o->kind;
	*file = o->file;
	*off = o->off;
	*len = o->len;
	*data = blob + o->data;
}
const char *crashvfs_name(int i) { return names[i]; }

// crashvfs_fail makes -wal writes fail once after more have succeeded
// (-1: never), and resets the counts; crashvfs_failed reports how many failed.
void crashvfs_fail(long after) {
	pthread_mutex_lock(&mu);
	failAfter = after;
	walWritesOK = 0;
	failed = 0;
	pthread_mutex_unlock(&mu);
}
long crashvfs_failed(void) {
	pthread_mutex_lock(&mu);
	long r = failed;
	pthread_mutex_unlock(&mu);
	return r;
}
