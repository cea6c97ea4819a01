-- The admin page's "messages today" counts application messages by time, every few seconds while
-- it is open: without this index that is a scan of every message.
CREATE INDEX messages_app_created_idx ON messages (created_at) WHERE kind = 'app';
