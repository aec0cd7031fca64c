// stmtexec.c: one cgo call per statement on the writer's hot path.
//
// The driver (mattn/go-sqlite3) makes one cgo call per bound argument,
// one to reset and clear the bindings, and one to step: ten crossings for
// an eight-argument INSERT, each with the runtime's entersyscall and
// exitsyscall around it. cortex_stmt_exec does a statement's whole run in
// one: reset, bind every argument, step once, read the changes and the
// last rowid, reset and clear the bindings again. Arguments come as an
// array of (kind, value) pairs and one buffer holding the bytes of every
// text and blob argument, so no Go pointer is stored in C memory and no
// argument is copied again inside SQLite: text and blobs are bound
// SQLITE_STATIC, and the bindings are cleared before the call returns.
//
// The SQLite declarations are repeated, as in walbuf.c (part of SQLite's
// stable ABI; the header lives inside the driver's module).

#include <string.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef long long sqlite3_int64;
typedef unsigned long long sqlite3_uint64;

extern int sqlite3_reset(sqlite3_stmt *) __attribute__((weak));
extern int sqlite3_clear_bindings(sqlite3_stmt *) __attribute__((weak));
extern int sqlite3_step(sqlite3_stmt *) __attribute__((weak));
extern int sqlite3_bind_null(sqlite3_stmt *, int) __attribute__((weak));
extern int sqlite3_bind_int64(sqlite3_stmt *, int, sqlite3_int64) __attribute__((weak));
extern int sqlite3_bind_double(sqlite3_stmt *, int, double) __attribute__((weak));
extern int sqlite3_bind_text64(sqlite3_stmt *, int, const char *, sqlite3_uint64, void (*)(void *), unsigned char) __attribute__((weak));
extern int sqlite3_bind_blob64(sqlite3_stmt *, int, const void *, sqlite3_uint64, void (*)(void *)) __attribute__((weak));
extern sqlite3 *sqlite3_db_handle(sqlite3_stmt *) __attribute__((weak));
extern sqlite3_int64 sqlite3_changes64(sqlite3 *) __attribute__((weak));
extern sqlite3_int64 sqlite3_last_insert_rowid(sqlite3 *) __attribute__((weak));
extern int sqlite3_extended_errcode(sqlite3 *) __attribute__((weak));
extern const char *sqlite3_errmsg(sqlite3 *) __attribute__((weak));

#define SQLITE_OK 0
#define SQLITE_ROW 100
#define SQLITE_DONE 101
#define SQLITE_UTF8 1
#define SQLITE_STATIC ((void (*)(void *))0)

// Argument kinds, as stmtexec.go writes them.
enum { argNull = 0, argInt = 1, argFloat = 2, argText = 3, argBlob = 4 };

// cortex_stmt_exec_ready reports whether the SQLite functions are linked.
int cortex_stmt_exec_ready(void) {
	return sqlite3_reset && sqlite3_clear_bindings && sqlite3_step && sqlite3_bind_null && sqlite3_bind_int64 &&
	       sqlite3_bind_double && sqlite3_bind_text64 && sqlite3_bind_blob64 && sqlite3_db_handle &&
	       sqlite3_changes64 && sqlite3_last_insert_rowid && sqlite3_extended_errcode && sqlite3_errmsg;
}

// cortex_stmt_exec runs s once with n arguments: args[2i] is argument
// i+1's kind (with, for text and blobs, its length shifted left by 8),
// args[2i+1] its value (an integer, a double's bits, or the offset of its
// bytes in buf). out[0] is the changes, out[1] the last rowid, out[2] the
// extended result code. It returns SQLITE_OK, or the result code of the
// failing bind or step; then msg holds SQLite's message (msgLen bytes at
// most, NUL-terminated).
int cortex_stmt_exec(sqlite3_stmt *s, int n, const long long *args, const char *buf, long long *out, char *msg, int msgLen) {
	sqlite3 *db = sqlite3_db_handle(s);
	sqlite3_reset(s);
	int rc = SQLITE_OK;
	for (int i = 0; i < n && rc == SQLITE_OK; i++) {
		long long kind = args[2 * i], v = args[2 * i + 1];
		switch (kind & 0xff) {
		case argNull:
			rc = sqlite3_bind_null(s, i + 1);
			break;
		case argInt:
			rc = sqlite3_bind_int64(s, i + 1, v);
			break;
		case argFloat: {
			double d;
			memcpy(&d, &v, sizeof d);
			rc = sqlite3_bind_double(s, i + 1, d);
			break;
		}
		case argText:
			rc = sqlite3_bind_text64(s, i + 1, buf + v, (sqlite3_uint64)(kind >> 8), SQLITE_STATIC, SQLITE_UTF8);
			break;
		case argBlob:
			rc = sqlite3_bind_blob64(s, i + 1, buf + v, (sqlite3_uint64)(kind >> 8), SQLITE_STATIC);
			break;
		default:
			rc = 25; // SQLITE_RANGE
		}
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
			rc = SQLITE_OK;
		}
	}
	out[0] = sqlite3_changes64(db);
	out[1] = sqlite3_last_insert_rowid(db);
	out[2] = 0;
	if (rc != SQLITE_OK) {
		out[2] = sqlite3_extended_errcode(db);
		const char *m = sqlite3_errmsg(db);
		if (msgLen > 0) {
			strncpy(msg, m ? m : "", msgLen - 1);
			msg[msgLen - 1] = 0;
		}
	}
	// No binding may outlive the call: buf is Go memory.
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}
