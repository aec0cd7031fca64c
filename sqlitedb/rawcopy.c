// rawcopy.c: a backup's copy of the database file read through SQLite's
// own file handle (backupfile.go says when that copy is consistent).
//
// Go never opens a live SQLite file itself: closing any descriptor of a
// file drops every POSIX lock the process holds on it, SQLite's included.
// So the bytes come from the reader connection's own sqlite3_file
// (SQLITE_FCNTL_FILE_POINTER), through its xRead, in large reads, and go
// to the copy's descriptor, which is a new private file.

#include <errno.h>
#include <unistd.h>

#include "sqlite_vfs.h"

typedef struct sqlite3 sqlite3;

extern int sqlite3_file_control(sqlite3 *, const char *, int, void *) __attribute__((weak));

#define SQLITE_OK 0
#define SQLITE_ERROR 1
#define SQLITE_FCNTL_FILE_POINTER 7

// cortex_raw_copy_ready reports whether the SQLite function is linked.
int cortex_raw_copy_ready(void) { return sqlite3_file_control != 0; }

// cortex_raw_copy copies n bytes at off of db's main database file to fd
// at the same offset, through buf (bufLen bytes). It returns SQLITE_OK, an
// SQLite result code from the file control or a read, or -errno from a
// write.
int cortex_raw_copy(sqlite3 *db, int fd, sqlite3_int64 off, sqlite3_int64 n, char *buf, int bufLen) {
	sqlite3_file *f = 0;
	int rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f);
	if (rc != SQLITE_OK) {
		return rc;
	}
	if (f == 0 || f->pMethods == 0) {
		return SQLITE_ERROR;
	}
	while (n > 0) {
		int amt = n < (sqlite3_int64)bufLen ? (int)n : bufLen;
		rc = f->pMethods->xRead(f, buf, amt, off);
		if (rc != SQLITE_OK) {
			return rc;
		}
		for (int w = 0; w < amt;) {
			ssize_t k = pwrite(fd, buf + w, (size_t)(amt - w), off + w);
			if (k < 0) {
				if (errno == EINTR) {
					continue;
				}
				return -errno;
			}
			w += (int)k;
		}
		off += amt;
		n -= amt;
	}
	return SQLITE_OK;
}
