// floor: the Go writer's exact work per append, from C, on the SQLite build
// cortex uses: the floor under sqlitestore's AppendSnapshot on this
// machine. Built and run by scripts/sqlite-floor.
//
// What "exact" means (proved by sqlitestore/trace_test.go, which logs
// every statement SQLite starts on the writer during appends through the
// Go path; docs/performance.md, "The floor"):
//
//   - the schema is cortex's migrations, in order (their triggers come
//     with it: none fires on an append);
//   - the writer connection's pragmas are sqlitedb's defaults, in its
//     order, through the WAL shim (sqlitedb/walbuf.c, buffering on, as
//     sqlitedb registers it); the page cache wrapper
//     (sqlitedb/pcache/pcache.c) only with FLOOR_PCACHE=1, as sqlitedb
//     installs it only on request;
//   - per group: BEGIN IMMEDIATE; per append, in the steady state (the
//     store holds a hint of every session's key and version), the
//     qAppendBump UPDATE (checked: one row changed) and the
//     qSnapshotInsert INSERT with the same eight arguments, and with an
//     idempotency key (-key) the qIdempotent SELECT first; COMMIT; then
//     PRAGMA cortex_walbuf_check, prepared each time as sqlitedb does;
//   - checkpoints as sqlitedb's checkpointer does them (-ckpt cortex,
//     the default): every 100 ms, or at once when the writer, before a
//     group, finds 1,000 frames not yet copied in the WAL index and wakes
//     it (again only once a round copied something), a round: when the WAL index has 1,000 frames not yet copied, a
//     PASSIVE checkpoint on a second connection in another thread, up to
//     two more while the tail is over 64 frames, PRAGMA cortex_db_sync and
//     cortex_wal_sync on that connection (the database file and the -wal
//     synced off the writer), then, between two groups on the writer, the
//     tail (PASSIVE, at most once per 100 ms) or, past half of the 64 MiB
//     WAL limit, a RESTART waiting at most 5 ms for readers; and the
//     writer's own guard before each group (reads the WAL index; a RESTART
//     when two more commits of the largest seen would pass 7/8 of the
//     limit);
//   - the workload is BenchmarkAppend's: 1,000 sessions created and given
//     one snapshot each, then 512-byte states appended to random sessions,
//     from a fresh database, -n appends in all (the Go benchmark's b.N:
//     the database and WAL reach its sizes), in groups whose mean size is
//     -g (the Go benchmark's measured writes/commit; fractional sizes
//     alternate between the two integers around it).
//
// -ckpt alone runs no checkpointer and checkpoints (RESTART, not timed)
// every 15 groups: SQLite's cost with checkpoints somewhere else, for free.
//
// Output: one line, per append: C statements (BEGIN and the appends'
// statements), COMMIT (with the walbuf check), checkpoints on the writer,
// and the statements SQLite ran per append. On stderr, a "floor-stats"
// line: WAL bytes and frames per append, the writer's checkpoints by kind
// with their wall time each, the checkpointer's rounds, passes and CPU.
//
// usage: floor [-g GROUP] [-n APPENDS] [-key] [-sync normal|full]
//              [-ckpt cortex|alone] [-label TEXT] DB-PATH SCHEMA.sql
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sqlite3.h"

int cortex_walbuf_register(const char *name, const char *base, int buffer);
int cortex_walbuf_wal_index(const char *path, unsigned *mx, unsigned *backfill);
int cortex_pcache_install(void);

// sqlitedb's defaults (config.go, checkpoint.go).
enum {
	walAutoCheckpoint = 1000,     // frames: DefaultWALAutoCheckpoint
	tailPasses = 2,               // checkpoint.go tailPasses
	tailFrames = 64,              // checkpoint.go tailFrames
	pollMicros = 100000,          // DefaultCheckpointPoll
	frameBytes = 4096 + 24,       // page + frame header
	busyTimeoutMs = 5000,         // DefaultBusyTimeout
	guardWaitMs = 5,              // guardWait
	escalationWaitMs = 200,       // escalationWait
};
static const long long walLimit = 64LL << 20; // DefaultWALLimit

static const char *dbPath;
static char walPath[4096];
static const char *sqliteName; // the main file's name as SQLite has it

