-- The passkey's sign counter in its own column, so a use is recorded by compare-and-set:
-- a counter that did not move forward (a copied key, or two uses racing) changes nothing.
ALTER TABLE passkeys ADD COLUMN sign_count INTEGER NOT NULL DEFAULT 0;
UPDATE passkeys SET sign_count = COALESCE(json_extract(passkey, '$.cred.counter'), 0);
