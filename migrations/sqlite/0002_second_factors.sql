-- Second factors: authenticator apps (TOTP) and backup codes.

-- A confirmed authenticator app: one per user. The key is encrypted with the server key,
-- bound to the user's id. last_step is the replay watermark: only later steps are accepted.
CREATE TABLE totp_credentials (
    user_id       TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    key_sealed    TEXT    NOT NULL,
    last_step     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);

-- An app being set up: not usable for sign-in until a code from it is confirmed.
CREATE TABLE totp_enrolments (
    user_id     TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    key_sealed  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Backup codes: only an argon2id hash of each code; `lookup` is the code's first group,
-- kept in the clear so one attempt checks one hash.
CREATE TABLE backup_codes (
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lookup      TEXT    NOT NULL,
    code_hash   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (user_id, lookup)
);
