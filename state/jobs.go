package state

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
)

// PingKind is what a job's ping says: it started, it succeeded, it failed.
type PingKind string

// The kinds of ping.
const (
	PingStart   PingKind = "start"
	PingSuccess PingKind = "success"
	PingFailure PingKind = "failure"
)

// NoExitCode is the exit code of a failure reported without one (/fail).
const NoExitCode = -1

// Bounds of what the job tables keep, so that neither a chatty job nor a flood of
// made-up names can grow them without end.
const (
	// PingsKept is how many pings of each job the history keeps.
	PingsKept = 100
	// UnknownKept is how many names that no job has are counted at a time.
	UnknownKept = 100
)

// Job is what Steward knows of one job outside it from its pings.
type Job struct {
	Name string
	// FirstSeen is when Steward first knew the job (configured or pinged).
	FirstSeen time.Time
	// LastEvent is the kind of its latest ping; "" before the first.
	LastEvent   PingKind
	LastStart   time.Time
	LastSuccess time.Time
	LastFailure time.Time
	// ExitCode and Output are the last failure's: its exit code (NoExitCode when none
	// was given) and its last lines of output, secrets masked.
	ExitCode int
	Output   string
	// LastDuration is the last run's that was timed: from a start to the finish that
	// followed it (a finish without a start, like a retried ping, leaves it); 0 before
	// the first.
	LastDuration time.Duration
}

// Running tells a run under way: a start came after the last finish.
func (j *Job) Running() bool { return j.LastEvent == PingStart }

// Failed tells whether the last finished run failed.
func (j *Job) Failed() bool {
	switch j.LastEvent {
	case PingFailure:
		return true
	case PingSuccess:
		return false
	default: // under way, or never pinged: the run before it
		return j.LastFailure.After(j.LastSuccess)
	}
}

// Ping is one ping of a job.
type Ping struct {
	ID  int64
	Job string
	// Kind is what it said; ExitCode goes with a failure (NoExitCode when none).
	Kind     PingKind
	ExitCode int
	At       time.Time
	// Output is the last lines of what the job printed, secrets masked.
	Output string
}

// UnknownJob counts the pings to a name no job has, since the admins were last told.
type UnknownJob struct {
	Name     string
	Count    int
	LastSeen time.Time
}

// Jobs keeps the jobs' pings: each job's latest news, its recent history, and the
// names pinged that no job has.
type Jobs struct {
	db *dbutil.Database
}

const jobColumns = `name, first_seen, last_event, last_start, last_success, last_failure, exit_code, output, last_duration`

// Know records that Steward knows the jobs names from at on, for those it did not
// know yet: a job that never pings is missed a period after it was first known.
func (j *Jobs) Know(ctx context.Context, names []string, at time.Time) error {
	return j.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		for _, name := range names {
			if _, err := j.db.Exec(ctx, "INSERT INTO job (name, first_seen) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", name, at.UnixMilli()); err != nil {
				return fmt.Errorf("record job %s: %w", name, err)
			}
		}
		return nil
	})
}

// Record stores ping p and what it says of its job, and sets p.ID. The history keeps
// the job's newest PingsKept pings.
func (j *Jobs) Record(ctx context.Context, p *Ping) error {
	at := p.At.UnixMilli()
	err := j.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		if _, err := j.db.Exec(ctx, "INSERT INTO job (name, first_seen) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", p.Job, at); err != nil {
			return err
		}
		var err error
		switch p.Kind {
		case PingStart:
			_, err = j.db.Exec(ctx, "UPDATE job SET last_event=$2, last_start=$3 WHERE name=$1", p.Job, p.Kind, at)
		case PingSuccess:
			_, err = j.db.Exec(ctx, `UPDATE job SET last_event=$2, last_success=$3,
					last_duration = CASE WHEN last_event='start' THEN $3 - last_start ELSE last_duration END
				WHERE name=$1`, p.Job, p.Kind, at)
		case PingFailure:
			_, err = j.db.Exec(ctx, `UPDATE job SET last_event=$2, last_failure=$3, exit_code=$4, output=$5,
					last_duration = CASE WHEN last_event='start' THEN $3 - last_start ELSE last_duration END
				WHERE name=$1`, p.Job, p.Kind, at, p.ExitCode, p.Output)
		default:
			err = fmt.Errorf("unknown kind of ping %q", p.Kind)
		}
		if err != nil {
			return err
		}
		err = j.db.QueryRow(ctx, "INSERT INTO job_ping (job, kind, exit_code, at, output) VALUES ($1, $2, $3, $4, $5) RETURNING id",
			p.Job, p.Kind, p.ExitCode, at, p.Output).Scan(&p.ID)
		if err != nil {
			return err
		}
		_, err = j.db.Exec(ctx, `DELETE FROM job_ping WHERE job=$1 AND id <= (
				SELECT id FROM job_ping WHERE job=$1 ORDER BY id DESC LIMIT 1 OFFSET $2)`, p.Job, PingsKept)
		return err
	})
	if err != nil {
		return fmt.Errorf("record %s ping of job %s: %w", p.Kind, p.Job, err)
	}
	return nil
}

