-- Devices removed from their accounts, kept: a member catching up on old messages meets commits
-- that added a device which has gone since, and messages it sent while it was there. Checked
-- against today's directory alone, those would be refused and the member's copy of the group
-- would stop at the first of them. With this history a client checks them against the directory
-- as it was when the server took them (a device counts from created_at until removed_at).
CREATE TABLE removed_devices (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label       text NOT NULL,
    credential  bytea NOT NULL,
    approved_by uuid,
    approval    bytea,
    created_at  timestamptz NOT NULL,
    removed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX removed_devices_user_idx ON removed_devices (user_id, removed_at DESC);

-- Every way a device goes (removed by its owner, a reset, an account deleted) deletes its row;
-- the trigger keeps it whichever path that was.
CREATE FUNCTION keep_removed_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO removed_devices (id, user_id, label, credential, approved_by, approval, created_at)
    VALUES (OLD.id, OLD.user_id, OLD.label, OLD.credential, OLD.approved_by, OLD.approval, OLD.created_at)
    ON CONFLICT (id) DO NOTHING;
    RETURN OLD;
END
$$;
CREATE TRIGGER devices_keep_removed AFTER DELETE ON devices FOR EACH ROW EXECUTE FUNCTION keep_removed_device();

-- A message keeps the id of the device that sent it after the device is removed: a member
-- catching up checks that id against what the message proves (it used to become NULL, and the
-- message could not be told from one the server relabelled).
ALTER TABLE messages DROP CONSTRAINT messages_sender_device_id_fkey;

-- The revocation the removing device signed (see DEVICE_REVOCATION_CONTEXT): the user's other
-- devices stop trusting a removed device for good only on this, never because a listing left it out.
ALTER TABLE removed_devices ADD COLUMN revoked_by uuid, ADD COLUMN revocation bytea, ADD COLUMN revocation_keeps uuid[];
