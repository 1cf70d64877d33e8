-- The users list's counts, kept as they change instead of counted on every visit (a count
-- over 100,000 rows took ~40 ms). The triggers move them with every insert, delete and
-- change of the columns they depend on; "inactive" and "locked" depend on the time and are
-- counted from indexes when asked.
CREATE TABLE user_counts (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    all_users   INTEGER NOT NULL,
    two_step_on INTEGER NOT NULL,
    not_set_up  INTEGER NOT NULL,
    pending     INTEGER NOT NULL,
    disabled    INTEGER NOT NULL
);
INSERT INTO user_counts (id, all_users, two_step_on, not_set_up, pending, disabled)
SELECT 1, COUNT(*),
       COALESCE(SUM(two_factor_enabled), 0),
       COALESCE(SUM(CASE WHEN two_factor_enabled = 0 AND active = 1 AND password_hash IS NOT NULL THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN active = 1 AND password_hash IS NULL THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN active = 0 THEN 1 ELSE 0 END), 0)
FROM users;

CREATE TRIGGER user_counts_insert AFTER INSERT ON users BEGIN
    UPDATE user_counts SET
        all_users   = all_users + 1,
        two_step_on = two_step_on + (NEW.two_factor_enabled <> 0),
        not_set_up  = not_set_up + (NEW.two_factor_enabled = 0 AND NEW.active = 1 AND NEW.password_hash IS NOT NULL),
        pending     = pending + (NEW.active = 1 AND NEW.password_hash IS NULL),
        disabled    = disabled + (NEW.active = 0)
    WHERE id = 1;
END;

CREATE TRIGGER user_counts_delete AFTER DELETE ON users BEGIN
    UPDATE user_counts SET
        all_users   = all_users - 1,
        two_step_on = two_step_on - (OLD.two_factor_enabled <> 0),
        not_set_up  = not_set_up - (OLD.two_factor_enabled = 0 AND OLD.active = 1 AND OLD.password_hash IS NOT NULL),
        pending     = pending - (OLD.active = 1 AND OLD.password_hash IS NULL),
        disabled    = disabled - (OLD.active = 0)
    WHERE id = 1;
END;

CREATE TRIGGER user_counts_update AFTER UPDATE OF active, two_factor_enabled, password_hash ON users BEGIN
    UPDATE user_counts SET
        two_step_on = two_step_on - (OLD.two_factor_enabled <> 0) + (NEW.two_factor_enabled <> 0),
        not_set_up  = not_set_up
                      - (OLD.two_factor_enabled = 0 AND OLD.active = 1 AND OLD.password_hash IS NOT NULL)
                      + (NEW.two_factor_enabled = 0 AND NEW.active = 1 AND NEW.password_hash IS NOT NULL),
        pending     = pending - (OLD.active = 1 AND OLD.password_hash IS NULL)
                      + (NEW.active = 1 AND NEW.password_hash IS NULL),
        disabled    = disabled - (OLD.active = 0) + (NEW.active = 0)
    WHERE id = 1;
END;

-- "Inactive 30 days" counted from an index: active people not seen since a time.
CREATE INDEX users_inactive ON users (active, last_sign_in_at, created_at);
-- People without a password yet (few): to take them out of the inactive count.
CREATE INDEX users_pending ON users (active, last_sign_in_at, created_at) WHERE password_hash IS NULL;
