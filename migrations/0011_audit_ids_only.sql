-- The audit log names deleted accounts by id only: entries written before kept the phone number
-- and display name that deleting the account is meant to erase.
UPDATE audit_log SET detail = detail - 'phone' - 'displayName' WHERE action = 'user.delete';
