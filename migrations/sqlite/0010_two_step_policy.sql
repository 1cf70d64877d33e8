-- The two-step policy beyond on/off: a deadline for everyone, an enrolment period for people
-- who join later, which methods count, passkeys for admins, temporary exceptions, and the
-- deadline's reminders. See core/src/policy.rs for how they combine.

-- When the requirement last took effect (NULL while it is off): people whose accounts are
-- created after it get the enrolment period.
ALTER TABLE organisation ADD COLUMN required_since INTEGER;
-- Until this time people without a (satisfying) method may skip the setup wizard; NULL: no
-- grace, the wizard from the next sign-in.
ALTER TABLE organisation ADD COLUMN deadline INTEGER;
-- When the deadline was last set: the first of its reminders goes out from then.
ALTER TABLE organisation ADD COLUMN deadline_set_at INTEGER;
ALTER TABLE organisation ADD COLUMN enrolment_days INTEGER NOT NULL DEFAULT 0
    CHECK (enrolment_days BETWEEN 0 AND 30);
ALTER TABLE organisation ADD COLUMN allow_passkeys INTEGER NOT NULL DEFAULT 1;
ALTER TABLE organisation ADD COLUMN allow_app INTEGER NOT NULL DEFAULT 1;
ALTER TABLE organisation ADD COLUMN admins_need_passkey INTEGER NOT NULL DEFAULT 0;
UPDATE organisation SET required_since = created_at WHERE require_two_factor = 1;

-- The start of a person's enrolment period.
ALTER TABLE users ADD COLUMN first_sign_in_at INTEGER;
UPDATE users SET first_sign_in_at = last_sign_in_at WHERE last_sign_in_at > 0;

-- How the session's sign-in was proved: NULL for the password alone (no method, an
-- exception, a grace period), else the second factor used ('app', 'passkey', 'backup_code').
ALTER TABLE sessions ADD COLUMN second_factor TEXT;
UPDATE sessions SET second_factor = 'unknown' WHERE state = 'full'
    AND user_id IN (SELECT id FROM users WHERE two_factor_enabled = 1);
-- Why a password-only session was let in while the requirement was on ('grace',
-- 'exception'): such a session goes to the wizard when that ends. NULL: not let in that way.
ALTER TABLE sessions ADD COLUMN admitted_by TEXT;

-- A temporary exception: until `until`, the person signs in with the password alone even
-- though two-step authentication is required. One at a time per person; ending it (early,
-- or by itself) deletes the row and leaves an audit record.
CREATE TABLE two_step_exceptions (
    user_id     TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    until       INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    granted_by  TEXT    NOT NULL,
    granted_at  INTEGER NOT NULL
);
CREATE INDEX two_step_exceptions_by_end ON two_step_exceptions (until);

-- The deadline's reminders: one row per person, deadline and stage, taken by the insert
-- that sends it — so two instances running the job cannot both send one, and moving the
-- deadline (a new date) schedules a new set.
CREATE TABLE deadline_reminders (
    user_id   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    deadline  INTEGER NOT NULL,
    stage     TEXT    NOT NULL CHECK (stage IN ('start', 'week', 'day')),
    sent_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, deadline, stage)
);
