// floor: cortex's append workload from C on the SQLite build cortex uses,
// to measure what SQLite itself costs per append on this machine: the
// floor under the Go writer's time. Built and run by scripts/sqlite-floor.
//
// The statements, schema (every migration, in order), pragmas, WAL shim
// (sqlitedb/walbuf.c) and, with FLOOR_PCACHE=1, page cache wrapper
// (sqlitedb/pcache/pcache.c) are cortex's; the workload is BenchmarkAppend's: 512-byte states appended to
// random sessions of 1,000, in transactions of 33 (the group size the
// 64-goroutine benchmark reaches). 2,000 warm-up transactions, 4,000
// measured. Two ways to checkpoint:
//
//   alone   a RESTART checkpoint every 15 transactions, not timed: the
//           writer's own cost with checkpoints somewhere else, for free.
//   cortex  as sqlitedb does it: every 100 ms, on a second connection in
//           another thread, three PASSIVE checkpoints (sqlitedb runs the
//           last two while the tail is over 64 frames) and an fsync of
//           the -wal file;
//           after each round, a PASSIVE checkpoint of the tail on the
//           writer between transactions (timed: it is on the writer's
//           path).
//
// usage: floor DB-PATH SCHEMA.sql alone|cortex
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "sqlite3.h"

int cortex_walbuf_register(const char *name, const char *base);
int cortex_pcache_install(void);

