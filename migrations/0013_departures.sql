-- Leaving a group. A member leaves at once (their membership goes, so nothing more is routed to
-- them), but their devices' leaves stay in the group's MLS tree until another member commits
-- their removal: MLS does not let a committer remove itself. Members' clients remove someone only
-- on an owner's or admin's commit, or on the leaver's own word, so the leaving device signs its
-- departure (see web/sdk/groups.ts) and the server keeps that signature here until a commit
-- removes them, and then with that commit, for every member who processes it later.
CREATE TABLE departures (
  conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  -- The leaving device, whose leaf's signature key made `signature`.
  device_id uuid NOT NULL,
  signature bytea NOT NULL,
  left_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, user_id)
);

-- A commit that removes people who left carries their departures, as they were when it was
-- ordered: a JSON array of {userId, deviceId, signature (base64), leftAt}.
ALTER TABLE messages ADD COLUMN commit_departures jsonb;
