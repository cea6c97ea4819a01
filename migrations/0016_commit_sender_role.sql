-- The committer's role when the server ordered a commit. Members judge a commit by who may make
-- it (web/sdk/authorization.ts); one who catches up later must judge it by the role its committer
-- had then, not now: the committer may have left, or been removed, since. Roles are the server's
-- word either way, so this is no new trust. Older commits have none, and are judged as before.
ALTER TABLE messages ADD COLUMN commit_sender_role text CHECK (commit_sender_role IN ('owner', 'admin', 'member'));
