package sqlitestore

// Every SQL statement the store runs is one of these constants, listed in
// queries, so that TestQueryPlans can run EXPLAIN QUERY PLAN on each and
// fail on a full scan of a table, and TestNoRecompile can run each with
// changing arguments. Add a statement here, never inline.
//
// Some parameters are written CAST(? AS TEXT) or CAST(? AS INTEGER). SQLite
// (3.54) compiles a statement again every time a new value is bound to a
// parameter its planner looked at: "session_id = ?" followed by an ORDER BY
// on version, any "LIMIT ?", and a "> ?" beside a partial index's
// condition. A recompile costs more than the point query itself (measured:
// a third of a latest-snapshot read; reads went from 93k to 171k/s). A
// parameter inside CAST is not looked at; the index searches and plans
// are the same.

const sessionCols = `id, created_at, last_active, expires_at, ttl, metadata, version, snapshot_count`

// live is the condition of a session that exists for the API: not past its
// expiry at the time given (the store's clock, unix ns). A session past its
// TTL is absent at once, on every route, whether or not the janitor has
// reclaimed its rows yet (issue #14); so is a tombstone (expires_at 0, see
// qSessionBury).
const live = `(expires_at IS NULL OR expires_at > CAST(? AS INTEGER))`

// tombPrefix starts the id of every row the API cannot see by id: a
// deleted session (a tombstone, '~' || sid) and a fork being built ('~f' ||
// a generated id). No valid id holds '~' (state.ValidateID), and '~' sorts
// after every valid id's bytes, so exports, which walk ids in order, stop
// before them (id < '~').
const tombPrefix = "~"

