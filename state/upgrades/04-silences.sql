-- v3 -> v4: silences and maintenance windows

-- silence holds back alerts whose fingerprint matches matcher (a glob, "disk:*") from
-- ends_at on no more: they are still recorded, but not posted, escalated or announced.
-- A maintenance window is a silence of everything that the group room is told about.
CREATE TABLE silence (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	matcher     TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	created_by  TEXT    NOT NULL,
	created_at  BIGINT  NOT NULL,
	ends_at     BIGINT  NOT NULL,
	-- ended_at is set when it ended, by time or by !unsilence (ended_by).
	ended_at    BIGINT  NOT NULL DEFAULT 0,
	ended_by    TEXT    NOT NULL DEFAULT '',
	maintenance BOOLEAN NOT NULL DEFAULT false,
	-- warned is set once the admins were told it is about to end.
	warned      BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX silence_active_idx ON silence (ended_at, ends_at);
