-- Presence: set while a user has at least one open socket (by their UserHub), cleared when the
-- last one closes. "Who is online" answers user-registered broadcasts and the directory's dot.
ALTER TABLE users ADD COLUMN online_since timestamptz;
CREATE INDEX users_online_idx ON users (id) WHERE online_since IS NOT NULL;
