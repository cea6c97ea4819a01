-- The sends of a hub's group commit, as one statement (issue 13). A batch of up to 64 messages was
-- a pipelined BEGIN, one `SELECT * FROM send_message(…)` per message and COMMIT: each statement
-- parsed, bound and executed on its own in PostgreSQL and encoded and decoded on its own in the
-- Worker, and the batch relied on those statements reaching the connection back to back. One
-- statement is one transaction by itself (it commits or rolls back whole) and one Parse, Bind and
-- Execute whatever the batch's size. The Worker calls it as
-- `SELECT * FROM send_messages($1, …, $10)` (src/db/messages.rs); changing it takes a new
-- migration with CREATE OR REPLACE.
--
-- Parameters: per message, in the order to store them, its id, conversation, sender's device,
-- epoch, ciphertext, clientMsgId and whether it changes the conversation's timer, each an array
-- of one element per message; the sender, one for the whole batch (a hub stores its own user's
-- sends); and the uploads the messages refer to, as one array of all of them, message after
-- message, with the number each message names. Not an array per message: PostgreSQL's
-- multidimensional arrays must be rectangular, and messages name from none to ten uploads. Not
-- jsonb: the ids would go as text and be parsed back, where a uuid[] is sent and read as uuids.
--
-- Each message is stored by `send_message` (migration 0019), in the order given, so the rules of
-- a send (membership, epoch, resends, seq, uploads) have one definition. Each call is a statement
-- of its own in this function, so it sees what the calls before it wrote: a conversation's
-- messages take consecutive seqs in the order given, and a message repeating the clientMsgId of
-- an earlier one of the batch is not stored (the caller answers it as a resend). The caller gives
-- the messages grouped by conversation id, ascending, and every batch thus takes the
-- conversations' row locks (held until the statement commits) in one order: two batches that
-- write to the same two conversations wait for each other rather than deadlock.
--
-- Returns a row for each message stored: its ordinal in the arrays (1 for the first) and what
-- `send_message` returned (the message and the conversation's members). A message with no row
-- stored nothing, for any reason `send_message` returns no row for. When one message fails (an
-- equal send racing it broke the unique key) the whole statement fails and stores nothing; the
-- caller then sends each message on its own, for each one's answer.
CREATE FUNCTION send_messages(
  ids uuid[], conversation_ids uuid[], sender uuid, device_ids uuid[], epochs bigint[], ciphertexts bytea[],
  client_msg_ids text[], timer_changes boolean[], attachment_ids uuid[], attachment_counts integer[]
)
RETURNS TABLE (
  ord integer,
  id uuid, conversation_id uuid, seq bigint, sender_id uuid, sender_device_id uuid, kind text, epoch bigint,
  ciphertext bytea, client_msg_id text, created_at timestamptz, commit_adds uuid[], commit_removes uuid[],
  commit_departures jsonb, sender_role text, deleted text, member_ids uuid[]
)
LANGUAGE plpgsql
-- Names in the body are this schema's functions whatever search_path a session (of a shared pool) set.
SET search_path = public, pg_temp
AS $send$
DECLARE
  n integer := coalesce(cardinality(ids), 0);
  -- Where the current message's uploads start in attachment_ids.
  first_upload integer := 1;
BEGIN
  -- Arrays of unequal lengths would pair one message's fields with another's: refuse the batch.
  IF coalesce(cardinality(conversation_ids), 0) <> n OR coalesce(cardinality(device_ids), 0) <> n
    OR coalesce(cardinality(epochs), 0) <> n OR coalesce(cardinality(ciphertexts), 0) <> n
    OR coalesce(cardinality(client_msg_ids), 0) <> n OR coalesce(cardinality(timer_changes), 0) <> n
    OR coalesce(cardinality(attachment_counts), 0) <> n
    OR EXISTS (SELECT 1 FROM unnest(attachment_counts) c WHERE c IS NULL OR c < 0)
    OR (SELECT coalesce(sum(c), 0) FROM unnest(attachment_counts) c) <> coalesce(cardinality(attachment_ids), 0)
  THEN
    RAISE EXCEPTION 'send_messages: the arrays do not describe the same messages' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR i IN 1 .. n LOOP
    -- A slice past the end or of no element ([k:k-1]) is the empty array: a message with no upload.
    RETURN QUERY
      SELECT i, sent.* FROM send_message(
        ids[i], conversation_ids[i], sender, device_ids[i], epochs[i], ciphertexts[i], client_msg_ids[i],
        timer_changes[i], coalesce(attachment_ids[first_upload : first_upload + attachment_counts[i] - 1], '{}')
      ) sent;
    first_upload := first_upload + attachment_counts[i];
  END LOOP;
END
$send$;
