-- v1 -> v2: approvals, reactions in the inbox, messages that refer to earlier ones

-- approval is a command waiting for (or past) the admins' approval. state moves
-- open -> approved -> executing -> done, or open -> denied | cancelled | expired; every
-- move is a conditional UPDATE, so two approvals racing, or a restart, can never run
-- the command twice.
CREATE TABLE approval (
	id               TEXT    PRIMARY KEY,
	command          TEXT    NOT NULL,
	body             TEXT    NOT NULL,
	effect           TEXT    NOT NULL DEFAULT '',
	requester        TEXT    NOT NULL,
	requester_device TEXT    NOT NULL DEFAULT '',
	room_id          TEXT    NOT NULL,
	event_id         TEXT    NOT NULL UNIQUE,
	thread_root      TEXT    NOT NULL DEFAULT '',
	policy           TEXT    NOT NULL,
	needed           INTEGER NOT NULL,
	self_counts      BOOLEAN NOT NULL DEFAULT false,
	request_msg      INTEGER NOT NULL DEFAULT 0,
	audit_id         INTEGER NOT NULL DEFAULT 0,
	created_at       BIGINT  NOT NULL,
	expires_at       BIGINT  NOT NULL,
	state            TEXT    NOT NULL DEFAULT 'open',
	decided_by       TEXT    NOT NULL DEFAULT '',
	decided_at       BIGINT  NOT NULL DEFAULT 0,
	reason           TEXT    NOT NULL DEFAULT '',
	outcome          TEXT    NOT NULL DEFAULT '',
	detail           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX approval_state_idx ON approval (state, expires_at);
CREATE INDEX approval_request_msg_idx ON approval (request_msg);

-- approval_vote holds one answer per admin and request; a second answer by the same
-- admin is not counted twice.
CREATE TABLE approval_vote (
	approval_id TEXT    NOT NULL REFERENCES approval(id),
	voter       TEXT    NOT NULL,
	device_id   TEXT    NOT NULL DEFAULT '',
	event_id    TEXT    NOT NULL,
	approve     BOOLEAN NOT NULL,
	ts          BIGINT  NOT NULL,
	PRIMARY KEY (approval_id, voter)
);

-- The inbox takes reactions too (an approval by ✅), in order with the commands.
ALTER TABLE inbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'command';
ALTER TABLE inbox ADD COLUMN relates_to TEXT NOT NULL DEFAULT '';

-- relates_to_msg is an earlier outbox message this one reacts to or edits; its event ID
-- is filled in when this one is sent, since it is not known when both are queued.
ALTER TABLE outbox ADD COLUMN relates_to_msg INTEGER NOT NULL DEFAULT 0;

-- A reaction names the event it answers; this finds the request message behind it.
CREATE INDEX outbox_event_id_idx ON outbox (event_id);
