-- Single-use links sent by mail: invitations, password-reset links, email-change
-- confirmations. Only the SHA-256 of the link's secret is kept.
CREATE TABLE account_links (
    token_hash  TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT    NOT NULL CHECK (purpose IN ('invitation', 'password_reset', 'email_change')),
    new_email   TEXT,                                  -- the address an email change confirms
    created_by  TEXT,                                  -- the admin who sent it (NULL: the operator)
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
);
-- One live link per person and purpose: a new one revokes the old in the same transaction.
CREATE UNIQUE INDEX account_links_live ON account_links (user_id, purpose)
    WHERE used_at IS NULL AND revoked_at IS NULL;
