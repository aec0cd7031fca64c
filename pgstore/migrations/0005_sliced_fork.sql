-- 0005: forks copied in slices, under a hidden row.
--
-- ForkSession no longer copies a session's history in one transaction
-- that holds the source (a 100k-snapshot fork took seconds). Its first
-- slice inserts the new session's row hidden: expires_at at the epoch
-- (every route's live predicate hides it, as it hides a tombstone) and
-- fork_token set to a random value only that fork knows. Each copy slice
-- locks that row by its token and copies a chunk of snapshots under it;
-- the last slice makes the row visible and clears the token. A fork that
-- fails, or whose process dies, leaves a hidden row that the janitor
-- reclaims like a tombstone once its lease (last_active, moved by every
-- slice) has run out. The column is nullable without a default: adding
-- it rewrites nothing, and every existing row is a finished session.
ALTER TABLE sessions ADD COLUMN fork_token uuid;

-- The copy must not announce its snapshots: the session does not exist
-- yet for any route (as on SQLite, a fork announces nothing). A copy
-- transaction sets cortex.quiet for itself (SET LOCAL); every other
-- writer leaves it unset, and its inserts are announced as before.
DROP TRIGGER state_snapshots_notify ON state_snapshots;
CREATE TRIGGER state_snapshots_notify AFTER INSERT ON state_snapshots
    FOR EACH ROW WHEN (current_setting('cortex.quiet', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION cortex_notify_snapshot();

