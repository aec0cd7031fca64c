-- cortex schema 6: sessions searched by metadata; snapshots named by clients.
--
-- Client keys (AppendInput.Key): one per snapshot, unique within a
-- session. Partial, so appends without a key (most of them) cost nothing.
ALTER TABLE state_snapshots ADD COLUMN key TEXT;
CREATE UNIQUE INDEX state_snapshots_key ON state_snapshots(session_id, key) WHERE key IS NOT NULL;

-- Search by metadata (ListOptions.Metadata): each top-level scalar of a
-- session's metadata is a row (sid, key, value) here, value in a canonical
-- text form: a string as JSON text ("ada" with its quotes), a number as
-- SQLite prints it, and true, false, null; objects and arrays are not
-- searchable. A search walks session_tags_lookup for its first key and
-- value, and checks its other keys on the primary key.
--
-- Triggers keep it in the same transaction as the metadata, and fire only
-- when metadata changes: an append updates its session's version and
-- last_active, never metadata, so appends pay nothing for search. An
-- update that leaves the metadata as it was (a touch, a TTL change) costs
-- one comparison. INSERT OR REPLACE: a duplicate key in the metadata text
-- keeps its last value, as JSON readers (and PostgreSQL's jsonb) do.
CREATE TABLE session_tags (
    sid   INTEGER NOT NULL,
    key   TEXT    NOT NULL,
    value TEXT    NOT NULL,
    PRIMARY KEY (sid, key)
) WITHOUT ROWID;
CREATE INDEX session_tags_lookup ON session_tags(key, value, sid);

CREATE TRIGGER session_tags_insert AFTER INSERT ON sessions WHEN new.metadata <> '{}'
BEGIN
    INSERT OR REPLACE INTO session_tags (sid, key, value)
        SELECT new.sid, j.key, CASE j.type WHEN 'text' THEN json_quote(j.value)
            WHEN 'integer' THEN CAST(j.value AS TEXT) WHEN 'real' THEN CAST(j.value AS TEXT) ELSE j.type END
        FROM json_each(new.metadata) AS j WHERE j.type NOT IN ('object', 'array');
END;

CREATE TRIGGER session_tags_update AFTER UPDATE OF metadata ON sessions WHEN old.metadata IS NOT new.metadata
BEGIN
    DELETE FROM session_tags WHERE sid = old.sid;
    INSERT OR REPLACE INTO session_tags (sid, key, value)
        SELECT new.sid, j.key, CASE j.type WHEN 'text' THEN json_quote(j.value)
            WHEN 'integer' THEN CAST(j.value AS TEXT) WHEN 'real' THEN CAST(j.value AS TEXT) ELSE j.type END
        FROM json_each(new.metadata) AS j WHERE j.type NOT IN ('object', 'array');
END;

CREATE TRIGGER session_tags_delete AFTER DELETE ON sessions WHEN old.metadata <> '{}'
BEGIN
    DELETE FROM session_tags WHERE sid = old.sid;
END;

INSERT OR REPLACE INTO session_tags (sid, key, value)
    SELECT s.sid, j.key, CASE j.type WHEN 'text' THEN json_quote(j.value)
        WHEN 'integer' THEN CAST(j.value AS TEXT) WHEN 'real' THEN CAST(j.value AS TEXT) ELSE j.type END
    FROM sessions AS s, json_each(s.metadata) AS j
    WHERE s.metadata <> '{}' AND j.type NOT IN ('object', 'array');
