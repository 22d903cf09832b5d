-- v10 -> v11: job pings

-- job is what Steward knows of one job outside it (a cron line, borgmatic) that pings
-- it when it runs: one row per name, written with each ping. first_seen is when
-- Steward first knew the job, so that one that never pinged alerts a period after it.
-- last_event is start, success or failure: a start after the last finish is a run
-- under way. exit_code and output belong to the last failure (exit_code -1 when the
-- job reported /fail without one); output is its last lines, secrets masked.
-- last_duration (ms) is the last timed run's, from a start to the finish that
-- followed it; a finish without a start (a retried ping) leaves it.
CREATE TABLE job (
	name          TEXT    PRIMARY KEY,
	first_seen    BIGINT  NOT NULL,
	last_event    TEXT    NOT NULL DEFAULT '',
	last_start    BIGINT  NOT NULL DEFAULT 0,
	last_success  BIGINT  NOT NULL DEFAULT 0,
	last_failure  BIGINT  NOT NULL DEFAULT 0,
	exit_code     INTEGER NOT NULL DEFAULT 0,
	output        TEXT    NOT NULL DEFAULT '',
	last_duration BIGINT  NOT NULL DEFAULT 0
);

-- job_ping is the history of each job's pings, the newest 100 of each kept.
CREATE TABLE job_ping (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	job       TEXT    NOT NULL,
	kind      TEXT    NOT NULL, -- start, success or failure
	exit_code INTEGER NOT NULL DEFAULT 0,
	at        BIGINT  NOT NULL,
	output    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX job_ping_job_idx ON job_ping (job, id);

-- job_unknown counts the pings to names no job has, since the admins were last told:
-- at most 100 names, the least pinged (then the least recently pinged) given up
-- first, so that a flood of made-up names can't fill the disk.
CREATE TABLE job_unknown (
	name      TEXT    PRIMARY KEY,
	count     INTEGER NOT NULL,
	last_seen BIGINT  NOT NULL
);
