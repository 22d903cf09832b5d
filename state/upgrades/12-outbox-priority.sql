-- v11 -> v12: the outbox's priorities, and what retention prunes by

-- priority orders the outbox: 0 is what the admins must see first (alerts, approval
-- requests, answers to their commands), 1 is members' traffic (tickets' messages both
-- ways, greetings), sent when nothing of 0 waits. Messages queued before keep 0, the
-- order they had. A message that relates to an unsent one is queued no earlier than
-- it (state.Outbox.add), so a reaction or an edit never overtakes its message.
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
-- The sender's next message is the first of this index; the WHERE is Next's own.
CREATE INDEX outbox_next_idx ON outbox (priority, id) WHERE state IN ('queued', 'sending');

-- Retention deletes old rows in small batches, oldest first.
CREATE INDEX outbox_created_idx ON outbox (created_at) WHERE state IN ('sent', 'failed');
CREATE INDEX approval_decided_idx ON approval (decided_at) WHERE state IN ('done', 'denied', 'cancelled', 'expired');
CREATE INDEX undecrypted_received_idx ON undecrypted (received_at);
-- The outbox keeps the messages that start tickets' threads; this finds them.
CREATE INDEX ticket_thread_msg_idx ON ticket (thread_msg);
