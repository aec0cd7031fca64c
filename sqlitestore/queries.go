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

const (
	qSessionGet    = `SELECT ` + sessionCols + ` FROM sessions WHERE id = ?`
	qSessionInsert = `INSERT INTO sessions (` + sessionCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	// qSessionUpdate sets what PutSession and touches change.
	qSessionUpdate = `UPDATE sessions SET last_active = ?, expires_at = ?, ttl = ?, metadata = ? WHERE id = ?`
	qSessionDelete = `DELETE FROM sessions WHERE id = ?`
	// qSessionList is one page, newest-active first, after the keyset
	// cursor (last_active, id); args: active_since, cursor last_active,
	// cursor id, limit.
	qSessionList = `SELECT ` + sessionCols + ` FROM sessions
		WHERE last_active >= ? AND (last_active, id) < (?, ?)
		ORDER BY last_active DESC, id DESC LIMIT CAST(? AS INTEGER)`
	qSessionExists = `SELECT 1 FROM sessions WHERE id = ?`

	// Appends. qAppendBump moves the session with key sid ?2 and id ?4 to
	// version ?3 + 1 and touches it, if it is at version ?3; args: now,
	// sid, version, id (checked too: a restore in place reuses sids). The caller knows sid and the version (a hint, or
	// qSessionKey), so the new version is ?3 + 1: no RETURNING, which
	// SQLite runs as a trigger, ruling out its one-pass update and sending
	// every page the update touches through a statement journal (measured:
	// the UPDATE RETURNING was 40% of the writer's time).
	qAppendBump = `UPDATE sessions
		SET version = version + 1, snapshot_count = snapshot_count + 1,
			last_active = ?1, expires_at = CASE WHEN ttl > 0 THEN ?1 + ttl END
		WHERE sid = ?2 AND version = ?3 AND id = ?4`
	// qSessionKey: a session's integer key and version, by id.
	qSessionKey = `SELECT sid, version FROM sessions WHERE id = ?`
	// qIdempotent: the answer recorded for a key, from its snapshot or,
	// once retention removed that, from pruned_idempotency_keys; args id,
	// key.
	qIdempotent = `SELECT version, created_at, size_bytes FROM state_snapshots
		WHERE session_id = (SELECT sid FROM sessions WHERE id = ?1) AND idempotency_key = ?2
		UNION ALL
		SELECT version, created_at, size_bytes FROM pruned_idempotency_keys
		WHERE session_id = (SELECT sid FROM sessions WHERE id = ?1) AND key = ?2
		LIMIT 1`
	// qSnapshotInsert: args sid, version, created_at, state, metadata,
	// size_bytes, idempotency_key.
	qSnapshotInsert = `INSERT INTO state_snapshots
		(session_id, version, created_at, state, metadata, size_bytes, idempotency_key)
		VALUES (?, ?, ?, ?, ?, ?, ?)`

	// Snapshot reads, by session id: sidOf finds the session's key
	// (one search of the id index), then the snapshots' primary key.
	snapshotCols    = `version, created_at, state, metadata, size_bytes, key`
	sidOf           = `(SELECT sid FROM sessions WHERE id = CAST(? AS TEXT))`
	qLatest         = `SELECT ` + snapshotCols + ` FROM state_snapshots WHERE session_id = ` + sidOf + ` ORDER BY version DESC LIMIT 1`
	qSnapshotGet    = `SELECT ` + snapshotCols + ` FROM state_snapshots WHERE session_id = ` + sidOf + ` AND version = ?`
	qSnapshotExists = `SELECT 1 FROM state_snapshots WHERE session_id = ` + sidOf + ` AND version = ?`
	// qHistory and qHistoryNoState: args session, below version, limit.
	qHistory = `SELECT ` + snapshotCols + ` FROM state_snapshots
		WHERE session_id = ` + sidOf + ` AND version < ? ORDER BY version DESC LIMIT CAST(? AS INTEGER)`
	qHistoryNoState = `SELECT version, created_at, NULL, metadata, size_bytes, key FROM state_snapshots
		WHERE session_id = ` + sidOf + ` AND version < ? ORDER BY version DESC LIMIT CAST(? AS INTEGER)`
	// qHistoryMore: whether a session has a version below one; args
	// session, version. A history page that ends on its state budget asks
	// this instead of reading one more row, state and all.
	qHistoryMore = `SELECT 1 FROM state_snapshots WHERE session_id = ` + sidOf + ` AND version < ? LIMIT 1`

	// Fork: args new id, source id, last version. Idempotency keys stay
	// with the source.
	qForkCopy = `INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes)
		SELECT ` + sidOf + `, version, created_at, state, metadata, size_bytes FROM state_snapshots
		WHERE session_id = ` + sidOf + ` AND version <= ?`
	qSetCount = `UPDATE sessions SET snapshot_count = ? WHERE id = ?`

	// Retention. qPruneKeepScan finds the sessions holding more snapshots
	// than KeepLast in one sid range of the sessions table, on a reader;
	// no index serves snapshot_count (migration 0002); args after sid, up
	// to sid, keep, limit.
	qPruneKeepScan = `SELECT sid FROM sessions
		WHERE sid > ? AND sid <= ? AND snapshot_count > CAST(? AS INTEGER)
		ORDER BY sid LIMIT CAST(? AS INTEGER)`
	qMaxSid = `SELECT coalesce(max(sid), 0) FROM sessions`
	// qPruneKeepCutoff is the newest version to remove: the (KeepLast+1)th newest.
	// Retention's statements name sessions by sid.
	qPruneKeepCutoff = `SELECT version FROM state_snapshots WHERE session_id = CAST(? AS INTEGER) ORDER BY version DESC LIMIT 1 OFFSET CAST(? AS INTEGER)`
	// qPruneKeepDelete: args sid, cutoff version, limit. qPruneKeepKeys
	// first keeps the idempotency keys of the same rows.
	qPruneKeepDelete = `DELETE FROM state_snapshots WHERE session_id = ?1 AND version IN
		(SELECT version FROM state_snapshots WHERE session_id = CAST(?1 AS INTEGER) AND version <= ?2 ORDER BY version LIMIT CAST(?3 AS INTEGER))`
	qPruneKeepKeys = `INSERT OR IGNORE INTO pruned_idempotency_keys (session_id, key, version, created_at, size_bytes)
		SELECT session_id, idempotency_key, version, created_at, size_bytes FROM state_snapshots
		WHERE session_id = ?1 AND idempotency_key IS NOT NULL AND version IN
		(SELECT version FROM state_snapshots WHERE session_id = CAST(?1 AS INTEGER) AND version <= ?2 ORDER BY version LIMIT CAST(?3 AS INTEGER))`
	// qPruneOld finds snapshots created before a time, except each
	// session's latest; args cutoff, limit.
	qPruneOld = `SELECT s.session_id, s.version FROM state_snapshots AS s
		JOIN sessions AS x ON x.sid = s.session_id
		WHERE s.created_at < ? AND s.version < x.version
		ORDER BY s.created_at LIMIT CAST(? AS INTEGER)`
	qSnapshotDelete = `DELETE FROM state_snapshots WHERE session_id = ? AND version = ?`
	// qSnapshotKeepKey keeps a snapshot's idempotency key before
	// qSnapshotDelete; args sid, version.
	qSnapshotKeepKey = `INSERT OR IGNORE INTO pruned_idempotency_keys (session_id, key, version, created_at, size_bytes)
		SELECT session_id, idempotency_key, version, created_at, size_bytes FROM state_snapshots
		WHERE session_id = ? AND version = ? AND idempotency_key IS NOT NULL`
	qUncount = `UPDATE sessions SET snapshot_count = snapshot_count - ? WHERE sid = ?`
	// qExpired: args now, limit.
	qExpired = `SELECT id FROM sessions WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT CAST(? AS INTEGER)`
)

