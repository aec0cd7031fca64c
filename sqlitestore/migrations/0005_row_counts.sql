-- cortex: session and snapshot counts in O(1), for stats.
--
-- Counting rows is a scan; these counters are kept instead, by triggers,
-- in the same transaction as every write that adds or removes a row,
-- whatever the path (create, delete, append, batch, fork, prune, expiry,
-- background reclaim, cortex migrate's upserts: an upsert that updates
-- fires no insert trigger). The writer is single, so the one counter row
-- per table is no point of contention; an append pays one UPDATE.
--
-- Keep this migration after every migration that rebuilds sessions or
-- state_snapshots: DROP TABLE drops the table's triggers with it.
-- (Numbering: the lead renumbers migrations at merge; keep it last.)
CREATE TABLE row_counts (
    name TEXT    PRIMARY KEY,
    n    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO row_counts (name, n) VALUES
    ('sessions', (SELECT count(*) FROM sessions)),
    ('state_snapshots', (SELECT count(*) FROM state_snapshots));
CREATE TRIGGER row_counts_sessions_insert AFTER INSERT ON sessions
BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'sessions'; END;
CREATE TRIGGER row_counts_sessions_delete AFTER DELETE ON sessions
BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'sessions'; END;
CREATE TRIGGER row_counts_snapshots_insert AFTER INSERT ON state_snapshots
BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'state_snapshots'; END;
CREATE TRIGGER row_counts_snapshots_delete AFTER DELETE ON state_snapshots
BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'state_snapshots'; END;
