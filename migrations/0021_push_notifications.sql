-- Web Push (README "Push notifications"). A device's subscription: the push service URL its
-- browser gave (a capability URL: whoever holds it can push to that browser) and the keys every
-- push to it is encrypted to (RFC 8291: `p256dh`, an uncompressed P-256 point, and the 16-byte
-- `auth` secret). One per device, and it goes with the device: removed, reset, or its account
-- deleted. Nothing of a message is ever kept here.
CREATE TABLE push_subscriptions (
    device_id   uuid PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    -- Unique: a browser has one subscription per site, so an endpoint registered by another device
    -- (another account signed in on the same browser) is taken from it, and that browser stops
    -- getting pushes meant for the account it no longer shows.
    endpoint    text NOT NULL UNIQUE CHECK (char_length(endpoint) BETWEEN 1 AND 2048),
    p256dh      bytea NOT NULL CHECK (octet_length(p256dh) = 65),
    auth        bytea NOT NULL CHECK (octet_length(auth) = 16),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A member's mute of a conversation: no push for it until this time; 'infinity' is "always",
-- NULL (or a time past) not muted. Each member's own: the others never see it.
ALTER TABLE members ADD COLUMN muted_until timestamptz;