// canon is migration 9's canonical text of the value of json_each row x:
// a string as JSON text, a number as SQLite prints it, else the type name
// (true, false, null).
func canon(x string) string {
	return "CASE " + x + ".type WHEN 'text' THEN json_quote(" + x + ".value) WHEN 'integer' THEN CAST(" + x + ".value AS TEXT) WHEN 'real' THEN CAST(" + x + ".value AS TEXT) ELSE " + x + ".type END"
}

// Search, client keys and history filters (migration 9).
var (
	// qSessionSearch is a page of ListSessions with a metadata filter: the
	// sessions with the first filter key and value, from
	// session_tags_lookup, whose other keys (a JSON object, counted)
	// match too, newest-active first. The matches are sorted (a temporary
	// b-tree): a search is meant to be selective. Args: key, [value],
	// other filters, their count, active_since, cursor last_active, cursor
	// id, limit.
	qSessionSearch = `SELECT s.id, s.created_at, s.last_active, s.expires_at, s.ttl, s.metadata, s.version, s.snapshot_count
		FROM session_tags AS t CROSS JOIN sessions AS s ON s.sid = t.sid
		WHERE t.key = CAST(?1 AS TEXT) AND t.value = (SELECT ` + canon("f") + ` FROM json_each(CAST(?2 AS TEXT)) AS f)
			AND (SELECT count(*) FROM json_each(CAST(?3 AS TEXT)) AS f JOIN session_tags AS u
				ON u.sid = t.sid AND u.key = f.key AND u.value = ` + canon("f") + `) = CAST(?4 AS INTEGER)
			AND s.last_active >= CAST(?5 AS INTEGER) AND (s.last_active, s.id) < (CAST(?6 AS INTEGER), CAST(?7 AS TEXT))
		ORDER BY s.last_active DESC, s.id DESC LIMIT CAST(?8 AS INTEGER)`
	// qTagCount is a row per session with a metadata key and value, up to
	// a cap, for counting; args key, [value], cap.
	qTagCount = `SELECT 1 FROM session_tags
		WHERE key = CAST(?1 AS TEXT) AND value = (SELECT ` + canon("f") + ` FROM json_each(CAST(?2 AS TEXT)) AS f)
		LIMIT CAST(?3 AS INTEGER)`
	// snapshotMatch is true when a snapshot's metadata has every key of
	// the filter ?4 (a JSON object) with an equal value; ?5 is its count.
	snapshotMatch = `(SELECT count(*) FROM json_each(?4) AS f WHERE EXISTS (SELECT 1 FROM json_each(state_snapshots.metadata) AS j
		WHERE j.key = f.key AND ` + canon("j") + ` = ` + canon("f") + `)) = ?5`
	// qHistoryWhere and qHistoryWhereNoState are History with a metadata
	// filter; args session, below version, limit, filter, count.
	qHistoryWhere = `SELECT ` + snapshotCols + ` FROM state_snapshots
		WHERE session_id = (SELECT sid FROM sessions WHERE id = CAST(?1 AS TEXT)) AND version < ?2 AND ` + snapshotMatch + `
		ORDER BY version DESC LIMIT CAST(?3 AS INTEGER)`
	qHistoryWhereNoState = `SELECT version, created_at, NULL, metadata, size_bytes, key FROM state_snapshots
		WHERE session_id = (SELECT sid FROM sessions WHERE id = CAST(?1 AS TEXT)) AND version < ?2 AND ` + snapshotMatch + `
		ORDER BY version DESC LIMIT CAST(?3 AS INTEGER)`
	qHistoryMoreWhere = `SELECT 1 FROM state_snapshots
		WHERE session_id = (SELECT sid FROM sessions WHERE id = CAST(?1 AS TEXT)) AND version < ?2 AND ` + snapshotMatch + `
		LIMIT CAST(?3 AS INTEGER)`
	// qSnapshotByKey: args session, key.
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
	"SessionDelete":   qSessionDelete,
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
	"ForkCopy":        qForkCopy,
	"SetCount":        qSetCount,
	"PruneKeepScan":   qPruneKeepScan,
	"MaxSid":          qMaxSid,
	"PruneKeepCutoff": qPruneKeepCutoff,
	"PruneKeepDelete": qPruneKeepDelete,
	"PruneKeepKeys":   qPruneKeepKeys,
	"PruneOld":        qPruneOld,
	"SnapshotDelete":  qSnapshotDelete,
	"SnapshotKeepKey": qSnapshotKeepKey,
	"Uncount":         qUncount,
	"Expired":         qExpired,
}

