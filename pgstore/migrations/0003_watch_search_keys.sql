-- 0003: watching sessions, searching them by metadata, client snapshot keys.
--
-- Watch. Every commit that appends a snapshot, changes a session's metadata
-- or TTL, or deletes a session sends a NOTIFY on the channel cortex_watch,
-- from triggers, so that every writer (this server, another one, an
-- import) is heard. PostgreSQL delivers a transaction's notifications when
-- it commits, and drops none of a committed transaction's while the
-- listener stays connected; a listener that reconnects reads what it
-- missed from the history. The payload is a small JSON object, far under
-- PostgreSQL's 8,000-byte limit: the snapshot's metadata rides along only
-- when it is at most 4,000 bytes (else watchers read it from the table).
--   {"k":"s","id":…,"v":version,"t":created_at,"n":size_bytes,"key":…,"m":metadata}
--   {"k":"u","id":…}  metadata or TTL changed
--   {"k":"d","id":…}  deleted

ALTER TABLE state_snapshots ADD COLUMN key text;

-- Client keys: unique within a session; partial, so snapshots without a key
-- cost nothing here.
CREATE UNIQUE INDEX state_snapshots_key_idx ON state_snapshots (session_id, key) WHERE key IS NOT NULL;

CREATE FUNCTION cortex_notify_snapshot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cortex_watch', json_build_object(
        'k', 's', 'id', NEW.session_id, 'v', NEW.version, 't', NEW.created_at,
        'n', NEW.size_bytes, 'key', NEW.key,
        'm', CASE WHEN octet_length(NEW.metadata::text) <= 4000 THEN NEW.metadata END)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER state_snapshots_notify AFTER INSERT ON state_snapshots
    FOR EACH ROW EXECUTE FUNCTION cortex_notify_snapshot();

CREATE FUNCTION cortex_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('cortex_watch', json_build_object('k', 'd', 'id', OLD.id)::text);
    ELSE
        PERFORM pg_notify('cortex_watch', json_build_object('k', 'u', 'id', NEW.id)::text);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_notify_update AFTER UPDATE OF metadata, ttl ON sessions
    FOR EACH ROW WHEN (OLD.metadata::text IS DISTINCT FROM NEW.metadata::text OR OLD.ttl IS DISTINCT FROM NEW.ttl)
    EXECUTE FUNCTION cortex_notify_session();
CREATE TRIGGER sessions_notify_delete AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION cortex_notify_session();

-- Search by metadata. A session's metadata is copied, as jsonb, into
-- session_metadata, whose GIN index (jsonb_path_ops: containment only,
-- smaller and faster than the default opclass) serves
--   metadata @> '{"user":"ada"}'.
-- A side table rather than an index on sessions: every append updates its
-- session's row (version, last_active), and an update that is not HOT adds
-- an entry to every index of the table, a GIN one too. The side table
-- changes only when metadata does (the triggers' WHEN), so appends pay
-- nothing for search. Empty metadata gets no row.
CREATE TABLE session_metadata (
    session_id text  PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    metadata   jsonb NOT NULL
);
CREATE INDEX session_metadata_gin_idx ON session_metadata USING gin (metadata jsonb_path_ops);

CREATE FUNCTION cortex_index_metadata() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.metadata::text = '{}' OR NEW.metadata::jsonb = '{}'::jsonb THEN
        DELETE FROM session_metadata WHERE session_id = NEW.id;
    ELSE
        INSERT INTO session_metadata (session_id, metadata) VALUES (NEW.id, NEW.metadata::jsonb)
        ON CONFLICT (session_id) DO UPDATE SET metadata = EXCLUDED.metadata;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_index_metadata_insert AFTER INSERT ON sessions
    FOR EACH ROW WHEN (NEW.metadata::text <> '{}') EXECUTE FUNCTION cortex_index_metadata();
CREATE TRIGGER sessions_index_metadata_update AFTER UPDATE OF metadata ON sessions
    FOR EACH ROW WHEN (OLD.metadata::text IS DISTINCT FROM NEW.metadata::text)
    EXECUTE FUNCTION cortex_index_metadata();

INSERT INTO session_metadata (session_id, metadata)
    SELECT id, metadata::jsonb FROM sessions WHERE metadata::jsonb <> '{}'::jsonb;
