-- At most one setup link waits at a time, so instances that start together on an empty
-- database print one link between them (the others say that one is waiting).
CREATE UNIQUE INDEX setup_tokens_one_waiting ON setup_tokens ((used_at IS NULL)) WHERE used_at IS NULL;
