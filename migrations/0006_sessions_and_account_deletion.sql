-- Sessions: one row per login, named by the token it issued.
--
-- A per-user token version could only end every session at once. A lost phone must be able to
-- end its own session (removing the device does) and "log out" must end the one token it names,
-- so each token carries its session's id, and a token is valid only while its row exists.
CREATE TABLE sessions (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The device this session acts as, once it registers or connects as one. Removing the device
    -- ends the session: whoever holds a removed device's token cannot come back with it.
    device_id   uuid REFERENCES devices (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id, expires_at);
CREATE INDEX sessions_device_idx ON sessions (device_id) WHERE device_id IS NOT NULL;

-- Every token issued before this migration carries a version and no session: they stop working,
-- and their holders log in again.
ALTER TABLE users DROP COLUMN token_version;

-- Deleting an account keeps a tombstone row. The MLS commits and Welcomes the account sent are
-- part of every other member's group history (a member still offline needs them to reach the
-- current epoch), and each is checked against its sender: the rows must keep their sender_id.
-- The tombstone holds no phone, no name and no password.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
ALTER TABLE users ALTER COLUMN phone DROP NOT NULL;
ALTER TABLE users ADD CONSTRAINT deleted_users_hold_nothing CHECK (deleted_at IS NULL OR (phone IS NULL AND NOT is_admin));

-- Recent attempts that are limited per key within a window: wrong passwords per phone number
-- (bounds password guessing per account) and registrations per client address (bounds sign-up
-- floods). Rows older than their window are dropped as new ones come.
CREATE TABLE auth_attempts (
    kind  text NOT NULL CHECK (kind IN ('login-failure', 'registration')),
    key   text NOT NULL,
    at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_attempts_key_idx ON auth_attempts (kind, key, at);
