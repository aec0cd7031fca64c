-- cortex schema 5: TTLs in range, and idempotency keys bound to their request.
--
-- TTLs. Until now any ttl up to the int64 limit was accepted, and
-- last_active + ttl overflowed: SQLite's integer addition then gives a
-- REAL (expires_at 1.1e19, which no INTEGER scan reads: every listing of
-- the database failed), and Go's wrapped to a negative expiry (the janitor
-- deleted the session at once). A TTL is now 0 (never) or 1 second to 100
-- years (3,153,600,000 s; state.MaxTTL), and every sum saturates. This
-- repairs the rows an older build wrote: a ttl out of that range (or not
-- an integer) is clamped into it, and an expires_at that is not exactly
-- last_active + ttl, saturated, is recomputed. The store counts and logs
-- the repaired rows before it applies this migration.
UPDATE sessions SET ttl = CASE
        WHEN typeof(ttl) NOT IN ('integer', 'real') OR ttl < 0 THEN 0
        ELSE 3153600000000000000 END
    WHERE typeof(ttl) <> 'integer' OR ttl < 0 OR ttl > 3153600000000000000;

UPDATE sessions SET expires_at = CASE WHEN ttl > 0 THEN min(last_active + ttl, 9223372036854775807) END
    WHERE expires_at IS NOT CASE WHEN ttl > 0 THEN min(last_active + ttl, 9223372036854775807) END
       OR typeof(expires_at) NOT IN ('integer', 'null');

-- Idempotency keys. A key is bound to a fingerprint of its request
-- (state.Fingerprint: state, metadata, expected version), as the IETF
-- idempotency-key draft asks: the same key with another request is
-- refused (422) instead of silently answering the first one's result.
-- Keys recorded before this schema have none (NULL) and answer any
-- request with their key, as they did. Adding a nullable column rewrites
-- nothing.
ALTER TABLE state_snapshots ADD COLUMN idempotency_fp INTEGER;
ALTER TABLE pruned_idempotency_keys ADD COLUMN fingerprint INTEGER;
