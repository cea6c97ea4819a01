-- Throttles: one counter row per limited thing (logins from an address, logins to a number, ...),
-- replacing auth_attempts' row per attempt.
--
-- auth_attempts was counted with a read before the password hash and a write after it, so
-- parallel guesses all passed the same count. A throttles row is counted by one
-- INSERT ... ON CONFLICT DO UPDATE ... WHERE that increments it only if the policy lets the
-- attempt through: the row lock orders concurrent attempts, and each sees the count the one
-- before it left. The policy itself (limits, waits) lives with its constants in
-- src/db/throttles.rs; this table only holds the state it needs.
CREATE TABLE throttles (
    -- What is limited ('login-address', 'login-number', ...); the code names the kinds, so a new
    -- kind needs no migration.
    kind           text NOT NULL,
    -- Whom it is limited for: a client address, a phone number, an account id.
    key            text NOT NULL,
    -- Attempts let through and not given back (a success gives its own back, or resets).
    attempts       integer NOT NULL,
    -- Kinds that back off: no attempt is let through before this. NULL for kinds limited per window.
    blocked_until  timestamptz,
    -- When the row no longer counts: the end of a window, or when a backoff is forgotten. Expired
    -- rows are restarted by the next attempt, or deleted in small batches by other attempts.
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX throttles_expiry_idx ON throttles (expires_at);

-- Its counts were minutes long and are not carried over: every limit starts afresh.
DROP TABLE auth_attempts;
