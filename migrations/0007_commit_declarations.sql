-- What each commit declared to the server about membership: the users it adds and removes (the
-- member list changed by exactly these). Kept with the commit and delivered with it, so every
-- client can check that the leaves a commit brings in are the people it declared, whenever the
-- client meets the commit (live or catching up), rather than against today's member list.
ALTER TABLE messages ADD COLUMN commit_adds uuid[], ADD COLUMN commit_removes uuid[];
