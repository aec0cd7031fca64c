-- 0001: sessions, their state snapshots, and idempotency keys.
--
-- Table and column names are the seed's and sqlitestore's (sessions,
-- state_snapshots, session_id, version, ...), so operators' SQL works on both
-- engines.
--
-- state and metadata are `json`, not `jsonb`: `json` validates its input and
-- stores the text verbatim, so a state reads back byte for byte as it was
-- written (key order, duplicate keys, number spelling, whitespace), its
-- size_bytes stays the size the client sent, and PostgreSQL does not spend
-- time re-encoding up to 1 MiB per append. Operators who want to query inside
-- a state can still cast: state::jsonb -> 'field'.
--
-- Times are timestamptz, written by the store from its injected clock
-- (microsecond precision).

CREATE TABLE sessions (
    id             text        PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    created_at     timestamptz NOT NULL,
    last_active    timestamptz NOT NULL,
    -- ttl is the idle expiry; NULL means never. expires_at = last_active + ttl.
    ttl            interval,
    expires_at     timestamptz,
    metadata       json        NOT NULL DEFAULT '{}',
    -- version is the latest snapshot version (0: none); snapshot_count the
    -- number of snapshots kept. Both are maintained by the store while it holds
    -- the row lock, which is what serialises appends to one session.
    version        bigint      NOT NULL DEFAULT 0 CHECK (version >= 0),
    snapshot_count bigint      NOT NULL DEFAULT 0 CHECK (snapshot_count >= 0)
);

-- ListSessions: newest-active first, keyset paging on (last_active, id).
CREATE INDEX sessions_last_active_idx ON sessions (last_active DESC, id DESC);
-- ExpireSessions: only sessions with a TTL.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE state_snapshots (
    session_id text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    version    bigint      NOT NULL CHECK (version > 0),
    created_at timestamptz NOT NULL,
    state      json        NOT NULL,
    metadata   json        NOT NULL DEFAULT '{}',
    size_bytes bigint      NOT NULL CHECK (size_bytes >= 0),
    -- The latest snapshot, one version, and history pages (version DESC).
    PRIMARY KEY (session_id, version)
);

-- The seed's index for time-ordered reads of one session's history, used by
-- age-based pruning.
CREATE INDEX state_snapshots_session_created_idx ON state_snapshots (session_id, created_at DESC);

-- An append with an idempotency key records its result here, so that a retry
-- answers the first result even after that snapshot was pruned.
CREATE TABLE snapshot_idempotency_keys (
    session_id text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    key        text        NOT NULL,
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    size_bytes bigint      NOT NULL,
    PRIMARY KEY (session_id, key)
);
