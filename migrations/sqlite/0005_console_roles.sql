-- no-transaction
-- The admin console: four roles, what the users list sorts and filters on, and the
-- step-up window in the session row.
--
-- SQLite cannot change a CHECK constraint in place, so `users` is rebuilt (SQLite's
-- documented twelve-step way): foreign keys are off while the old table is dropped, so the
-- rows that refer to users are neither deleted nor changed; every row is copied as it is.

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
    last_sign_in_at     INTEGER,
    last_reminded_at    INTEGER
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

-- When the person last proved themselves again (password and second factor) in this
-- session: changes from the console need it within the last ten minutes.
ALTER TABLE sessions ADD COLUMN stepped_up_at INTEGER;

COMMIT;

PRAGMA foreign_keys = ON;
