-- Linking devices. An account's first device registers itself; every later one is approved by a
-- device the account already has, which signs the new device's key (see LINK_APPROVAL_CONTEXT in
-- src/protocol/links.rs). The approval is kept with the device so that the user's other devices
-- can check it before they let the device into a group. approved_by is not a foreign key: the
-- approving device may be removed later, and the approval it gave stays what it was.
ALTER TABLE devices ADD COLUMN approved_by uuid, ADD COLUMN approval bytea;

-- A new browser's request to join its account, waiting for a device to approve it. Its id is the
-- id the device will have. code_mac is the browser's MAC, under a code only it and the user know,
-- of its label and key; approver_proof is what the approving device passes back (both opaque here).
CREATE TABLE device_links (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The session that asked: only it learns the outcome, and ending it drops the request.
    session_id     uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    label          text NOT NULL,
    credential     bytea NOT NULL,
    code_mac       bytea NOT NULL,
    approved_at    timestamptz,
    approver_proof bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX device_links_user_idx ON device_links (user_id, expires_at);
CREATE UNIQUE INDEX device_links_session_idx ON device_links (session_id);
