-- MLS group state the server needs to order handshakes, and the join point of each member.
--
-- conversations.epoch is the MLS epoch the conversation is at. A commit names the epoch it moves
-- from and is accepted only if that is the current one (then epoch + 1), under the conversation's
-- row lock, so every member applies the same commits in the same order; an application message
-- must carry the current epoch, so none is ordered after a commit it predates.
ALTER TABLE conversations ADD COLUMN epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0);
-- The latest GroupInfo a member published with a commit (public group state; no secrets).
ALTER TABLE conversations ADD COLUMN group_info bytea
    CHECK (group_info IS NULL OR octet_length(group_info) BETWEEN 1 AND 65536);

-- A member sees the conversation's messages after the one that added them (their Welcome onward):
-- they cannot decrypt earlier ones, and the server does not hand them out.
ALTER TABLE members ADD COLUMN joined_seq bigint NOT NULL DEFAULT 0 CHECK (joined_seq >= 0);

-- A device's credential identifies its leaf in every group; two devices never share one.
CREATE UNIQUE INDEX devices_credential_idx ON devices (credential);
