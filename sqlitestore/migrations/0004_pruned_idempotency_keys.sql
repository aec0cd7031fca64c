-- cortex schema 4: idempotency keys outlive the snapshots retention removes.
--
-- A key lives in its snapshot's row (state_snapshots.idempotency_key), so
-- pruning that snapshot (KeepLast, MaxAge) forgot the key, and a late
-- retry appended a second time instead of answering the first result, as
-- the contract says and PostgreSQL's key table does. Prune now moves the
-- keys of the rows it removes here first; a lookup reads the snapshots,
-- then this table. Keys go with their session (ON DELETE CASCADE).
CREATE TABLE pruned_idempotency_keys (
    session_id INTEGER NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    PRIMARY KEY (session_id, key)
) WITHOUT ROWID;
