-- v7 -> v8: backups

-- backup_run records what Steward did with a backup set: an integrity check, a
-- restore drill, a backup run, a restore. A run is written when it starts and again
-- when it ends, so one cut short by a stop is found (finished_at = 0) and reported.
CREATE TABLE backup_run (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	set_name    TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	started_at  BIGINT  NOT NULL,
	finished_at BIGINT  NOT NULL DEFAULT 0,
	outcome     TEXT    NOT NULL DEFAULT '',
	snapshot    TEXT    NOT NULL DEFAULT '',
	-- step and state belong to restores: how far one got, and what it needs to be
	-- undone (JSON).
	step        TEXT    NOT NULL DEFAULT '',
	state       TEXT    NOT NULL DEFAULT '',
	detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX backup_run_latest_idx ON backup_run (set_name, kind, id);