const (
	qSessionGet    = `SELECT ` + sessionCols + ` FROM sessions WHERE id = ? AND ` + live
	qSessionInsert = `INSERT INTO sessions (` + sessionCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	// qSessionUpdate sets what PutSession and touches change.
	qSessionUpdate = `UPDATE sessions SET last_active = ?, expires_at = ?, ttl = ?, metadata = ? WHERE id = ?`
	// qSessionBury makes session ?1 absent at once and frees its id: the
	// row stays, renamed to '~' || sid, with expires_at 0 and last_active
	// 0 (at the far end of a listing's walk), as a
	// tombstone whose snapshots the janitor reclaims in slices
	// (qReclaimFind); its sid is never given again (AUTOINCREMENT), so
	// nothing of it is visible to a session created later with that id.
	// With ?2 it buries only a session expired at ?2 (the id-reuse path),
	// with NULL any session still live at the store's clock ?3.
	qSessionBury = `UPDATE sessions SET id = '` + tombPrefix + `' || sid, expires_at = 0, last_active = 0
		WHERE id = ?1 AND CASE WHEN ?2 IS NULL THEN (expires_at IS NULL OR expires_at > ?3)
			ELSE (expires_at IS NOT NULL AND expires_at <= ?2) END`
	// qSessionList is one page, newest-active first, after the keyset
	// cursor (last_active, id); args: active_since, cursor last_active,
	// cursor id, limit.
	qSessionList = `SELECT ` + sessionCols + ` FROM sessions
		WHERE last_active >= ? AND (last_active, id) < (?, ?) AND ` + live + `
		ORDER BY last_active DESC, id DESC LIMIT CAST(? AS INTEGER)`
	qSessionExists = `SELECT 1 FROM sessions WHERE id = ? AND ` + live

	// Appends. qAppendBump moves the session with key sid ?2 and id ?4 to
	// version ?3 + 1 and touches it, if it is at version ?3; args: now,
	// sid, version, id (checked too: a restore in place reuses sids). The caller knows sid and the version (a hint, or
	// qSessionKey), so the new version is ?3 + 1: no RETURNING, which
	// SQLite runs as a trigger, ruling out its one-pass update and sending
	// every page the update touches through a statement journal (measured:
	// the UPDATE RETURNING was 40% of the writer's time).
	qAppendBump = `UPDATE sessions
		SET version = version + 1, snapshot_count = snapshot_count + 1,
			last_active = ?1, expires_at = CASE WHEN ttl > 0 THEN min(?1 + ttl, 9223372036854775807) END
		WHERE sid = ?2 AND version = ?3 AND id = ?4 AND (expires_at IS NULL OR expires_at > ?1)`
	// qSessionKey: a live session's integer key and version; args id, now.
	qSessionKey = `SELECT sid, version FROM sessions WHERE id = ? AND ` + live
	// qIdempotent: the answer recorded for a key (with the fingerprint of
	// the request that used it), from its snapshot or, once retention
	// removed that, from pruned_idempotency_keys; args id, key, now (an
	// expired session's keys answer nothing).
	qIdempotent = `SELECT version, created_at, size_bytes, idempotency_fp FROM state_snapshots
		WHERE session_id = (SELECT sid FROM sessions WHERE id = ?1 AND (expires_at IS NULL OR expires_at > ?3)) AND idempotency_key = ?2
		UNION ALL
		SELECT version, created_at, size_bytes, fingerprint FROM pruned_idempotency_keys
		WHERE session_id = (SELECT sid FROM sessions WHERE id = ?1 AND (expires_at IS NULL OR expires_at > ?3)) AND key = ?2
		LIMIT 1`
	// qSnapshotInsert: args sid, version, created_at, state, metadata,
	// size_bytes, idempotency_key, its request's fingerprint.
	qSnapshotInsert = `INSERT INTO state_snapshots
		(session_id, version, created_at, state, metadata, size_bytes, idempotency_key, idempotency_fp)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

	// Snapshot reads, by session id: sidOf finds the live session's key
	// (one search of the id index; args id, now), then the snapshots'
	// primary key.
	snapshotCols    = `version, created_at, state, metadata, size_bytes, key`
	sidOf           = `(SELECT sid FROM sessions WHERE id = CAST(? AS TEXT) AND ` + live + `)`
	qLatest         = `SELECT ` + snapshotCols + ` FROM state_snapshots WHERE session_id = ` + sidOf + ` ORDER BY version DESC LIMIT 1`
	qSnapshotGet    = `SELECT ` + snapshotCols + ` FROM state_snapshots WHERE session_id = ` + sidOf + ` AND version = ?`
	qSnapshotExists = `SELECT 1 FROM state_snapshots WHERE session_id = ` + sidOf + ` AND version = ?`
	// qHistory and qHistoryNoState: args session, now, below version, limit.
	qHistory = `SELECT ` + snapshotCols + ` FROM state_snapshots
		WHERE session_id = ` + sidOf + ` AND version < ? ORDER BY version DESC LIMIT CAST(? AS INTEGER)`
	qHistoryNoState = `SELECT version, created_at, NULL, metadata, size_bytes, key FROM state_snapshots
		WHERE session_id = ` + sidOf + ` AND version < ? ORDER BY version DESC LIMIT CAST(? AS INTEGER)`
	// qHistoryMore: whether a session has a version below one; args
	// session, version. A history page that ends on its state budget asks
	// this instead of reading one more row, state and all; args session,
	// now, version.
	qHistoryMore = `SELECT 1 FROM state_snapshots WHERE session_id = ` + sidOf + ` AND version < ? LIMIT 1`

	// Fork (fork.go), in slices: qForkSource reads the live source (args
	// id, now); qOldest is a session's oldest kept version (args sid);
	// qForkBegin inserts the new session hidden, as '~f…' with expires_at
	// 0 (args id, created_at, ttl, metadata, version); qForkCopy copies up
	// to ?4 of the source's snapshots, newest first, at or below version
	// ?3 (args new sid, source sid, version, limit; idempotency keys stay
	// with the source); qForkAlive checks the source is still the same live
	// session (args sid, id, now); qForkFinish gives the finished copy its
	// id and makes it visible (args id, now, count, sid).
	qForkSource = `SELECT sid, ttl, metadata, version FROM sessions WHERE id = ? AND ` + live
	qOldest     = `SELECT version FROM state_snapshots WHERE session_id = CAST(? AS INTEGER) ORDER BY version LIMIT 1`
	qForkBegin  = `INSERT INTO sessions (id, created_at, last_active, expires_at, ttl, metadata, version, snapshot_count)
		VALUES (?1, ?2, 0, 0, ?3, ?4, ?5, 0)`
	qForkCopy = `INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes)
		SELECT ?1, version, created_at, state, metadata, size_bytes FROM state_snapshots
		WHERE session_id = CAST(?2 AS INTEGER) AND version <= ?3 ORDER BY version DESC LIMIT CAST(?4 AS INTEGER)`
	qForkAlive  = `SELECT 1 FROM sessions WHERE sid = ? AND id = ? AND ` + live
	qForkFinish = `UPDATE sessions SET id = ?1, created_at = ?2, last_active = ?2,
		expires_at = CASE WHEN ttl > 0 THEN ?2 + ttl END, snapshot_count = ?3 WHERE sid = ?4`

	// Retention. KeepLast walks state_snapshots_created_at in its order
	// (the order the rows were written in; see keepScan in retention.go):
	// qPruneScan reads one range of it on a reader, args after (created_at,
	// session, version), up to (the same), limit; qPruneCutoff is a
	// session's newest version to remove, its (KeepLast+1)th newest, NULL
	// when it holds no more than KeepLast or is a tombstone (left to
	// reclaim), args sid, keep. On the writer, qPruneRowDelete removes one
	// of the rows found, if it is still that session's and at or below that
	// cutoff (args rowid, sid, cutoff), and qPruneRowKeepKey first keeps its
	// idempotency key.
	qPruneScan = `SELECT created_at, session_id, version, rowid FROM state_snapshots INDEXED BY state_snapshots_created_at
		WHERE (created_at, session_id, version) > (?1, ?2, ?3) AND (created_at, session_id, version) <= (?4, ?5, ?6)
		ORDER BY created_at, session_id, version LIMIT CAST(?7 AS INTEGER)`
	// qOverKeep reads one range of sessions by sid, args after, keep,
	// limit: each one's sid and whether it is live and holds more than
	// keep snapshots.
	qOverKeep = `SELECT sid, snapshot_count, coalesce(expires_at, 1) <> 0 FROM sessions
		WHERE sid > ?1 ORDER BY sid LIMIT CAST(?3 AS INTEGER)`
	// qSessionOldest reads a session's oldest rows up to a cutoff, args
	// sid, cutoff, limit (KeepLast by session, sessionVictims).
	qSessionOldest = `SELECT rowid, version FROM state_snapshots WHERE session_id = CAST(?1 AS INTEGER) AND version <= CAST(?2 AS INTEGER)
		ORDER BY version LIMIT CAST(?3 AS INTEGER)`
	qPruneCutoff = `SELECT CASE WHEN snapshot_count > ?2 AND coalesce(expires_at, 1) <> 0 THEN
		(SELECT version FROM state_snapshots WHERE session_id = CAST(?1 AS INTEGER) ORDER BY version DESC LIMIT 1 OFFSET CAST(?2 AS INTEGER)) END
		FROM sessions WHERE sid = ?1`
	// qPruneWarm reads, on a reader, a victim's table row and its
	// primary-key entry (warmVictims), args rowid, sid, version: whether
	// it holds an idempotency key, and 1.
	qPruneWarm = `SELECT idempotency_key IS NOT NULL,
		(SELECT count(*) FROM state_snapshots WHERE session_id = ?2 AND version = ?3) FROM state_snapshots WHERE rowid = ?1`
	qPruneRowDelete  = `DELETE FROM state_snapshots WHERE rowid = ?1 AND session_id = ?2 AND version <= ?3`
	qPruneRowKeepKey = `INSERT OR IGNORE INTO pruned_idempotency_keys (session_id, key, version, created_at, size_bytes, fingerprint)
		SELECT session_id, idempotency_key, version, created_at, size_bytes, idempotency_fp FROM state_snapshots
		WHERE rowid = ?1 AND session_id = ?2 AND version <= ?3 AND idempotency_key IS NOT NULL`
	// qAgeScan reads one range of state_snapshots_created_at on a reader
	// for MaxAge retention (ageVictims), args after (created_at, session,
	// version), up to (the same), the cutoff, limit: each entry with
	// whether it may go (not its session's latest, nor a deleted
	// session's: those are reclaim's).
	qAgeScan = `SELECT s.created_at, s.session_id, s.version, s.rowid,
		s.version < x.version AND coalesce(x.expires_at, 1) <> 0
		FROM state_snapshots AS s INDEXED BY state_snapshots_created_at CROSS JOIN sessions AS x ON x.sid = s.session_id
		WHERE (s.created_at, s.session_id, s.version) > (?1, ?2, ?3) AND (s.created_at, s.session_id, s.version) <= (?4, ?5, ?6)
			AND s.created_at < ?7
		ORDER BY s.created_at, s.session_id, s.version LIMIT CAST(?8 AS INTEGER)`
	qUncount = `UPDATE sessions SET snapshot_count = snapshot_count - ? WHERE sid = ?`
	// qTTLRepairs counts the sessions migration 0005 repairs (see there).
	qTTLRepairs = `SELECT count(*) FROM sessions
		WHERE typeof(ttl) <> 'integer' OR ttl < 0 OR ttl > 3153600000000000000
		   OR typeof(expires_at) NOT IN ('integer', 'null')
		   OR expires_at IS NOT CASE WHEN ttl > 0 THEN min(last_active + ttl, 9223372036854775807) END`
	// qUserVersion: the schema version.
	qUserVersion = `PRAGMA user_version`
	// Reclaim (retention.go): qReclaimFind finds tombstones (expires_at 0:
	// deleted sessions, forks that failed or were building when a process
	// died) and sessions past their expiry, oldest expiry first; args now,
	// limit. qBurySid makes one of them a tombstone; qReclaimChunk removes
	// up to ?2 of a session's snapshots, oldest first, and qReclaimKeys up
	// to ?2 of its kept idempotency keys; qReclaimSession removes the row
	// once nothing references it.
	qReclaimFind  = `SELECT sid, id FROM sessions WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT CAST(? AS INTEGER)`
	qBurySid      = `UPDATE sessions SET id = '` + tombPrefix + `' || sid, expires_at = 0, last_active = 0 WHERE sid = ?`
	qReclaimChunk = `DELETE FROM state_snapshots WHERE session_id = ?1 AND version IN
		(SELECT version FROM state_snapshots WHERE session_id = CAST(?1 AS INTEGER) ORDER BY version LIMIT CAST(?2 AS INTEGER))`
	qReclaimKeys = `DELETE FROM pruned_idempotency_keys WHERE session_id = ?1 AND key IN
		(SELECT key FROM pruned_idempotency_keys WHERE session_id = CAST(?1 AS INTEGER) LIMIT CAST(?2 AS INTEGER))`
	qReclaimSession = `DELETE FROM sessions WHERE sid = ?`
)

// canon is migration 6's canonical text of the value of json_each row x:
// a string as JSON text, a number as SQLite prints it, else the type name
// (true, false, null).
func canon(x string) string {
	return "CASE " + x + ".type WHEN 'text' THEN json_quote(" + x + ".value) WHEN 'integer' THEN CAST(" + x + ".value AS TEXT) WHEN 'real' THEN CAST(" + x + ".value AS TEXT) ELSE " + x + ".type END"
}

// Search, client keys and history filters (migration 6).
var (
	// qSessionSearch is a page of ListSessions with a metadata filter: the
	// sessions with the first filter key and value, from
	// session_tags_lookup, whose other keys (a JSON object, counted)
	// match too, newest-active first. The matches are sorted (a temporary
	// b-tree): a search is meant to be selective. Args: key, [value],
	// other filters, their count, active_since, cursor last_active, cursor
	// id, limit, now (only live sessions).
	qSessionSearch = `SELECT s.id, s.created_at, s.last_active, s.expires_at, s.ttl, s.metadata, s.version, s.snapshot_count
		FROM session_tags AS t CROSS JOIN sessions AS s ON s.sid = t.sid
		WHERE t.key = CAST(?1 AS TEXT) AND t.value = (SELECT ` + canon("f") + ` FROM json_each(CAST(?2 AS TEXT)) AS f)
			AND (SELECT count(*) FROM json_each(CAST(?3 AS TEXT)) AS f JOIN session_tags AS u
				ON u.sid = t.sid AND u.key = f.key AND u.value = ` + canon("f") + `) = CAST(?4 AS INTEGER)
			AND s.last_active >= CAST(?5 AS INTEGER) AND (s.last_active, s.id) < (CAST(?6 AS INTEGER), CAST(?7 AS TEXT))
			AND (s.expires_at IS NULL OR s.expires_at > CAST(?9 AS INTEGER))
		ORDER BY s.last_active DESC, s.id DESC LIMIT CAST(?8 AS INTEGER)`
	// qTagCount is a row per session with a metadata key and value, up to
	// a cap, for counting; args key, [value], cap.
	qTagCount = `SELECT 1 FROM session_tags
		WHERE key = CAST(?1 AS TEXT) AND value = (SELECT ` + canon("f") + ` FROM json_each(CAST(?2 AS TEXT)) AS f)
		LIMIT CAST(?3 AS INTEGER)`
	// snapshotMatch is true when a snapshot's metadata has every key of
	// the filter ?5 (a JSON object) with an equal value; ?6 is its count.
	snapshotMatch = `(SELECT count(*) FROM json_each(?5) AS f WHERE EXISTS (SELECT 1 FROM json_each(state_snapshots.metadata) AS j
		WHERE j.key = f.key AND ` + canon("j") + ` = ` + canon("f") + `)) = ?6`
	// qHistoryWhere and qHistoryWhereNoState are History with a metadata
	// filter; args session, now, below version, limit, filter, count.
	qHistoryWhere = `SELECT ` + snapshotCols + ` FROM state_snapshots
		WHERE session_id = (SELECT sid FROM sessions WHERE id = CAST(?1 AS TEXT) AND (expires_at IS NULL OR expires_at > CAST(?2 AS INTEGER))) AND version < ?3 AND ` + snapshotMatch + `
		ORDER BY version DESC LIMIT CAST(?4 AS INTEGER)`
	qHistoryWhereNoState = `SELECT version, created_at, NULL, metadata, size_bytes, key FROM state_snapshots
		WHERE session_id = (SELECT sid FROM sessions WHERE id = CAST(?1 AS TEXT) AND (expires_at IS NULL OR expires_at > CAST(?2 AS INTEGER))) AND version < ?3 AND ` + snapshotMatch + `
		ORDER BY version DESC LIMIT CAST(?4 AS INTEGER)`
	qHistoryMoreWhere = `SELECT 1 FROM state_snapshots
		WHERE session_id = (SELECT sid FROM sessions WHERE id = CAST(?1 AS TEXT) AND (expires_at IS NULL OR expires_at > CAST(?2 AS INTEGER))) AND version < ?3 AND ` + snapshotMatch + `
		LIMIT CAST(?4 AS INTEGER)`
	// qSnapshotByKey: args session, now, key.
	qSnapshotByKey = `SELECT ` + snapshotCols + ` FROM state_snapshots WHERE session_id = ` + sidOf + ` AND key = ?`
	// qSnapshotSetKey names a snapshot an append just inserted; args sid,
	// version, key.
	qSnapshotSetKey = `UPDATE state_snapshots SET key = ?3 WHERE session_id = ?1 AND version = ?2`
)

func init() {
	for name, q := range map[string]string{
		"SessionSearch":       qSessionSearch,
		"TagCount":            qTagCount,
		"HistoryWhere":        qHistoryWhere,
		"HistoryWhereNoState": qHistoryWhereNoState,
		"HistoryMoreWhere":    qHistoryMoreWhere,
		"SnapshotByKey":       qSnapshotByKey,
		"SnapshotSetKey":      qSnapshotSetKey,
	} {
		queries[name] = q
	}
}

// queries names every statement for TestQueryPlans.
var queries = map[string]string{
	"SessionGet":      qSessionGet,
	"SessionInsert":   qSessionInsert,
	"SessionUpdate":   qSessionUpdate,
	"SessionBury":     qSessionBury,
	"SessionList":     qSessionList,
	"SessionExists":   qSessionExists,
	"AppendBump":      qAppendBump,
	"SessionKey":      qSessionKey,
	"Idempotent":      qIdempotent,
	"SnapshotInsert":  qSnapshotInsert,
	"Latest":          qLatest,
	"SnapshotGet":     qSnapshotGet,
	"SnapshotExists":  qSnapshotExists,
	"History":         qHistory,
	"HistoryNoState":  qHistoryNoState,
	"HistoryMore":     qHistoryMore,
	"ForkSource":      qForkSource,
	"Oldest":          qOldest,
	"ForkBegin":       qForkBegin,
	"ForkCopy":        qForkCopy,
	"ForkAlive":       qForkAlive,
	"ForkFinish":      qForkFinish,
	"PruneScan":       qPruneScan,
	"PruneCutoff":     qPruneCutoff,
	"OverKeep":        qOverKeep,
	"SessionOldest":   qSessionOldest,
	"PruneWarm":       qPruneWarm,
	"PruneRowDelete":  qPruneRowDelete,
	"PruneRowKeepKey": qPruneRowKeepKey,
	"AgeScan":         qAgeScan,
	"Uncount":         qUncount,
	"TTLRepairs":      qTTLRepairs,
	"UserVersion":     qUserVersion,
	"ReclaimFind":     qReclaimFind,
	"BurySid":         qBurySid,
	"ReclaimChunk":    qReclaimChunk,
	"ReclaimKeys":     qReclaimKeys,
	"ReclaimSession":  qReclaimSession,

	"ExportSessions":       qExportSessions,
	"ExportSnapshotsRest":  qExportSnapshotsRest,
	"ExportSnapshotsAfter": qExportSnapshotsAfter,
	"TallySessions":        qTallySessions,
	"ImportSession":        qImportSession,
	"ImportSnapshot":       qImportSnapshot,
	"SessionCount":         qSessionCount,
}

// scanOnce names the statements of queries allowed a full scan: Open runs
// them once, on a database an older build wrote, before the migration
// that repairs what they count.
var scanOnce = map[string]bool{"TTLRepairs": true}

// ---- transfer (state.Exporter, state.Importer: cortex migrate) ----------
// Statements of transfer.go. Export pages walk primary keys (sessions by
// id, snapshots by (session_id, version)), so each page is an index SEARCH.

const (
	// qExportSessions: args after id, limit.
	// Rows whose id starts with tombPrefix (tombstones, forks being
	// built) are not sessions: every walk stops before them (id < '~').
	qExportSessions = `SELECT ` + sessionCols + ` FROM sessions WHERE id > ? AND id < '` + tombPrefix + `' ORDER BY id LIMIT CAST(? AS INTEGER)`
	// Snapshots are exported in (session id, version) order, in two
	// statements: the rest of the session the last page ended in
	// (qExportSnapshotsRest: args session, after version, limit), then the
	// sessions after it in id order (qExportSnapshotsAfter: args after
	// session, limit), each a walk of the id index joined to the
	// snapshots' primary key.
	exportSnapshotCols   = `x.id, s.version, s.created_at, s.state, s.metadata, s.size_bytes, s.idempotency_key, s.key`
	qExportSnapshotsRest = `SELECT ` + exportSnapshotCols + `
		FROM sessions AS x JOIN state_snapshots AS s ON s.session_id = x.sid
		WHERE x.id = CAST(? AS TEXT) AND s.version > ? ORDER BY s.version LIMIT CAST(? AS INTEGER)`
	qExportSnapshotsAfter = `SELECT ` + exportSnapshotCols + `
		FROM sessions AS x JOIN state_snapshots AS s ON s.session_id = x.sid
		WHERE x.id > ? AND x.id < '` + tombPrefix + `' ORDER BY x.id, s.version LIMIT CAST(? AS INTEGER)`
	// qTallySessions counts each session's snapshot rows and finds its
	// highest version; args after id, limit.
	qTallySessions = `SELECT s.id,
		(SELECT count(*) FROM state_snapshots WHERE session_id = s.sid),
		(SELECT coalesce(max(version), 0) FROM state_snapshots WHERE session_id = s.sid)
		FROM sessions AS s WHERE s.id > ? AND s.id < '` + tombPrefix + `' ORDER BY s.id LIMIT CAST(? AS INTEGER)`
	// qImportSession upserts a session row as given.
	qImportSession = `INSERT INTO sessions (` + sessionCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, last_active = excluded.last_active,
			expires_at = excluded.expires_at, ttl = excluded.ttl, metadata = excluded.metadata,
			version = excluded.version, snapshot_count = excluded.snapshot_count`
	// qImportSnapshot upserts a snapshot row as given; args sid, then
	// the snapshot's fields.
	qImportSnapshot = `INSERT INTO state_snapshots
		(session_id, version, created_at, state, metadata, size_bytes, idempotency_key, key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (session_id, version) DO UPDATE SET created_at = excluded.created_at, state = excluded.state,
			metadata = excluded.metadata, size_bytes = excluded.size_bytes, idempotency_key = excluded.idempotency_key,
			key = excluded.key`
)

// ---- end transfer -------------------------------------------------------
