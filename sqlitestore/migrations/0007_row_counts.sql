-- cortex: the number of sessions in O(1), for stats.
--
-- Counting rows is a scan; this counter is kept instead, by triggers, in
-- the same transaction as every write that adds or removes a session,
-- whatever the path (create, put, fork, delete, expiry, background
-- reclaim, cortex migrate's upserts: an upsert that updates fires no
-- insert trigger). It costs a page written per session created or
-- removed, nothing on appends.
--
-- Snapshots are not counted this way: a counter updated by every append
-- adds a page to every commit's WAL frames (measured: +10–20% CPU per
-- append at one writer); see docs/operations.md.
--
-- Keep this migration after every migration that rebuilds sessions: DROP
-- TABLE drops the table's triggers with it. (The lead renumbers migrations
-- at merge; keep it last.)
CREATE TABLE row_counts (
    name TEXT    PRIMARY KEY,
    n    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO row_counts (name, n) VALUES ('sessions', (SELECT count(*) FROM sessions));
CREATE TRIGGER row_counts_sessions_insert AFTER INSERT ON sessions
BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'sessions'; END;
CREATE TRIGGER row_counts_sessions_delete AFTER DELETE ON sessions
BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'sessions'; END;
