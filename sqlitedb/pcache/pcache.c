//go:build cgo

// pcache: SQLite's default page cache, with one of its costs taken away.
//
// When a B-tree page splits, balance_nonroot puts its new pages in page
// number order by swapping their numbers through a scratch number, the
// page that holds the lock bytes (1 GiB / page size + 1: 262145 with
// 4 KiB pages; never a real page). The default page cache (pcache1) keeps
// the highest number it has seen, iMaxKey, and its rekey raises it to the
// scratch number. At the end of the transaction SQLite truncates the cache
// to the database size, and pcache1, seeing pages up to 262145 where the
// database has far fewer, walks its whole hash table: every slot of a
// cache of thousands of pages, once per transaction that split a page,
// which under appends is nearly every one. Measured on cortex's append
// workload from C (bench/floor): 5-6% of SQLite's time, COMMIT 5.0-5.7 ->
// 3.7-4.2 µs per append. Databases over 1 GiB do not pay it (their size is
// past the scratch number).
//
// The wrapper below passes every call to pcache1 and keeps its own bound
// on the highest page number held, not counting the scratch number, which
// it tracks apart (a page is there only between balance_nonroot's three
// rekeys). A truncate that can remove nothing by that bound is not passed
// on; any other is. It never changes what the cache holds.
//
// The SQLite declarations needed are repeated here, as in walbuf.c.

typedef struct sqlite3_pcache sqlite3_pcache;
typedef struct sqlite3_pcache_page sqlite3_pcache_page;
typedef struct sqlite3_pcache_methods2 sqlite3_pcache_methods2;

struct sqlite3_pcache_methods2 {
	int iVersion;
	void *pArg;
	int (*xInit)(void *);
	void (*xShutdown)(void *);
	sqlite3_pcache *(*xCreate)(int szPage, int szExtra, int bPurgeable);
	void (*xCachesize)(sqlite3_pcache *, int nCachesize);
	int (*xPagecount)(sqlite3_pcache *);
	sqlite3_pcache_page *(*xFetch)(sqlite3_pcache *, unsigned key, int createFlag);
	void (*xUnpin)(sqlite3_pcache *, sqlite3_pcache_page *, int discard);
	void (*xRekey)(sqlite3_pcache *, sqlite3_pcache_page *, unsigned oldKey, unsigned newKey);
	void (*xTruncate)(sqlite3_pcache *, unsigned iLimit);
	void (*xDestroy)(sqlite3_pcache *);
	void (*xShrink)(sqlite3_pcache *);
};

#define SQLITE_OK 0
#define SQLITE_ERROR 1
#define SQLITE_CONFIG_PCACHE2 18
#define SQLITE_CONFIG_GETPCACHE2 19
// SQLite's PENDING_BYTE: the lock bytes' offset, 1 GiB unless a test build
// moves it.
#define PENDING_BYTE 0x40000000u

extern int sqlite3_config(int, ...) __attribute__((weak));
extern void *sqlite3_malloc(int) __attribute__((weak));
extern void sqlite3_free(void *) __attribute__((weak));

typedef struct pcWrap {
	sqlite3_pcache *inner; // pcache1's cache
	unsigned maxKey;       // no page held has a higher number, but scratch
	unsigned scratch;      // balance_nonroot's scratch page number
	int scratchHeld;       // a page may be held under scratch
} pcWrap;

static sqlite3_pcache_methods2 pcBase;

// Counters for tests: truncates passed on, and not.
static long long pcPassed, pcSkipped;

static int pcInit(void *arg) {
	(void)arg;
	return pcBase.xInit ? pcBase.xInit(pcBase.pArg) : SQLITE_OK;
}

static void pcShutdown(void *arg) {
	(void)arg;
	if (pcBase.xShutdown) {
		pcBase.xShutdown(pcBase.pArg);
	}
}