// Writer/checkpointer hand-off: the checkpointer asks for a checkpoint
// on the writer (1 PASSIVE tail, 2 RESTART) and waits until it ran, as
// sqlitedb's checkpointOnWriter waits for its exclusive request.
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
// ckMu serialises checkpoints, the checkpointer's and the writer's, as
// sqlitedb's checkpointer.mu does: SQLite fails a checkpoint at once, or
// sleeps in the busy handler, while another connection runs one.
static pthread_mutex_t ckMu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int due;
static atomic_long commits;
static atomic_int stop;
// kick: the writer wakes the checkpointer when 1,000 frames are not yet
// copied, as sqlitedb's writer does (checkpointer.kick), instead of the
// checkpointer finding them at its next 100 ms poll.
static pthread_mutex_t kickMu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kickCv = PTHREAD_COND_INITIALIZER;
static int kicked;
static atomic_long ckKicks;

// waitKick sleeps until the next poll or a kick.
static void waitKick(void) {
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += pollMicros * 1000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&kickMu);
	while (!kicked && !atomic_load(&stop)) {
		if (pthread_cond_timedwait(&kickCv, &kickMu, &until) != 0) {
			break;
		}
	}
	kicked = 0;
	pthread_mutex_unlock(&kickMu);
}

// kick wakes the checkpointer, without waiting (a channel send with a
// default in Go).
static void kick(void) {
	pthread_mutex_lock(&kickMu);
	if (!kicked) {
		kicked = 1;
		atomic_fetch_add(&ckKicks, 1);
		pthread_cond_signal(&kickCv);
	}
	pthread_mutex_unlock(&kickMu);
}

static atomic_llong walMax; // the largest -wal file the checkpointer saw
// Counters for the stats line (stderr): the checkpointer's passes and
// its thread's CPU, and the writer's checkpoints by kind.
static atomic_long ckPasses, ckRounds;
static atomic_llong ckCPUns;

