-- Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a Tessera session
-- ends, each app that got tokens from it and registered a logout address is told.

CREATE TABLE oidc_logout_outbox (
    id            TEXT    PRIMARY KEY,                 -- the logout token's jti
    client_id     TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL,
    sid           TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    attempts      BIGINT  NOT NULL DEFAULT 0,
    next_at       BIGINT  NOT NULL,
    claimed_until BIGINT,
    last_error    TEXT
);
CREATE INDEX oidc_logout_due ON oidc_logout_outbox (next_at);

-- The session's deletion is the decision, in its own transaction: every way a session
-- ends (sign-out, sign-out everywhere, a reset, disabling, a restore, expiry) queues the
-- same notices, and none can forget to.
CREATE FUNCTION sessions_end_tells_apps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.sid IS NOT NULL THEN
        INSERT INTO oidc_logout_outbox (id, client_id, user_id, sid, created_at, next_at)
        SELECT replace(gen_random_uuid()::text, '-', ''), c.id, OLD.user_id, OLD.sid,
               CAST(extract(epoch FROM now()) AS BIGINT), 0
        FROM oidc_clients c
        WHERE c.backchannel_logout_uri IS NOT NULL AND c.enabled = 1
          AND EXISTS (SELECT 1 FROM oidc_grants g WHERE g.client_id = c.id AND g.sid = OLD.sid);
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER sessions_end_tells_apps AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_end_tells_apps();
