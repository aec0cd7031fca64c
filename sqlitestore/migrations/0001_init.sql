-- cortex schema 1: sessions and their versioned state snapshots.
--
-- Times are INTEGER unix nanoseconds, UTC: exact (Go's time.Time keeps
-- nanoseconds; text timestamps round-trip through parsing and lose nothing
-- only if every writer formats them identically), compact (an 8-byte
-- varint, not ~30 bytes of text), and they sort and compare as integers,
-- which keeps the index range scans on last_active, expires_at and
-- created_at simple. Convert in SQL with
--   datetime(last_active / 1000000000, 'unixepoch')
-- ttl is nanoseconds too; 0 means no expiry.
--
-- Both tables are ordinary rowid tables, not WITHOUT ROWID: SQLite
-- recommends WITHOUT ROWID only for rows well under 1/20 of a page
-- (https://www.sqlite.org/withoutrowid.html#when_to_use_without_rowid), and
-- a snapshot's state is up to 1 MiB, a session's metadata unbounded. In a
-- rowid table large rows spill into overflow pages of the table while the
-- primary-key index stays small and dense, so the latest-version and
-- by-version lookups touch few pages.

CREATE TABLE sessions (
    id             TEXT    NOT NULL PRIMARY KEY,
    created_at     INTEGER NOT NULL,
    last_active    INTEGER NOT NULL,
    expires_at     INTEGER,                      -- last_active + ttl; NULL: never
    ttl            INTEGER NOT NULL DEFAULT 0,   -- nanoseconds; 0: never
    metadata       TEXT    NOT NULL DEFAULT '{}',
    version        INTEGER NOT NULL DEFAULT 0,   -- latest snapshot version
    snapshot_count INTEGER NOT NULL DEFAULT 0    -- snapshots kept
);

CREATE TABLE state_snapshots (
    session_id      TEXT    NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL,             -- JSON text, as given
    metadata        TEXT    NOT NULL DEFAULT '{}',
    size_bytes      INTEGER NOT NULL,
    idempotency_key TEXT,
    PRIMARY KEY (session_id, version)
);

-- The seed's indexes, corrected.
--
-- Sessions by activity: ListSessions pages newest-active first with the
-- keyset (last_active, id); id breaks ties so paging never skips or repeats.
CREATE INDEX sessions_last_active ON sessions(last_active, id);

-- Expiry. The seed's partial index used datetime('now') in its WHERE clause:
-- SQLite accepts that CREATE INDEX on an empty table, then fails every
-- INSERT ("non-deterministic use of datetime() in an index"). A partial
-- index must have a deterministic predicate; this one keeps only sessions
-- that can expire, so sessions without a TTL cost it nothing.
CREATE INDEX sessions_expires_at ON sessions(expires_at) WHERE expires_at IS NOT NULL;

-- KeepLast retention finds the sessions holding more snapshots than it keeps.
CREATE INDEX sessions_snapshot_count ON sessions(snapshot_count) WHERE snapshot_count > 1;

-- The latest snapshot, a version, and history pages are served by the
-- primary key (session_id, version), read backwards for newest first; the
-- seed's separate (session_id) index would duplicate its prefix, which also
-- serves ON DELETE CASCADE. The seed's (session_id, created_at DESC) index
-- served history by time; versions order a session's history here, and
-- created_at is only ever searched across all sessions, by age retention
-- (OlderThan), so it leads its own index, which also covers the
-- (session_id, version) that retention needs: its walk over old snapshots
-- that must stay (each session's latest) reads only this index.
CREATE INDEX state_snapshots_created_at ON state_snapshots(created_at, session_id, version);

-- Idempotency: one key per session. Partial, so appends without a key
-- (most of them) cost nothing here.
CREATE UNIQUE INDEX state_snapshots_idempotency
    ON state_snapshots(session_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
