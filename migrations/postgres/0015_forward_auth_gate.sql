-- The forward-auth gate: sites that cannot speak OpenID Connect, behind a reverse proxy
-- that asks Tessera about every request.

-- The protected sites, by host name as browsers use it (lower case; a port only when not
-- the scheme's default).
CREATE TABLE gate_hosts (
    host            TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL,
    roles           TEXT    NOT NULL,                  -- JSON array of roles let in
    password_enough BIGINT NOT NULL DEFAULT 0,         -- 0: two steps required
    enabled         BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL
);

-- The gate's cookie (its SHA-256), on the parent domain: bound to the Tessera session it
-- was made from (by sid), so it dies with that session.
CREATE TABLE gate_tokens (
    token_hash TEXT    PRIMARY KEY,
    sid        TEXT    NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX gate_tokens_by_sid ON gate_tokens (sid);
