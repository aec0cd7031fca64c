-- 0002: TTLs in range, and idempotency keys bound to their request.
--
-- A TTL is now 0 (never: NULL here) or 1 second to 100 years
-- (3,153,600,000 s; state.MaxTTL), the range sqlitestore can add to a
-- time without overflowing its int64 nanoseconds. Rows an older build
-- wrote with a longer TTL are clamped to it, their expiry recomputed; a
-- TTL of zero or less means never. (PostgreSQL's interval and timestamptz
-- did not overflow: this keeps both engines alike.)
UPDATE sessions SET ttl = interval '3153600000 seconds',
                    expires_at = last_active + interval '3153600000 seconds'
    WHERE ttl > interval '3153600000 seconds';
UPDATE sessions SET ttl = NULL, expires_at = NULL WHERE ttl <= interval '0';

-- An idempotency key is bound to a fingerprint of its request
-- (state.Fingerprint: state, metadata, expected version), as the IETF
-- idempotency-key draft asks: the same key with another request is
-- refused (422). Keys recorded before have none (NULL) and answer any
-- request with their key, as they did.
ALTER TABLE snapshot_idempotency_keys ADD COLUMN fingerprint bigint;
