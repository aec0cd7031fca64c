-- 0004: a deleted session is a tombstone until the janitor reclaims it.
--
-- DeleteSession no longer deletes the row and its snapshots in one
-- statement (a 100k-snapshot session took one long transaction); it sets
-- the row's expires_at to the epoch, so every route's live predicate
-- hides it at once, and sends the "deleted" notification itself. The
-- janitor (ExpireSessions) then deletes its snapshots in chunks, each its
-- own short transaction, and the row last; creating a session with the
-- same id meanwhile deletes what is left in its own transaction.
--
-- That last DELETE of a tombstone must not announce the session's
-- deletion a second time (a watcher of a new session with the same id
-- would hear it), so the trigger skips rows at the epoch. A session that
-- expired by its TTL is still announced when the janitor deletes it.
CREATE OR REPLACE FUNCTION cortex_notify_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.expires_at IS NOT NULL AND OLD.expires_at = 'epoch'::timestamptz THEN
            RETURN NULL;
        END IF;
        PERFORM pg_notify('cortex_watch', json_build_object('k', 'd', 'id', OLD.id)::text);
    ELSE
        PERFORM pg_notify('cortex_watch', json_build_object('k', 'u', 'id', NEW.id)::text);
    END IF;
    RETURN NULL;
END $$;
