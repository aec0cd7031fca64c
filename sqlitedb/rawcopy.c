// rawcopy.c: a backup's copy of the database file, read through SQLite's
// own file handle (backupfile.go says when the bytes are consistent).
//
// Go never opens a live SQLite file itself: closing any descriptor of a
// file drops every POSIX lock the process holds on it, SQLite's included.
// So the bytes come from a connection's own sqlite3_file
// (SQLITE_FCNTL_FILE_POINTER), through its xRead, in large reads, and go
// to the copy's descriptor, which is a new private file.

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "sqlite_vfs.h"

typedef struct sqlite3 sqlite3;

extern int sqlite3_file_control(sqlite3 *, const char *, int, void *) __attribute__((weak));

#define SQLITE_OK 0
#define SQLITE_ERROR 1
#define SQLITE_IOERR_SHORT_READ (10 | (2 << 8))
#define SQLITE_FCNTL_FILE_POINTER 7

// cortex_raw_buf allocates n bytes aligned to 4096, as writes with
// O_DIRECT need; NULL when memory ran out. Free it with free.
void *cortex_raw_buf(size_t n) {
	void *p = 0;
	return posix_memalign(&p, 4096, n) == 0 ? p : 0;
}

// cortex_raw_copy_ready reports whether the SQLite function is linked.
int cortex_raw_copy_ready(void) { return sqlite3_file_control != 0; }

static sqlite3_file *mainFile(sqlite3 *db, int *rc) {
	sqlite3_file *f = 0;
	*rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f);
	if (*rc == SQLITE_OK && (f == 0 || f->pMethods == 0)) {
		*rc = SQLITE_ERROR;
	}
	return *rc == SQLITE_OK ? f : 0;
}

// copyRun copies n bytes at off of f to fd at the same offset through buf
// (n <= its size). A read past the end of the file is zero-filled by the
// VFS and, with shortOK, not an error.
static int copyRun(sqlite3_file *f, int fd, sqlite3_int64 off, int n, char *buf, int shortOK) {
	int rc = f->pMethods->xRead(f, buf, n, off);
	if (rc == SQLITE_IOERR_SHORT_READ && shortOK) {
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK) {
		return rc;
	}
	for (int w = 0; w < n;) {
		ssize_t k = pwrite(fd, buf + w, (size_t)(n - w), off + w);
		if (k < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		w += (int)k;
	}
	return SQLITE_OK;
}

// cortex_raw_copy copies n bytes at off of db's main database file to fd
// at the same offset, through buf (bufLen bytes). It returns SQLITE_OK,
// an SQLite result code from the file control or a read, or -errno from a
// write.
int cortex_raw_copy(sqlite3 *db, int fd, sqlite3_int64 off, sqlite3_int64 n, char *buf, int bufLen, int shortOK) {
	int rc;
	sqlite3_file *f = mainFile(db, &rc);
	while (f != 0 && n > 0) {
		int amt = n < (sqlite3_int64)bufLen ? (int)n : bufLen;
		if ((rc = copyRun(f, fd, off, amt, buf, shortOK)) != SQLITE_OK) {
			return rc;
		}
		off += amt;
		n -= amt;
	}
	return rc;
}

// cortex_copy_pages copies the pages whose bits are set in bits, among
// pages from to to-1 (SQLite's page numbers, from 1), of db's main
// database file to fd, runs of consecutive pages in one read and one write
// of at most bufLen bytes, and stops once it copied maxPages (0: no
// limit). *copied counts the pages copied; *next is the page to go on
// from (to when it got there).
int cortex_copy_pages(sqlite3 *db, int fd, const unsigned char *bits, unsigned long long from, unsigned long long to,
                      int pageSize, char *buf, int bufLen, int shortOK, long long maxPages, long long *copied,
                      unsigned long long *next) {
	int rc;
	*next = from;
	sqlite3_file *f = mainFile(db, &rc);
	if (f == 0) {
		return rc;
	}
	unsigned long long most = (unsigned long long)(bufLen / pageSize);
	long long start = *copied;
	for (unsigned long long pg = from; pg < to; *next = pg) {
		if (maxPages > 0 && *copied - start >= maxPages) {
			return SQLITE_OK;
		}
		if ((bits[pg >> 3] & (1 << (pg & 7))) == 0) {
			pg++;
			continue;
		}
		unsigned long long end = pg + 1;
		while (end < to && end - pg < most && (bits[end >> 3] & (1 << (end & 7))) != 0) {
			end++;
		}
		rc = copyRun(f, fd, (sqlite3_int64)(pg - 1) * pageSize, (int)(end - pg) * pageSize, buf, shortOK);
		if (rc != SQLITE_OK) {
			return rc;
		}
		*copied += (long long)(end - pg);
		pg = end;
	}
	*next = to;
	return SQLITE_OK;
}
