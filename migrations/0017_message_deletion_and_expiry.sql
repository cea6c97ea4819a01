-- Delete for everyone and disappearing messages (issue 12).
--
-- A message deleted for everyone, or past its conversation's timer, keeps its row as a tombstone:
-- its seq stays taken, so clients, which apply a conversation strictly in seq order, see no hole,
-- and pages keep their keys. Its ciphertext is emptied; `deleted` says why ('retracted' by its
-- sender or a group admin, 'expired' by the timer) so a client can tell the two apart.
ALTER TABLE messages ADD COLUMN deleted text CHECK (deleted IN ('retracted', 'expired'));
ALTER TABLE messages ADD COLUMN deleted_at timestamptz;
-- A stored message has its ciphertext; a tombstone has none, and only a tombstone. Added NOT VALID
-- and validated on its own, so that checking the rows there are takes no lock that stops sends.
ALTER TABLE messages DROP CONSTRAINT messages_ciphertext_check;
ALTER TABLE messages ADD CONSTRAINT messages_ciphertext_check CHECK (
    CASE WHEN deleted IS NULL THEN octet_length(ciphertext) BETWEEN 1 AND 65536
         ELSE octet_length(ciphertext) = 0 AND deleted_at IS NOT NULL END) NOT VALID;
ALTER TABLE messages VALIDATE CONSTRAINT messages_ciphertext_check;

-- The sender's role when the server ordered a message, for application messages too now: members
-- judge a deletion of someone else's message, or a group's timer change, by the role its sender
-- had then (as they judge commits), never by today's member list or a request per message.
ALTER TABLE messages RENAME COLUMN commit_sender_role TO sender_role;
-- When the server deletes an application message's ciphertext: its send time plus the
-- conversation's timer then. Commits and Welcomes never expire (the group's state rests on them),
-- and neither does a timer change (its sender says so): a device away longer than the timer must
-- still learn that the timer changed.
ALTER TABLE messages ADD COLUMN expires_at timestamptz;
-- The sweep looks only at messages still to expire.
CREATE INDEX messages_expiry_idx ON messages (expires_at) WHERE expires_at IS NOT NULL AND deleted IS NULL;

-- A conversation's disappearing-messages timer in seconds (off when NULL): one of the durations
-- the product offers (see DISAPPEAR_AFTER_CHOICES in src/protocol).
ALTER TABLE conversations ADD COLUMN disappear_after_seconds integer
    CHECK (disappear_after_seconds IN (3600, 86400, 604800, 7776000));
