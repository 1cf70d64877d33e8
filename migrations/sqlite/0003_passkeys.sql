-- Passkeys and the WebAuthn ceremonies in flight.

CREATE TABLE passkeys (
    id              TEXT    PRIMARY KEY,                  -- our id (UUID), used in URLs
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   TEXT    NOT NULL UNIQUE,              -- base64url, unique across all users
    name            TEXT    NOT NULL,
    passkey         TEXT    NOT NULL,                     -- webauthn-rs Passkey (public key, counter) as JSON
    aaguid          TEXT,                                 -- the authenticator's model id, when it tells
    backup_eligible INTEGER NOT NULL,
    backup_state    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- Registration and authentication state, server side: single use, short-lived.
CREATE TABLE webauthn_ceremonies (
    id          TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('register', 'authenticate')),
    state       TEXT    NOT NULL,
    name        TEXT,                                     -- the passkey's name, for 'register'
    expires_at  INTEGER NOT NULL
);
