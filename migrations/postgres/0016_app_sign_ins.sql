-- Each person's last sign-in per app or protected site, for their page in the console
-- (the audit trail holds every one; this is the summary that stays after tokens go).
CREATE TABLE app_sign_ins (
    user_id  TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_key  TEXT    NOT NULL,                  -- "app:<client id>" or "site:<host>"
    app_name TEXT    NOT NULL,
    at       BIGINT NOT NULL,
    how      TEXT    NOT NULL,                  -- the amr, space-separated
    PRIMARY KEY (user_id, app_key)
);
