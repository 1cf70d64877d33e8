-- no-transaction
-- The admin console: four roles, what the users list sorts and filters on, the step-up
-- window in the session row, and the setup code a reset hands out.
--
-- SQLite cannot change a CHECK constraint in place, so `users` and `sessions` are rebuilt (SQLite's
-- documented twelve-step way): foreign keys are off while the old table is dropped, so the
-- rows that refer to them are neither deleted nor changed; every row is copied as it is.

PRAGMA foreign_keys = OFF;

BEGIN;

CREATE TABLE users_new (
    id                  TEXT    PRIMARY KEY,
    email               TEXT    NOT NULL UNIQUE,
    display_name        TEXT    NOT NULL,
    -- display_name in lower case (Unicode, computed by the application): sort and search
    name_key            TEXT    NOT NULL,
    role                TEXT    NOT NULL CHECK (role IN ('admin', 'helpdesk', 'auditor', 'staff')),
    active              INTEGER NOT NULL DEFAULT 1,
    password_hash       TEXT,
    two_factor_enabled  INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER,
    -- 0: never (not NULL, so both backends sort it the same way and an index serves it)
    last_sign_in_at     INTEGER NOT NULL DEFAULT 0,
    last_reminded_at    INTEGER NOT NULL DEFAULT 0
);

INSERT INTO users_new (id, email, display_name, name_key, role, active, password_hash,
                       two_factor_enabled, created_at, password_changed_at)
SELECT id, email, display_name, lower(display_name), role, active, password_hash,
       two_factor_enabled, created_at, password_changed_at
FROM users;

DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- Keyset pages in each sort order (the id breaks ties).
CREATE INDEX users_by_name ON users (name_key, id);
CREATE INDEX users_by_created ON users (created_at, id);
CREATE INDEX users_by_last_sign_in ON users (last_sign_in_at, id);

-- Sessions gain a state (a reset user owes the setup code their helpdesk gave them before
-- enrolling anew) and the time of the last step-up (password and second factor again):
-- changes from the console need one within the last ten minutes.
CREATE TABLE sessions_new (
    id_hash       TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state         TEXT    NOT NULL CHECK (state IN ('needs_second_factor', 'needs_setup_code', 'needs_setup', 'full')),
    persistent    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    client_addr   TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL,
    stepped_up_at INTEGER
);
INSERT INTO sessions_new (id_hash, user_id, state, persistent, created_at, last_seen_at,
                          client_addr, user_agent)
SELECT id_hash, user_id, state, persistent, created_at, last_seen_at, client_addr, user_agent
FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_by_user ON sessions (user_id);

-- A reset's one-time setup code: the user needs it, besides the password, before
-- enrolling a new method. Only its hash is kept; one per user; valid 24 hours. Once used,
-- the row stays (used_at) until the user has a method again: until then every sign-in
-- leads to the setup wizard.
CREATE TABLE setup_codes (
    user_id     TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code_hash   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

COMMIT;

PRAGMA foreign_keys = ON;
