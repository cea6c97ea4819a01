-- Encrypted attachments (issue 12). A client encrypts a file on its device and uploads the
-- ciphertext, in parts, to R2 (the ATTACHMENTS bucket, object key `attachments/<id>`) for one
-- conversation; the key travels inside the MLS message that refers to it. This table is what the
-- server knows of each upload: its size, who made it for which conversation, and which message
-- refers to it. Never a key, a name, a type or a byte of the file.
--
-- The foreign keys are SET NULL rather than CASCADE: a row must outlive its conversation, its
-- uploader and its message until the sweep (src/sweep.rs) has deleted its R2 object, or the
-- object would be left in the bucket with nothing pointing at it.
CREATE TABLE attachments (
  id uuid PRIMARY KEY,
  conversation_id uuid REFERENCES conversations(id) ON DELETE SET NULL,
  uploader_id uuid REFERENCES users(id) ON DELETE SET NULL,
  -- Bytes of ciphertext, reserved when the upload starts (it counts against the quota from then).
  size bigint NOT NULL CHECK (size > 0),
  -- 'uploading': parts may be sent (the R2 multipart upload `upload_id` is open);
  -- 'complete': the object is whole and members may read it;
  -- 'deleting': on its way out (cancelled, unreferenced, its message deleted): nothing may read,
  -- write or refer to it; the row goes once its R2 object (and open upload) is gone.
  state text NOT NULL DEFAULT 'uploading' CHECK (state IN ('uploading', 'complete', 'deleting')),
  upload_id text,
  -- The R2 etag of each part sent, by part number (1-based), which completing the upload needs.
  part_etags text[] NOT NULL DEFAULT '{}',
  -- The message that refers to it, set by the send that names it (once).
  message_id uuid REFERENCES messages(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
-- The quota and the cap on unfinished uploads are summed per uploader.
CREATE INDEX attachments_uploader_idx ON attachments (uploader_id, state);
-- The sweep looks for what no message refers to, oldest first.
CREATE INDEX attachments_unreferenced_idx ON attachments (created_at) WHERE message_id IS NULL;
-- Deleting a message's attachments finds them by message.
CREATE INDEX attachments_message_idx ON attachments (message_id) WHERE message_id IS NOT NULL;
