-- "Who can add me to groups": everyone (as before), only the people this user has written to in a
-- 1:1 ("contacts"), or nobody. Enforced by the server when a group is created and when a commit
-- adds people (src/db/users.rs, group_add_refusals).
ALTER TABLE users ADD COLUMN group_adds text NOT NULL DEFAULT 'everyone'
  CHECK (group_adds IN ('everyone', 'contacts', 'nobody'));
