-- v4 -> v5: container updates

-- update_job is the journal of one container update. Each step is written before it is
-- taken, so a Steward stopped half-way finds the update at start and puts the
-- container right (see dockerctl.Updater.Recover).
CREATE TABLE update_job (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	container    TEXT    NOT NULL,
	old_id       TEXT    NOT NULL,
	image        TEXT    NOT NULL,
	old_image    TEXT    NOT NULL,
	new_image    TEXT    NOT NULL DEFAULT '',
	old_digest   TEXT    NOT NULL DEFAULT '',
	new_digest   TEXT    NOT NULL DEFAULT '',
	was_running  BOOLEAN NOT NULL,
	backup_name  TEXT    NOT NULL,
	new_id       TEXT    NOT NULL DEFAULT '',
	step         TEXT    NOT NULL,
	outcome      TEXT    NOT NULL DEFAULT '',
	detail       TEXT    NOT NULL DEFAULT '',
	started_at   BIGINT  NOT NULL,
	updated_at   BIGINT  NOT NULL
);
CREATE INDEX update_job_open_idx ON update_job (outcome) WHERE outcome = '';
