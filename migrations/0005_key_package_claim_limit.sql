-- How many one-time key packages each user has taken from each other user in the current window.
--
-- One-time packages are what give a new member's first epoch forward secrecy; without a limit,
-- anyone with an account could drain a user's supply with a loop of claims and leave every later
-- inviter with only the reusable last-resort package. Past the limit a claimer is served the
-- last-resort package instead, so inviting still works and the supply is left for others.
CREATE TABLE key_package_claims (
    claimer_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL DEFAULT now(),
    claims        integer NOT NULL DEFAULT 1 CHECK (claims >= 1),
    PRIMARY KEY (claimer_id, target_id)
);
-- Deleting a user cascades from either side.
CREATE INDEX key_package_claims_target_idx ON key_package_claims (target_id);
