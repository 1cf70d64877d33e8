-- Bulk mail (reminders, an import's invitations) waits behind everything else, so a
-- security notice or a password-reset link is not held up for an hour behind two thousand
-- invitations when TESSERA_MAIL_PER_MINUTE caps sending. The queue is read in this order.
ALTER TABLE outbox ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_queue ON outbox (bulk, id) WHERE sent_at IS NULL;
