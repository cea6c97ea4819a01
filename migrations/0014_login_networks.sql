-- Login networks: the networks each account has logged in from lately (its owner's usual ones).
--
-- Without them, a stranger guessing a number's password from many addresses kept the number's own
-- counter waiting, and its owner with it, wherever the owner was. A login from a network its
-- account has logged in from is counted only against the number from that network, so the owner
-- at home is not held by strangers elsewhere. The policy (how long a network is remembered, what
-- it exempts from) lives with the other limits in src/db/throttles.rs.
CREATE TABLE login_networks (
    -- The account, not its number: a number given up and registered again by someone else starts
    -- with no networks. Deleting an account (a tombstone, not a deleted row) deletes its networks.
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The client's network as the throttles count it: an IPv4 address, or an IPv6 /64.
    network     text NOT NULL,
    -- Remembered until then from its last login; expired rows are deleted in small batches as
    -- other logins are remembered.
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, network)
);
CREATE INDEX login_networks_expiry_idx ON login_networks (expires_at);
