-- v0 -> v1: Steward core: sync position, command inbox, outbox and audit log

-- kv holds small singletons: the sync token, the first-start time, one-off warnings.
CREATE TABLE kv (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- inbox records every command event before it runs, so a re-delivered sync or a restart
-- never runs a command twice. state: received -> started -> done.
CREATE TABLE inbox (
	event_id    TEXT PRIMARY KEY,
	room_id     TEXT NOT NULL,
	sender      TEXT NOT NULL,
	device_id   TEXT NOT NULL DEFAULT '',
	trust       INTEGER NOT NULL DEFAULT 0,
	encrypted   BOOLEAN NOT NULL DEFAULT false,
	thread_root TEXT NOT NULL DEFAULT '',
	body        TEXT NOT NULL,
	sent_at     BIGINT NOT NULL,
	received_at BIGINT NOT NULL,
	state       TEXT NOT NULL DEFAULT 'received',
	outcome     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX inbox_state_idx ON inbox (state, received_at);

-- undecrypted keeps encrypted messages whose room key had not arrived when their batch
-- was committed, so that a restart before the key comes retries them instead of
-- forgetting them.
CREATE TABLE undecrypted (
	event_id    TEXT PRIMARY KEY,
	room_id     TEXT NOT NULL,
	event       TEXT NOT NULL,
	received_at BIGINT NOT NULL
);

-- outbox keeps messages until the homeserver has accepted them, in the order they were
-- written. txn_id is stable, so a resend after a crash is deduplicated by the server.
CREATE TABLE outbox (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	room_id     TEXT    NOT NULL,
	event_type  TEXT    NOT NULL,
	content     TEXT    NOT NULL,
	txn_id      TEXT    NOT NULL UNIQUE,
	-- reply_to is the command event this message answers, if any: after a crash it
	-- tells whether the command had already been answered.
	reply_to    TEXT    NOT NULL DEFAULT '',
	created_at  BIGINT  NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT    NOT NULL DEFAULT '',
	state       TEXT    NOT NULL DEFAULT 'queued',
	event_id    TEXT    NOT NULL DEFAULT '',
	sent_at     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX outbox_state_idx ON outbox (state, id);
CREATE INDEX outbox_reply_to_idx ON outbox (reply_to) WHERE reply_to <> '';

-- audit is the decision log: what was asked and what came of it. parent_id links an
-- entry to the one it answers. Entries are hash-chained: hash covers the entry and the
-- previous entry's hash (prev_hash), so editing, deleting or reordering past entries
-- breaks the chain.
CREATE TABLE audit (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	ts           BIGINT  NOT NULL,
	actor        TEXT    NOT NULL,
	actor_device TEXT    NOT NULL DEFAULT '',
	room_id      TEXT    NOT NULL DEFAULT '',
	event_id     TEXT    NOT NULL DEFAULT '',
	action       TEXT    NOT NULL,
	arguments    TEXT    NOT NULL DEFAULT '',
	outcome      TEXT    NOT NULL,
	detail       TEXT    NOT NULL DEFAULT '',
	parent_id    INTEGER REFERENCES audit(id),
	prev_hash    TEXT    NOT NULL DEFAULT '',
	hash         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_ts_idx ON audit (ts);
