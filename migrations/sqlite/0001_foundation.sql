-- Tessera's foundation: the organisation, its users, sessions, throttling, audit, mail.
-- Portable on purpose: integer Unix times (seconds), text UUIDs, 0/1 booleans, so the
-- PostgreSQL migrations differ only in the few types that must.

CREATE TABLE organisation (
    id                      INTEGER PRIMARY KEY CHECK (id = 1), -- one organisation per deployment
    name                    TEXT    NOT NULL,
    is_demo                 INTEGER NOT NULL DEFAULT 0,
    require_two_factor      INTEGER NOT NULL DEFAULT 0,
    session_idle_secs       INTEGER NOT NULL DEFAULT 1800,
    session_absolute_secs   INTEGER NOT NULL DEFAULT 43200,
    created_at              INTEGER NOT NULL
);

CREATE TABLE users (
    id                  TEXT    PRIMARY KEY,           -- random UUID: the stable user handle
    email               TEXT    NOT NULL UNIQUE,       -- normalised (trimmed, lower case)
    display_name        TEXT    NOT NULL,
    role                TEXT    NOT NULL CHECK (role IN ('admin', 'staff')),
    active              INTEGER NOT NULL DEFAULT 1,
    password_hash       TEXT,                          -- PHC string; NULL: no password yet
    two_factor_enabled  INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER
);

CREATE TABLE sessions (
    id_hash       TEXT    PRIMARY KEY,                 -- SHA-256 of the cookie value
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state         TEXT    NOT NULL CHECK (state IN ('needs_second_factor', 'needs_setup', 'full')),
    persistent    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    client_addr   TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Failed attempts, one row per (scope, key): e.g. ('password_account', 'ann@example.org').
CREATE TABLE throttle (
    scope           TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    actor_id    TEXT,
    subject_id  TEXT,
    subject     TEXT,                                  -- email as typed/known at the time
    client_addr TEXT,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_time ON audit_log (at);
CREATE INDEX audit_by_subject ON audit_log (subject_id, at);

-- The audit trail is evidence: the database itself refuses to change or drop a record.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    to_addr         TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,                           -- a worker's lease while it sends
    sent_at         INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);

CREATE TABLE setup_tokens (
    token_hash  TEXT    PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER
);
