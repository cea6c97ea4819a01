-- The whole data model of DESIGN.md §3. The server stores ciphertext and metadata only:
-- no column here ever holds message plaintext.

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    phone          text NOT NULL UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    display_name   text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 64),
    password_hash  text NOT NULL,
    is_admin       boolean NOT NULL DEFAULT false,
    -- Bumped by "log out everywhere": every token carries the version it was issued at.
    token_version  integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz
);
-- The directory is listed alphabetically with a keyset over (display_name, id).
CREATE INDEX users_directory_idx ON users (display_name, id);
-- The admin guard counts admins on every delete.
CREATE INDEX users_admins_idx ON users (id) WHERE is_admin;

CREATE TABLE devices (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label         text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 64),
    -- The MLS signature public key / credential; public by design.
    credential    bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz
);
CREATE INDEX devices_user_idx ON devices (user_id, created_at);

CREATE TABLE key_packages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id    uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    data         bytea NOT NULL,
    last_resort  boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX key_packages_claim_idx ON key_packages (device_id, last_resort, id);
-- At most one last-resort package per device.
CREATE UNIQUE INDEX key_packages_one_last_resort_idx ON key_packages (device_id) WHERE last_resort;

CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('direct', 'group')),
    title       text CHECK (title IS NULL OR char_length(title) BETWEEN 1 AND 128),
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- A direct conversation is keyed by its sorted pair; deleting either user deletes it.
    user_lo     uuid REFERENCES users (id) ON DELETE CASCADE,
    user_hi     uuid REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT direct_has_sorted_pair CHECK (
        (kind = 'direct' AND user_lo IS NOT NULL AND user_hi IS NOT NULL AND user_lo < user_hi)
        OR (kind = 'group' AND user_lo IS NULL AND user_hi IS NULL)
    ),
    CONSTRAINT direct_pair_unique UNIQUE (user_lo, user_hi)
);

CREATE TABLE members (
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role             text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    joined_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, user_id)
);
-- "Which conversations is this user in" is asked on every connect.
CREATE INDEX members_user_idx ON members (user_id, conversation_id);

CREATE TABLE messages (
    id                uuid PRIMARY KEY,  -- UUID v7: time-ordered
    conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sender_device_id  uuid REFERENCES devices (id) ON DELETE SET NULL,
    kind              text NOT NULL CHECK (kind IN ('app', 'commit', 'welcome')),
    epoch             bigint NOT NULL CHECK (epoch >= 0),
    ciphertext        bytea NOT NULL CHECK (octet_length(ciphertext) BETWEEN 1 AND 65536),
    client_msg_id     text NOT NULL CHECK (char_length(client_msg_id) BETWEEN 1 AND 64),
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- Resending the same clientMsgId from the same sender stores nothing twice. Keyed on the
-- sender (not only the device) so sends from a device-less client are idempotent too.
CREATE UNIQUE INDEX messages_idempotency_idx ON messages (sender_id, client_msg_id);
-- Keyset pages, newest first.
CREATE INDEX messages_page_idx ON messages (conversation_id, created_at DESC, id DESC);

CREATE TABLE receipts (
    message_id    uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    delivered_at  timestamptz,
    read_at       timestamptz,
    PRIMARY KEY (message_id, user_id),
    CONSTRAINT delivered_not_after_read CHECK (
        read_at IS NULL OR (delivered_at IS NOT NULL AND delivered_at <= read_at)
    )
);
CREATE INDEX receipts_user_idx ON receipts (user_id);

CREATE TABLE epochs (
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    epoch            bigint NOT NULL CHECK (epoch >= 0),
    commit_message_id uuid REFERENCES messages (id) ON DELETE SET NULL,
    committed_at     timestamptz NOT NULL DEFAULT now(),
    -- The first commit for an epoch wins; a second insert fails and its sender must catch up.
    PRIMARY KEY (conversation_id, epoch)
);

CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    action    text NOT NULL,
    target    text NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}'::jsonb,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
