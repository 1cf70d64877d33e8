-- Tamper evidence for the audit trail: every record carries its place in the chain (`seq`)
-- and a MAC, keyed from the server key (which never enters the database), over its own
-- fields and the previous record's MAC. `audit_chain` holds the chain's head; every insert
-- takes its row first (a lock on both backends), so two writers cannot fork the chain.
-- Records written before this migration have no MAC: the chain starts after them.
ALTER TABLE audit_log ADD COLUMN seq INTEGER;
ALTER TABLE audit_log ADD COLUMN mac TEXT;
CREATE UNIQUE INDEX audit_by_seq ON audit_log (seq) WHERE seq IS NOT NULL;

CREATE TABLE audit_chain (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    seq           INTEGER NOT NULL,               -- the newest record's place (0: none yet)
    head          TEXT    NOT NULL,               -- the newest record's MAC ('' before the first)
    starts_after  INTEGER NOT NULL                -- records with ids up to this one predate the chain
);
INSERT INTO audit_chain (id, seq, head, starts_after)
SELECT 1, 0, '', COALESCE(MAX(id), 0) FROM audit_log;

-- The audit page's filters, each an index range read newest first: by kind, by the person
-- who acted, by the address as typed (failed sign-ins name people who may not exist).
CREATE INDEX audit_by_kind ON audit_log (kind, id);
CREATE INDEX audit_by_actor ON audit_log (actor_id, id);
CREATE INDEX audit_by_subject_email ON audit_log (subject, id);

-- The daily counts behind the report's coverage chart (a policy change moves many
-- people's status without a per-person record, so the counts are kept as they were).
CREATE TABLE coverage_snapshots (
    day           INTEGER PRIMARY KEY,            -- midnight UTC of the day
    in_scope      INTEGER NOT NULL,               -- active people who can sign in
    with_two_step INTEGER NOT NULL,
    with_passkey  INTEGER NOT NULL,
    with_app      INTEGER NOT NULL,
    required      INTEGER NOT NULL,
    taken_at      INTEGER NOT NULL
);

-- When the chain's head was last mailed to the admins (once a day).
ALTER TABLE organisation ADD COLUMN head_mailed_on INTEGER;
