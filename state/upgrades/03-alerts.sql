-- v2 -> v3: alerts

-- alert is one occurrence of a problem, from the moment a check first sees it
-- (pending) through firing to resolved. fingerprint names the problem ("disk:/var"), so
-- at most one occurrence of it is open at a time; resolved ones stay as history.
CREATE TABLE alert (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	fingerprint TEXT    NOT NULL,
	check_name  TEXT    NOT NULL,
	subject     TEXT    NOT NULL,
	severity    INTEGER NOT NULL,
	-- worst is the highest severity this occurrence reached.
	worst       INTEGER NOT NULL,
	state       TEXT    NOT NULL,
	summary     TEXT    NOT NULL,
	value       TEXT    NOT NULL DEFAULT '',
	hint        TEXT    NOT NULL DEFAULT '',
	public      BOOLEAN NOT NULL DEFAULT false,
	since       BIGINT  NOT NULL,
	fired_at    BIGINT  NOT NULL DEFAULT 0,
	resolved_at BIGINT  NOT NULL DEFAULT 0,
	updated_at  BIGINT  NOT NULL,
	acked_by    TEXT    NOT NULL DEFAULT '',
	acked_at    BIGINT  NOT NULL DEFAULT 0,
	-- message is the outbox ID of the admin room message that shows this alert (shared
	-- by the alerts grouped into it); 0 while it waits to be posted.
	message     INTEGER NOT NULL DEFAULT 0,
	-- escalation is how far a critical alert nobody took has been escalated: 0 not
	-- yet, 1 the on-duty admin mentioned, 2 every admin mentioned.
	escalation  INTEGER NOT NULL DEFAULT 0,
	-- announced is set once members were told in the group room (public alerts).
	announced   BOOLEAN NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX alert_open_idx ON alert (fingerprint) WHERE state <> 'resolved';
CREATE INDEX alert_state_idx ON alert (state, check_name);
CREATE INDEX alert_message_idx ON alert (message) WHERE message <> 0;
CREATE INDEX alert_resolved_idx ON alert (resolved_at) WHERE state = 'resolved';
