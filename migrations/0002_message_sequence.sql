-- Per-conversation message sequence numbers for realtime catch-up.
-- A send bumps conversations.last_seq and inserts the message in one statement, so the row lock
-- orders sends within a conversation: a message's seq is committed in seq order, and a client
-- that has seen seq N of a conversation can ask for "everything after N" without gaps, whatever
-- the clocks say. Gaps in the numbers themselves (a lost idempotency race) are harmless.
ALTER TABLE conversations ADD COLUMN last_seq bigint NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN seq bigint;
UPDATE messages m SET seq = n.seq
FROM (SELECT id, row_number() OVER (PARTITION BY conversation_id ORDER BY created_at, id) AS seq FROM messages) n
WHERE m.id = n.id;
UPDATE conversations c SET last_seq = coalesce((SELECT max(seq) FROM messages m WHERE m.conversation_id = c.id), 0);
ALTER TABLE messages ALTER COLUMN seq SET NOT NULL;
CREATE UNIQUE INDEX messages_conversation_seq_idx ON messages (conversation_id, seq);
