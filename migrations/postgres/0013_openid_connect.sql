-- Tessera as an OpenID Connect provider for the organisation's other apps.

-- A session's public name, kept when its secret id is replaced at each step: what an ID
-- token's `sid` says, and what the apps' grants hang on (a grant whose session is gone is
-- dead). Never the cookie, never its hash.
ALTER TABLE sessions ADD COLUMN sid TEXT;
UPDATE sessions SET sid = replace(gen_random_uuid()::text, '-', '') WHERE sid IS NULL;
CREATE UNIQUE INDEX sessions_by_sid ON sessions (sid);

-- The apps the admin registered. `secret_hash`: SHA-256 of a 256-bit random secret
-- (confidential apps only); the secret itself is shown once.
CREATE TABLE oidc_clients (
    id                     TEXT    PRIMARY KEY,        -- the client_id
    name                   TEXT    NOT NULL,
    confidential           BIGINT  NOT NULL,
    secret_hash            TEXT,
    redirect_uris          TEXT    NOT NULL,           -- JSON array of exact URIs
    post_logout_uris       TEXT    NOT NULL,           -- JSON array of exact URIs
    roles                  TEXT    NOT NULL,           -- JSON array of roles let in
    password_enough        BIGINT  NOT NULL DEFAULT 0, -- 0: two steps required
    refresh_tokens         BIGINT  NOT NULL DEFAULT 0,
    access_token_secs      BIGINT  NOT NULL DEFAULT 300,
    id_token_alg           TEXT    NOT NULL DEFAULT 'RS256' CHECK (id_token_alg IN ('RS256', 'ES256')),
    backchannel_logout_uri TEXT,
    enabled                BIGINT  NOT NULL DEFAULT 1,
    created_at             BIGINT  NOT NULL,
    CHECK (confidential = 0 OR secret_hash IS NOT NULL)
);
CREATE UNIQUE INDEX oidc_clients_by_name ON oidc_clients (name);

-- Signing keys, sealed with the server key. One active key per algorithm signs; a
-- retired key is still published until the tokens it signed have expired.
CREATE TABLE oidc_keys (
    kid        TEXT    PRIMARY KEY,                     -- RFC 7638 thumbprint
    alg        TEXT    NOT NULL CHECK (alg IN ('RS256', 'ES256')),
    sealed     TEXT    NOT NULL,                        -- PKCS#8, sealed
    public_jwk TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('active', 'retired')),
    created_at BIGINT  NOT NULL,
    retired_at BIGINT 
);
CREATE UNIQUE INDEX oidc_keys_one_active ON oidc_keys (alg) WHERE state = 'active';

-- Authorization codes (their SHA-256): single use, short, bound to the app, the redirect
-- URI and the PKCE challenge. `grant_id`: what redeeming it issued, revoked if the code
-- comes back.
CREATE TABLE oidc_codes (
    code_hash      TEXT    PRIMARY KEY,
    client_id      TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sid            TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    nonce          TEXT,
    scope          TEXT    NOT NULL,
    auth_time      BIGINT  NOT NULL,
    amr            TEXT    NOT NULL,                    -- JSON array (RFC 8176)
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    used_at        BIGINT ,
    grant_id       TEXT
);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);

-- What one sign-in gave one app: its access tokens and its refresh-token family. Dead
-- when revoked, or when the Tessera session it came from has ended.
CREATE TABLE oidc_grants (
    id         TEXT    PRIMARY KEY,
    client_id  TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sid        TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    auth_time  BIGINT  NOT NULL,
    amr        TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT ,
    revoked_by TEXT
);
CREATE INDEX oidc_grants_by_sid ON oidc_grants (sid);
CREATE INDEX oidc_grants_by_user ON oidc_grants (user_id);
CREATE INDEX oidc_grants_by_client ON oidc_grants (client_id);

CREATE TABLE oidc_refresh_tokens (
    token_hash TEXT    PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT 
);
CREATE INDEX oidc_refresh_by_grant ON oidc_refresh_tokens (grant_id);

CREATE TABLE oidc_access_tokens (
    token_hash TEXT    PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX oidc_access_by_grant ON oidc_access_tokens (grant_id);
CREATE INDEX oidc_access_by_expiry ON oidc_access_tokens (expires_at);