static sqlite3_pcache *pcCreate(int szPage, int szExtra, int bPurgeable) {
	pcWrap *w = sqlite3_malloc(sizeof *w);
	if (w == 0) {
		return 0;
	}
	w->inner = pcBase.xCreate(szPage, szExtra, bPurgeable);
	if (w->inner == 0) {
		sqlite3_free(w);
		return 0;
	}
	w->maxKey = 0;
	w->scratch = szPage > 0 ? PENDING_BYTE / (unsigned)szPage + 1 : 0;
	w->scratchHeld = 0;
	return (sqlite3_pcache *)w;
}

static void pcCachesize(sqlite3_pcache *p, int n) {
	pcBase.xCachesize(((pcWrap *)p)->inner, n);
}

static int pcPagecount(sqlite3_pcache *p) {
	return pcBase.xPagecount(((pcWrap *)p)->inner);
}

static void pcHold(pcWrap *w, unsigned key) {
	if (key == w->scratch) {
		w->scratchHeld = 1;
	} else if (key > w->maxKey) {
		w->maxKey = key;
	}
}

static sqlite3_pcache_page *pcFetch(sqlite3_pcache *p, unsigned key, int createFlag) {
	pcWrap *w = (pcWrap *)p;
	sqlite3_pcache_page *pg = pcBase.xFetch(w->inner, key, createFlag);
	if (pg != 0) {
		pcHold(w, key);
	}
	return pg;
}

static void pcUnpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard) {
	pcBase.xUnpin(((pcWrap *)p)->inner, pg, discard);
}

static void pcRekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned oldKey, unsigned newKey) {
	pcWrap *w = (pcWrap *)p;
	pcBase.xRekey(w->inner, pg, oldKey, newKey);
	if (oldKey == w->scratch) {
		w->scratchHeld = 0;
	}
	pcHold(w, newKey);
}

static void pcTruncate(sqlite3_pcache *p, unsigned limit) {
	pcWrap *w = (pcWrap *)p;
	if (limit > w->maxKey && !w->scratchHeld) {
		__atomic_add_fetch(&pcSkipped, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(&pcPassed, 1, __ATOMIC_RELAXED);
	pcBase.xTruncate(w->inner, limit);
	if (limit == 0) {
		w->maxKey = 0;
	} else if (w->maxKey >= limit) {
		w->maxKey = limit - 1;
	}
	if (w->scratch >= limit) {
		w->scratchHeld = 0;
	}
}

static void pcDestroy(sqlite3_pcache *p) {
	pcWrap *w = (pcWrap *)p;
	pcBase.xDestroy(w->inner);
	sqlite3_free(w);
}

static void pcShrink(sqlite3_pcache *p) {
	if (pcBase.xShrink) {
		pcBase.xShrink(((pcWrap *)p)->inner);
	}
}

static sqlite3_pcache_methods2 pcMethods = {
	1, 0, pcInit, pcShutdown, pcCreate, pcCachesize, pcPagecount, pcFetch,
	pcUnpin, pcRekey, pcTruncate, pcDestroy, pcShrink,
};

// cortex_pcache_install installs the wrapper over SQLite's page cache; it
// returns an SQLite result code. It must run before SQLite initializes
// (the first open or VFS registration), or sqlite3_config refuses it.
int cortex_pcache_install(void) {
	if (sqlite3_config == 0 || sqlite3_malloc == 0 || sqlite3_free == 0) {
		return SQLITE_ERROR;
	}
	int rc = sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &pcBase);
	if (rc != SQLITE_OK) {
		return rc;
	}
	if (pcBase.xCreate == 0 || pcBase.xFetch == 0 || pcBase.xRekey == 0 || pcBase.xTruncate == 0) {
		return SQLITE_ERROR;
	}
	return sqlite3_config(SQLITE_CONFIG_PCACHE2, &pcMethods);
}

// cortex_pcache_counts reports the truncates passed on and skipped.
void cortex_pcache_counts(long long *passed, long long *skipped) {
	*passed = __atomic_load_n(&pcPassed, __ATOMIC_RELAXED);
	*skipped = __atomic_load_n(&pcSkipped, __ATOMIC_RELAXED);
}