// cpu is the process's CPU time (user + system), in seconds.
static double cpu(void) {
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

// threadCPU is the calling thread's CPU time, in seconds.
static double threadCPU(void) {
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

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

static void walIndex(unsigned *mx, unsigned *backfill) {
	*mx = *backfill = 0;
	cortex_walbuf_wal_index(sqliteName, mx, backfill);
}

static int halfFull(unsigned mx) { return 32 + (long long)mx * frameBytes > walLimit / 2; }

static long long walBytes(void) {
	struct stat st;
	return stat(walPath, &st) == 0 ? st.st_size : 0;
}

// checkpoint runs PRAGMA wal_checkpoint(mode) through a cached statement,
// as sqlitedb's runCheckpoint does, and returns its busy column, or 2
// when frames remain.
static int checkpoint(sqlite3 *db, sqlite3_stmt *s) {
	int busy = 0;
	if (sqlite3_step(s) == SQLITE_ROW) {
		busy = sqlite3_column_int(s, 0);
		if (!busy && sqlite3_column_int64(s, 1) > sqlite3_column_int64(s, 2)) {
			busy = 2;
		}
	}
	sqlite3_reset(s);
	(void)db;
	return busy;
}

// askWriter hands a checkpoint to the writer and waits for it.
static void askWriter(int what) {
	pthread_mutex_lock(&mu);
	due = what;
	while (due && !atomic_load(&stop)) {
		pthread_cond_wait(&cv, &mu);
	}
	pthread_mutex_unlock(&mu);
}

// checkpointer is sqlitedb's checkpointer loop under continuous appends.
static void *checkpointer(void *arg) {
	sqlite3 *c;
	(void)arg;
	check(sqlite3_open_v2(dbPath, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, "cortex-walbuf"), c, "open checkpointer");
	char pragmas[512];
	snprintf(pragmas, sizeof pragmas, "PRAGMA busy_timeout=%d; PRAGMA synchronous=%s; PRAGMA foreign_keys=1;"
		" PRAGMA mmap_size=268435456; PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-16384;"
		" PRAGMA temp_store=2; PRAGMA wal_autocheckpoint=0;", busyTimeoutMs, getenv("FLOOR_SYNC"));
	check(sqlite3_exec(c, pragmas, 0, 0, 0), c, "checkpointer pragmas");
	sqlite3_stmt *passive;
	check(sqlite3_prepare_v2(c, "PRAGMA wal_checkpoint(PASSIVE)", -1, &passive, 0), c, "prepare");
	long last = 0;
	double lastHandoff = 0;
	while (!atomic_load(&stop)) {
		waitKick();
		long n = atomic_load(&commits);
		if (n == last) {
			continue;
		}
		unsigned mx, backfill;
		walIndex(&mx, &backfill);
		int byFrames = mx - backfill >= walAutoCheckpoint;
		long long wb = walBytes();
		if (wb > atomic_load(&walMax)) {
			atomic_store(&walMax, wb);
		}
		int overLimit = wb > walLimit;
		if (!byFrames && !overLimit && !halfFull(mx)) {
			continue;
		}
		last = n;
		atomic_fetch_add(&ckRounds, 1);
		double roundAt = now();
		double cc0 = threadCPU();
		pthread_mutex_lock(&ckMu);
		atomic_fetch_add(&ckPasses, 1);
		int busy = checkpoint(c, passive) == 1;
		walIndex(&mx, &backfill);
		if (!overLimit && !busy && mx > backfill) {
			for (int i = 0; i < tailPasses && mx - backfill > tailFrames && !halfFull(mx); i++) {
				atomic_fetch_add(&ckPasses, 1);
				if ((busy = checkpoint(c, passive) == 1)) {
					break;
				}
				walIndex(&mx, &backfill);
			}
			if (mx > backfill) {
				// checkpoint.go's syncDB, then syncWAL.
				sqlite3_exec(c, "PRAGMA cortex_db_sync", 0, 0, 0);
				sqlite3_exec(c, "PRAGMA cortex_wal_sync", 0, 0, 0);
			}
		}
		pthread_mutex_unlock(&ckMu);
		atomic_fetch_add(&ckCPUns, (long long)((threadCPU() - cc0) * 1e9));
		if (overLimit || busy) {
			continue;
		}
		if (halfFull(mx)) {
			askWriter(2);
		} else if (mx > backfill && roundAt - lastHandoff >= pollMicros * 0.9 / 1e6) {
			// The tail at most once a poll (checkpoint.go lastHandoff).
			lastHandoff = roundAt;
			askWriter(1);
		}
	}
	sqlite3_finalize(passive);
	sqlite3_close(c);
	return 0;
}

static char *readFile(const char *path) {
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(1);
	}
	static char buf[1 << 17];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void usage(void) {
	fprintf(stderr, "usage: floor [-g GROUP] [-n APPENDS] [-key] [-sync normal|full] [-ckpt cortex|alone] [-label TEXT] DB-PATH SCHEMA.sql\n");
	exit(2);
}

int main(int argc, char **argv) {
	double meanGroup = 33;
	long total = 200000;
	int withKey = 0, cortexMode = 1;
	const char *sync = "normal", *label = "";
	int a = 1;
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "-g") && a + 1 < argc) {
			meanGroup = atof(argv[++a]);
		} else if (!strcmp(argv[a], "-n") && a + 1 < argc) {
			total = atol(argv[++a]);
		} else if (!strcmp(argv[a], "-key")) {
			withKey = 1;
		} else if (!strcmp(argv[a], "-sync") && a + 1 < argc) {
			sync = argv[++a];
		} else if (!strcmp(argv[a], "-ckpt") && a + 1 < argc) {
			cortexMode = !strcmp(argv[++a], "cortex");
		} else if (!strcmp(argv[a], "-label") && a + 1 < argc) {
			label = argv[++a];
		} else {
			usage();
		}
	}
	if (argc - a != 2 || meanGroup < 1 || total < 1 || (strcmp(sync, "normal") && strcmp(sync, "full"))) {
		usage();
	}
	dbPath = argv[a];
	setenv("FLOOR_SYNC", sync, 1);
	snprintf(walPath, sizeof walPath, "%s-wal", dbPath);
	enum { sessions = 1000 };
	char name[4096];
	const char *suffixes[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "%s%s", dbPath, suffixes[i]);
		unlink(name);
	}
	const char *pc = getenv("FLOOR_PCACHE");
	if (pc && !strcmp(pc, "1") && cortex_pcache_install() != 0) {
		fprintf(stderr, "floor: installing the page cache wrapper failed\n");
		return 1;
	}
	if (cortex_walbuf_register("cortex-walbuf", 0, 1) != 0) {
		fprintf(stderr, "floor: registering the WAL shim failed\n");
		return 1;
	}
	sqlite3 *db;
	// NOMUTEX: sqlitedb opens every connection with _mutex=no (each is used by
	// one goroutine at a time).
	check(sqlite3_open_v2(dbPath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, "cortex-walbuf"), db, "open");
	sqliteName = sqlite3_db_filename(db, "main");
	// sqlitedb's pragmas (Config.pragmas), in its order; journal_mode
	// is set on the writer when the database is opened.
	char pragmas[512];
	snprintf(pragmas, sizeof pragmas, "PRAGMA busy_timeout=%d; PRAGMA synchronous=%s; PRAGMA foreign_keys=1;"
		" PRAGMA mmap_size=268435456; PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-16384;"
		" PRAGMA temp_store=2; PRAGMA wal_autocheckpoint=0; PRAGMA journal_mode=WAL;", busyTimeoutMs, sync);
	check(sqlite3_exec(db, pragmas, 0, 0, 0), db, "pragmas");
	check(sqlite3_exec(db, readFile(argv[a + 1]), 0, 0, 0), db, "schema");

	sqlite3_stmt *create, *bump, *insert, *idem, *begin, *commit, *passive, *restart, *busyShort, *busyBack;
	check(sqlite3_prepare_v2(db, "INSERT INTO sessions (id, created_at, last_active, expires_at, ttl, metadata, version, snapshot_count)"
		" VALUES (?, ?, ?, NULL, 0, '{}', 0, 0)", -1, &create, 0), db, "prepare");
	// sqlitestore's qAppendBump, qSnapshotInsert and qIdempotent, as the
	// trace test logs them.
	check(sqlite3_prepare_v2(db, "UPDATE sessions SET version = version + 1, snapshot_count = snapshot_count + 1,"
		" last_active = ?1, expires_at = CASE WHEN ttl > 0 THEN min(?1 + ttl, 9223372036854775807) END"
		" WHERE sid = ?2 AND version = ?3 AND id = ?4 AND (expires_at IS NULL OR expires_at > ?1)", -1, &bump, 0), db, "prepare");
	check(sqlite3_prepare_v2(db, "INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes,"
		" idempotency_key, idempotency_fp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1, &insert, 0), db, "prepare");
	check(sqlite3_prepare_v2(db, "SELECT version, created_at, size_bytes, idempotency_fp FROM state_snapshots"
		" WHERE session_id = (SELECT sid FROM sessions WHERE id = ?1 AND (expires_at IS NULL OR expires_at > ?3)) AND idempotency_key = ?2"
		" UNION ALL SELECT version, created_at, size_bytes, fingerprint FROM pruned_idempotency_keys"
		" WHERE session_id = (SELECT sid FROM sessions WHERE id = ?1 AND (expires_at IS NULL OR expires_at > ?3)) AND key = ?2"
		" LIMIT 1", -1, &idem, 0), db, "prepare");
	check(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, 0), db, "prepare");
	check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, 0), db, "prepare");
	check(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(PASSIVE)", -1, &passive, 0), db, "prepare");
	check(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(RESTART)", -1, &restart, 0), db, "prepare");
	char q[64];
	snprintf(q, sizeof q, "PRAGMA busy_timeout=%d", guardWaitMs);
	check(sqlite3_prepare_v2(db, q, -1, &busyShort, 0), db, "prepare");
	snprintf(q, sizeof q, "PRAGMA busy_timeout=%d", busyTimeoutMs);
	check(sqlite3_prepare_v2(db, q, -1, &busyBack, 0), db, "prepare");

	char state[512];
	memset(state, 'x', sizeof state);
	memcpy(state, "{\"data\":\"", 9);
	memcpy(state + 510, "\"}", 2);
	long long at = 1764892800000000000LL; // unix ns, as the store writes
	static char ids[sessions][16];
	static long long sid[sessions], version[sessions];
	// benchStore: 1,000 sessions, then one snapshot each in one batch.
	check(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0), db, "begin");
	for (int i = 0; i < sessions; i++) {
		snprintf(ids[i], sizeof ids[i], "bench-%04d", i);
		sqlite3_bind_text(create, 1, ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(create, 2, at);
		sqlite3_bind_int64(create, 3, at);
		check(sqlite3_step(create), db, "create session");
		sid[i] = sqlite3_last_insert_rowid(db);
		sqlite3_reset(create);
	}
	check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");

	// one append, as appendTx runs it with a hint.
	char key[32];
	long long nkey = 0;
	#define APPEND(i) do { \
		at += 1000; \
		if (withKey) { \
			snprintf(key, sizeof key, "key-%lld", ++nkey); \
			sqlite3_bind_text(idem, 1, ids[i], -1, SQLITE_STATIC); \
			sqlite3_bind_text(idem, 2, key, -1, SQLITE_STATIC); \
			sqlite3_bind_int64(idem, 3, at); \
			int rc_ = sqlite3_step(idem); \
			if (rc_ != SQLITE_DONE) { check(rc_, db, "idempotency lookup"); fprintf(stderr, "floor: key %s found\n", key); return 1; } \
			sqlite3_reset(idem); \
			stmts++; \
		} \
		sqlite3_bind_int64(bump, 1, at); \
		sqlite3_bind_int64(bump, 2, sid[i]); \
		sqlite3_bind_int64(bump, 3, version[i]); \
		sqlite3_bind_text(bump, 4, ids[i], -1, SQLITE_STATIC); \
		check(sqlite3_step(bump), db, "bump"); \
		if (sqlite3_changes(db) != 1) { fprintf(stderr, "floor: session %s not bumped\n", ids[i]); return 1; } \
		sqlite3_reset(bump); \
		version[i]++; \
		sqlite3_bind_int64(insert, 1, sid[i]); \
		sqlite3_bind_int64(insert, 2, version[i]); \
		sqlite3_bind_int64(insert, 3, at); \
		sqlite3_bind_text(insert, 4, state, sizeof state, SQLITE_STATIC); \
		sqlite3_bind_text(insert, 5, "{}", 2, SQLITE_STATIC); \
		sqlite3_bind_int64(insert, 6, sizeof state); \
		if (withKey) { \
			sqlite3_bind_text(insert, 7, key, -1, SQLITE_STATIC); \
			sqlite3_bind_int64(insert, 8, 0x5eed0000LL + nkey); \
		} else { \
			sqlite3_bind_null(insert, 7); \
			sqlite3_bind_null(insert, 8); \
		} \
		check(sqlite3_step(insert), db, "insert"); \
		sqlite3_reset(insert); \
		stmts += 2; \
	} while (0)

	long stmts = 0;
	check(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0), db, "begin");
	for (int i = 0; i < sessions; i++) {
		APPEND(i);
	}
	check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
	stmts = 0;

	pthread_t th;
	if (cortexMode) {
		pthread_create(&th, 0, checkpointer, 0);
	}
	unsigned rnd = 12345;
	double tStmts = 0, tCommit = 0, tCkpt = 0;
	long done = 0, groups = 0, ckpts = 0;
	unsigned lastMx = 0, step = 0, retryAt = 0;
	int woke = 0;
	unsigned wakeBf = 0, wakeMx = 0;
	// stats: WAL frames the commits wrote; the writer's checkpoints by
	// kind (guard RESTART, the checkpointer's tail and RESTART) and the
	// wall time of each kind, waiting for the checkpointer's pass included.
	long long frames = 0;
	long nGuard = 0, nTail = 0, nRestart = 0;
	double tGuard = 0, tTail = 0, tRestart = 0;
	double start = now(), cpu0 = cpu(), wcpu0 = threadCPU();
	while (done < total) {
		// the writer's walGuard, before each group.
		if (cortexMode) {
			double c0 = now();
			unsigned mx, backfill;
			walIndex(&mx, &backfill);
			// walGuard's wake: at 1,000 frames not yet copied, and again
			// only once a round copied something (or the WAL started over).
			if (mx > backfill && mx - backfill >= walAutoCheckpoint && (!woke || backfill != wakeBf || mx < wakeMx)) {
				kick();
				woke = 1;
				wakeBf = backfill;
				wakeMx = mx;
			}
			if (mx - lastMx > step && mx > lastMx) {
				step = mx - lastMx;
			} else {
				step -= step / 64;
			}
			lastMx = mx;
			long long next = 32 + (long long)(mx + 2 * step) * frameBytes;
			if (next > walLimit / 8 * 7 && mx >= retryAt) {
				double g0 = now();
				nGuard++;
				pthread_mutex_lock(&ckMu);
				sqlite3_stmt *w;
				check(sqlite3_prepare_v2(db, next > walLimit ? "PRAGMA busy_timeout=5000" : "PRAGMA busy_timeout=200", -1, &w, 0), db, "prepare");
				sqlite3_step(w);
				sqlite3_finalize(w);
				if (checkpoint(db, restart)) {
					retryAt = mx + (unsigned)(walLimit / 32 / frameBytes);
				} else {
					retryAt = 0;
					lastMx = 0; // the next commit starts the WAL over
				}
				sqlite3_step(busyBack);
				sqlite3_reset(busyBack);
				pthread_mutex_unlock(&ckMu);
				ckpts++;
				tGuard += now() - g0;
			}
			pthread_mutex_lock(&mu);
			int d = due;
			pthread_mutex_unlock(&mu);
			if (d) {
				// checkpointWaiting: RESTART with a short busy_timeout,
				// the tail with the usual one.
				double d0 = now();
				pthread_mutex_lock(&ckMu);
				if (d == 2) {
					sqlite3_step(busyShort);
					sqlite3_reset(busyShort);
					checkpoint(db, restart);
					sqlite3_step(busyBack);
					sqlite3_reset(busyBack);
				} else {
					checkpoint(db, passive);
				}
				pthread_mutex_unlock(&ckMu);
				ckpts++;
				if (d == 2) {
					nRestart++;
					tRestart += now() - d0;
				} else {
					nTail++;
					tTail += now() - d0;
				}
				pthread_mutex_lock(&mu);
				due = 0;
				pthread_cond_broadcast(&cv);
				pthread_mutex_unlock(&mu);
			}
			tCkpt += now() - c0;
		}
		long g = (long)((groups + 1) * meanGroup) - (long)(groups * meanGroup);
		if (g > total - done) {
			g = total - done;
		}
		double t0 = now();
		check(sqlite3_step(begin), db, "begin");
		sqlite3_reset(begin);
		stmts++;
		for (long k = 0; k < g; k++) {
			rnd = rnd * 1103515245 + 12345;
			int i = (rnd >> 8) % sessions;
			APPEND(i);
		}
		double tc = now();
		unsigned mx0 = 0, mx1 = 0, bf;
		walIndex(&mx0, &bf);
		check(sqlite3_step(commit), db, "commit");
		walIndex(&mx1, &bf);
		frames += mx1 >= mx0 ? mx1 - mx0 : mx1;
		sqlite3_reset(commit);
		// sqlitedb's commit: ask walbuf whether every byte reached the
		// -wal file (prepared each time: SQLite hands the pragma to the
		// VFS while compiling it).
		check(sqlite3_exec(db, "PRAGMA cortex_walbuf_check", 0, 0, 0), db, "walbuf check");
		stmts += 2;
		double t1 = now();
		atomic_fetch_add(&commits, 1);
		tStmts += tc - t0;
		tCommit += t1 - tc;
		done += g;
		groups++;
		if (!cortexMode && groups % 15 == 0) {
			checkpoint(db, restart);
		}
	}
	double wall = now() - start, wcpu = threadCPU() - wcpu0, pcpu = cpu() - cpu0;
	atomic_store(&stop, 1);
	if (cortexMode) {
		pthread_mutex_lock(&mu);
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		pthread_mutex_lock(&kickMu);
		pthread_cond_signal(&kickCv);
		pthread_mutex_unlock(&kickMu);
		pthread_join(th, 0);
	}
	double n = (double)done;
	double per = (tStmts + tCommit + tCkpt) / n * 1e6;
	printf("floor %-12s sync=%-6s group %5.1f  key=%d  %7.2f µs per append (statements %.2f, COMMIT %.2f, checkpoints %.2f)"
		"  %.2f statements/append  %ld writer checkpoints  wal %.1f MiB (max %.1f)  =  %.0f appends/s  (wall %.2f s, %ld appends; CPU per append: writer %.2f µs, process %.2f µs)\n",
		label, sync, n / groups, withKey, per, tStmts / n * 1e6, tCommit / n * 1e6, tCkpt / n * 1e6,
		(double)stmts / n, ckpts, walBytes() / 1048576.0, atomic_load(&walMax) / 1048576.0, 1e6 / per, wall, done, wcpu / n * 1e6, pcpu / n * 1e6);
	fprintf(stderr, "floor-stats %-12s WAL %.0f bytes/append (%.2f frames)  writer: guard RESTART %ld (%.1f ms each), tail %ld (%.2f ms), RESTART past half %ld (%.1f ms)  checkpointer: %ld rounds (%ld kicks), %ld passes, %.2f µs CPU/append\n",
		label, (double)frames * frameBytes / n, (double)frames / n, nGuard, nGuard ? tGuard / nGuard * 1e3 : 0, nTail, nTail ? tTail / nTail * 1e3 : 0,
		nRestart, nRestart ? tRestart / nRestart * 1e3 : 0, atomic_load(&ckRounds), atomic_load(&ckKicks), atomic_load(&ckPasses), atomic_load(&ckCPUns) / 1e3 / n);
	return 0;
}