// All returns every job Steward knows, by name.
func (j *Jobs) All(ctx context.Context) ([]*Job, error) {
	rows, err := j.db.Query(ctx, "SELECT "+jobColumns+" FROM job ORDER BY name")
	return dbutil.NewRowIterWithError(rows, scanJob, err).AsList()
}

func scanJob(row dbutil.Scannable) (*Job, error) {
	var job Job
	var firstSeen, start, success, failure, duration int64
	err := row.Scan(&job.Name, &firstSeen, &job.LastEvent, &start, &success, &failure, &job.ExitCode, &job.Output, &duration)
	if err != nil {
		return nil, err
	}
	job.FirstSeen = time.UnixMilli(firstSeen)
	job.LastStart, job.LastSuccess, job.LastFailure = fromMS(start), fromMS(success), fromMS(failure)
	job.LastDuration = time.Duration(duration) * time.Millisecond
	return &job, nil
}

// History returns the newest n pings of job, newest first.
func (j *Jobs) History(ctx context.Context, job string, n int) ([]*Ping, error) {
	rows, err := j.db.Query(ctx, "SELECT id, job, kind, exit_code, at, output FROM job_ping WHERE job=$1 ORDER BY id DESC LIMIT $2", job, n)
	return dbutil.NewRowIterWithError(rows, func(row dbutil.Scannable) (*Ping, error) {
		var p Ping
		var at int64
		err := row.Scan(&p.ID, &p.Job, &p.Kind, &p.ExitCode, &at, &p.Output)
		p.At = time.UnixMilli(at)
		return &p, err
	}, err).AsList()
}

// RecordUnknown counts a ping at at to name, which no job has. Of the names counted,
// UnknownKept are kept: the most pinged, then the most recently pinged, so that a
// flood of made-up names pushes out none that pings again and again (a cron line
// with a typo).
func (j *Jobs) RecordUnknown(ctx context.Context, name string, at time.Time) error {
	err := j.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		_, err := j.db.Exec(ctx, `INSERT INTO job_unknown (name, count, last_seen) VALUES ($1, 1, $2)
			ON CONFLICT (name) DO UPDATE SET count=count+1, last_seen=excluded.last_seen`, name, at.UnixMilli())
		if err != nil {
			return err
		}
		_, err = j.db.Exec(ctx, `DELETE FROM job_unknown WHERE name NOT IN (
				SELECT name FROM job_unknown ORDER BY count DESC, last_seen DESC, name LIMIT $1)`, UnknownKept)
		return err
	})
	if err != nil {
		return fmt.Errorf("count a ping to the unknown job %q: %w", name, err)
	}
	return nil
}

// Unknown returns the names counted since the admins were last told, the most
// pinged first.
func (j *Jobs) Unknown(ctx context.Context) ([]*UnknownJob, error) {
	rows, err := j.db.Query(ctx, "SELECT name, count, last_seen FROM job_unknown ORDER BY count DESC, name")
	return dbutil.NewRowIterWithError(rows, func(row dbutil.Scannable) (*UnknownJob, error) {
		var u UnknownJob
		var seen int64
		err := row.Scan(&u.Name, &u.Count, &seen)
		u.LastSeen = time.UnixMilli(seen)
		return &u, err
	}, err).AsList()
}

// ClearUnknown forgets the names counted: the admins were told of them.
func (j *Jobs) ClearUnknown(ctx context.Context) error {
	_, err := j.db.Exec(ctx, "DELETE FROM job_unknown")
	return err
}
