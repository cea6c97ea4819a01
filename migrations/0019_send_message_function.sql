-- The send of one application message, as a function (issue 13). The Worker sends every statement
-- unnamed, so that it works through a pooler in transaction mode (PgBouncer locally, Hyperdrive in
-- production), and PostgreSQL then parsed and planned this statement on every send, at more CPU
-- than running it took (0.62 ms of a backend per send, against 0.35 ms as this function, whose
-- statement PL/pgSQL plans once per server connection). The Worker calls it as
-- `SELECT * FROM send_message($1, …, $9)` (src/db/messages.rs); changing it takes a new migration
-- with CREATE OR REPLACE.
--
-- Parameters: the message id, conversation, sender, sender's device, epoch, ciphertext,
-- clientMsgId, whether it changes the conversation's timer (such a message never expires), and the
-- uploads it refers to. Returns the stored message with the conversation's members, or no row.
--
-- Stores a message if the sender is a member and returns it with the conversation's members (to
-- deliver to), in one statement and one round trip. Bumping the conversation's `last_seq` takes
-- its row lock, so sends in one conversation commit in seq order; `created_at` is read after
-- the lock for the same reason. The message must carry the conversation's current epoch, so no
-- message is ordered after a commit it predates. Returns no row when the sender is not a member,
-- the epoch is stale or the clientMsgId was used before.
--
-- A seq taken must be a seq stored: clients apply a conversation's messages strictly in seq order
-- and would wait forever at a hole. So a resend takes no seq (the NOT EXISTS), and when two equal
-- sends race past that check, the second one's insert fails on the unique key instead of doing
-- nothing, which rolls its seq back with the whole statement; the caller answers it as a resend.
--
-- The uploads the message names ($9) must all be the sender's, complete, for this conversation
-- and referred to by no message; they are locked, so two sends cannot both take one, and an
-- upload the sweep marks for deletion meanwhile no longer counts. The message then refers to them.
CREATE FUNCTION send_message(uuid, uuid, uuid, uuid, bigint, bytea, text, boolean, uuid[])
RETURNS TABLE (
  id uuid, conversation_id uuid, seq bigint, sender_id uuid, sender_device_id uuid, kind text, epoch bigint,
  ciphertext bytea, client_msg_id text, created_at timestamptz, commit_adds uuid[], commit_removes uuid[],
  commit_departures jsonb, sender_role text, deleted text, member_ids uuid[]
)
LANGUAGE plpgsql
-- Names in the body are this schema's tables whatever search_path a session (of a shared pool) set.
SET search_path = public, pg_temp
AS $send$
-- The result columns share names with the tables' columns: names in the statement are the tables'.
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH allowed AS (
    SELECT role FROM members WHERE conversation_id = $2 AND user_id = $3
  ), attached AS (
    SELECT id FROM attachments
    WHERE id = ANY($9) AND uploader_id = $3 AND conversation_id = $2 AND state = 'complete' AND message_id IS NULL
    FOR UPDATE
  ), bumped AS (
    UPDATE conversations SET last_seq = last_seq + 1
    WHERE id = $2 AND epoch = $5 AND EXISTS (SELECT 1 FROM allowed)
      AND NOT EXISTS (SELECT 1 FROM messages WHERE sender_id = $3 AND client_msg_id = $7)
      AND (SELECT count(*) FROM attached) = cardinality($9::uuid[])
    RETURNING last_seq, disappear_after_seconds
  ), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at, expires_at, sender_role)
    SELECT $1, $2, last_seq, $3, $4, 'app', $5, $6, $7, now,
      CASE WHEN $8 THEN NULL ELSE now + make_interval(secs => disappear_after_seconds) END, (SELECT role FROM allowed)
    FROM bumped, LATERAL (SELECT clock_timestamp() AS now) clock
    RETURNING id, conversation_id, seq, sender_id, sender_device_id, kind, epoch, ciphertext, client_msg_id, created_at, commit_adds, commit_removes, commit_departures, sender_role, deleted
  ), referred AS (
    UPDATE attachments SET message_id = inserted.id FROM inserted WHERE attachments.id IN (SELECT id FROM attached)
  )
  SELECT inserted.*, ARRAY(SELECT user_id FROM members WHERE conversation_id = $2) AS member_ids FROM inserted;
END
$send$;