// ---- transfer (state.Exporter, state.Importer: cortex migrate) ----------
// Statements of transfer.go. Export pages walk primary keys (sessions by
// id, snapshots by (session_id, version)), so each page is an index SEARCH.

const (
	// qExportSessions: args after id, limit.
	qExportSessions = `SELECT ` + sessionCols + ` FROM sessions WHERE id > ? ORDER BY id LIMIT CAST(? AS INTEGER)`
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
		WHERE x.id > ? ORDER BY x.id, s.version LIMIT CAST(? AS INTEGER)`
	// qTallySessions counts each session's snapshot rows and finds its
	// highest version; args after id, limit.
	qTallySessions = `SELECT s.id,
		(SELECT count(*) FROM state_snapshots WHERE session_id = s.sid),
		(SELECT coalesce(max(version), 0) FROM state_snapshots WHERE session_id = s.sid)
		FROM sessions AS s WHERE s.id > ? ORDER BY s.id LIMIT CAST(? AS INTEGER)`
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

func init() {
	for name, q := range map[string]string{
		"ExportSessions":       qExportSessions,
		"ExportSnapshotsRest":  qExportSnapshotsRest,
		"ExportSnapshotsAfter": qExportSnapshotsAfter,
		"TallySessions":        qTallySessions,
		"ImportSession":        qImportSession,
		"ImportSnapshot":       qImportSnapshot,
	} {
		queries[name] = q
	}
}

// ---- end transfer -------------------------------------------------------
