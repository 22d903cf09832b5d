-- v8 -> v9: tickets

-- ticket is a member's request for help or abuse report: a direct chat with the member
-- on one side, a thread in the admin room on the other.
CREATE TABLE ticket (
	id          TEXT    PRIMARY KEY,
	member      TEXT    NOT NULL,
	kind        TEXT    NOT NULL, -- request or report
	category    TEXT    NOT NULL DEFAULT '',
	state       TEXT    NOT NULL, -- open or closed
	dm_room     TEXT    NOT NULL DEFAULT '',
	-- thread_msg is the outbox ID of the message that starts the ticket's thread in
	-- the admin room; its event ID is the thread's root once it is sent.
	thread_msg  BIGINT  NOT NULL DEFAULT 0,
	assignee    TEXT    NOT NULL DEFAULT '',
	decision    TEXT    NOT NULL DEFAULT '',
	closed_by   TEXT    NOT NULL DEFAULT '',
	deadline    BIGINT  NOT NULL DEFAULT 0,
	reminded    INTEGER NOT NULL DEFAULT 0,
	-- target_*: the message a report points at, and its sender.
	target_room  TEXT   NOT NULL DEFAULT '',
	target_event TEXT   NOT NULL DEFAULT '',
	target_user  TEXT   NOT NULL DEFAULT '',
	created_at  BIGINT  NOT NULL,
	updated_at  BIGINT  NOT NULL,
	closed_at   BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX ticket_member_idx ON ticket (member, state);
CREATE INDEX ticket_dm_idx ON ticket (dm_room);

-- ticket_message is one message of a ticket: from the member (in), from an admin to the
-- member (out), or a note among admins (note). Its text is removed when the ticket has
-- been closed longer than tickets.retention.
CREATE TABLE ticket_message (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id   TEXT    NOT NULL REFERENCES ticket (id),
	direction   TEXT    NOT NULL,
	sender      TEXT    NOT NULL,
	event_id    TEXT    NOT NULL,
	body        TEXT    NOT NULL,
	created_at  BIGINT  NOT NULL,
	UNIQUE (event_id)
);
CREATE INDEX ticket_message_ticket_idx ON ticket_message (ticket_id, id);

-- A message in a ticket's thread names the thread's root by event ID; this finds the
-- outbox message (and so the ticket) it was.
CREATE INDEX outbox_event_idx ON outbox (event_id) WHERE event_id <> '';