static const char *dbPath;
static volatile int tailDue;

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void check(int rc, sqlite3 *db, const char *what) {
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "floor: %s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

static void *checkpointer(void *arg) {
	sqlite3 *c;
	(void)arg;
	check(sqlite3_open_v2(dbPath, &c, SQLITE_OPEN_READWRITE, "cortex-walbuf"), c, "open checkpointer");
	sqlite3_exec(c, "PRAGMA busy_timeout=5000", 0, 0, 0);
	char wal[4096];
	snprintf(wal, sizeof wal, "%s-wal", dbPath);
	for (;;) {
		usleep(100000);
		// As sqlitedb's checkpointer under a full write load: three passes
		// (it runs the two more while the tail is over 64 frames, which
		// at full speed it always is), an fsync of the -wal file, then
		// the tail on the writer.
		for (int i = 0; i < 3; i++) {
			sqlite3_exec(c, "PRAGMA wal_checkpoint(PASSIVE)", 0, 0, 0);
		}
		int fd = open(wal, O_RDONLY);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
		tailDue = 1;
	}
	return 0;
}

static char *readFile(const char *path) {
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(1);
	}
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

int main(int argc, char **argv) {
	if (argc != 4 || (strcmp(argv[3], "alone") && strcmp(argv[3], "cortex"))) {
		fprintf(stderr, "usage: floor DB-PATH SCHEMA.sql alone|cortex\n");
		return 2;
	}
	dbPath = argv[1];
	int cortexMode = !strcmp(argv[3], "cortex");
	enum { sessions = 1000, group = 33, warmup = 2000, measured = 4000 };
	char name[4096];
	const char *suffixes[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "%s%s", dbPath, suffixes[i]);
		unlink(name);
	}
	// The page cache wrapper is an opt-in of the process (sqlitedb's
	// InstallPageCacheWrapper): only with FLOOR_PCACHE=1.
	const char *pc = getenv("FLOOR_PCACHE");
	if (pc && !strcmp(pc, "1") && cortex_pcache_install() != 0) {
		fprintf(stderr, "floor: installing the page cache wrapper failed\n");
		return 1;
	}
	if (cortex_walbuf_register("cortex-walbuf", 0) != 0) {
		fprintf(stderr, "floor: registering the WAL shim failed\n");
		return 1;
	}
	sqlite3 *db;
	check(sqlite3_open_v2(dbPath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "cortex-walbuf"), db, "open");
	check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;"
		" PRAGMA mmap_size=268435456; PRAGMA wal_autocheckpoint=0; PRAGMA foreign_keys=ON; PRAGMA temp_store=2;", 0, 0, 0), db, "pragmas");
	check(sqlite3_exec(db, readFile(argv[2]), 0, 0, 0), db, "schema");

	sqlite3_stmt *create, *bump, *insert;
	check(sqlite3_prepare_v2(db, "INSERT INTO sessions(id, created_at, last_active) VALUES (?, 1, 1)", -1, &create, 0), db, "prepare");
	// sqlitestore's qAppendBump and qSnapshotInsert.
	check(sqlite3_prepare_v2(db, "UPDATE sessions SET version = version + 1, snapshot_count = snapshot_count + 1,"
		" last_active = ?1, expires_at = CASE WHEN ttl > 0 THEN ?1 + ttl END WHERE sid = ?2 AND version = ?3", -1, &bump, 0), db, "prepare");
	check(sqlite3_prepare_v2(db, "INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes, idempotency_key)"
		" VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &insert, 0), db, "prepare");

	static char ids[sessions][16];
	static long long sid[sessions], version[sessions];
	check(sqlite3_exec(db, "BEGIN", 0, 0, 0), db, "begin");
	for (int i = 0; i < sessions; i++) {
		snprintf(ids[i], sizeof ids[i], "bench-%04d", i);
		sqlite3_bind_text(create, 1, ids[i], -1, SQLITE_STATIC);
		check(sqlite3_step(create), db, "create session");
		sid[i] = sqlite3_last_insert_rowid(db);
		sqlite3_reset(create);
	}
	check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");

	char state[512];
	memset(state, 'x', sizeof state);
	memcpy(state, "{\"data\":\"", 9);
	memcpy(state + 510, "\"}", 2);

	long long at = 1000;
	unsigned rnd = 12345;
	double timed = 0, commits = 0, tails = 0;
	for (int t = 0; t < warmup + measured; t++) {
		if (t == warmup && cortexMode) {
			pthread_t th;
			pthread_create(&th, 0, checkpointer, 0);
		}
		double t0 = now();
		check(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0), db, "begin");
		for (int k = 0; k < group; k++) {
			rnd = rnd * 1103515245 + 12345;
			int i = (rnd >> 8) % sessions;
			at++;
			sqlite3_bind_int64(bump, 1, at);
			sqlite3_bind_int64(bump, 2, sid[i]);
			sqlite3_bind_int64(bump, 3, version[i]);
			check(sqlite3_step(bump), db, "bump");
			if (sqlite3_changes(db) != 1) {
				fprintf(stderr, "floor: session %s not bumped\n", ids[i]);
				return 1;
			}
			sqlite3_reset(bump);
			version[i]++;
			sqlite3_bind_int64(insert, 1, sid[i]);
			sqlite3_bind_int64(insert, 2, version[i]);
			sqlite3_bind_int64(insert, 3, at);
			sqlite3_bind_text(insert, 4, state, sizeof state, SQLITE_TRANSIENT);
			sqlite3_bind_text(insert, 5, "{}", 2, SQLITE_TRANSIENT);
			sqlite3_bind_int64(insert, 6, sizeof state);
			sqlite3_bind_null(insert, 7);
			check(sqlite3_step(insert), db, "insert");
			sqlite3_reset(insert);
		}
		double tc = now();
		check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
		double t1 = now();
		if (t >= warmup) {
			timed += t1 - t0;
			commits += t1 - tc;
		}
		if (cortexMode && tailDue) {
			tailDue = 0;
			double c0 = now();
			sqlite3_exec(db, "PRAGMA wal_checkpoint(PASSIVE)", 0, 0, 0);
			if (t >= warmup) {
				tails += now() - c0;
			}
		} else if (!cortexMode && t % 15 == 14) {
			check(sqlite3_exec(db, "PRAGMA wal_checkpoint(RESTART)", 0, 0, 0), db, "checkpoint");
		}
	}
	double n = (double)measured * group;
	double perAppend = (timed + tails) / n * 1e6;
	printf("%-6s  %5.1f µs per append (statements %.1f, COMMIT %.1f, tail checkpoints %.1f)  =  %.0f appends/s on one writer\n",
		argv[3], perAppend, (timed - commits) / n * 1e6, commits / n * 1e6, tails / n * 1e6, 1e6 / perAppend);
	return 0;
}
