package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
)

// BackupRun is one thing Steward did with a backup set: a check, a drill, a backup
// or a restore.
type BackupRun struct {
	ID      int64
	Set     string
	Kind    string
	Started time.Time
	// Finished is zero while the run is under way (or was cut short by a stop).
	Finished time.Time
	// Outcome is "" while under way, then ok, failed or interrupted.
	Outcome  string
	Snapshot string
	// Step and State are a restore's progress and what undoing it needs.
	Step   string
	State  string
	Detail string
}

// BackupRuns keeps the record of backup runs.
type BackupRuns struct {
	db *dbutil.Database
}

const backupRunColumns = `id, set_name, kind, started_at, finished_at, outcome, snapshot, step, state, detail`

// Start records run as begun and sets its ID.
func (b *BackupRuns) Start(ctx context.Context, run *BackupRun) error {
	err := b.db.QueryRow(ctx, `INSERT INTO backup_run (set_name, kind, started_at, snapshot, step, state, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		run.Set, run.Kind, run.Started.UnixMilli(), run.Snapshot, run.Step, run.State, run.Detail).Scan(&run.ID)
	if err != nil {
		return fmt.Errorf("record %s of %s: %w", run.Kind, run.Set, err)
	}
	return nil
}

// Save writes run's progress and, once Outcome is set, its end.
func (b *BackupRuns) Save(ctx context.Context, run *BackupRun) error {
	var finished int64
	if !run.Finished.IsZero() {
		finished = run.Finished.UnixMilli()
	}
	_, err := b.db.Exec(ctx, `UPDATE backup_run SET finished_at=$1, outcome=$2, snapshot=$3, step=$4, state=$5, detail=$6 WHERE id=$7`,
		finished, run.Outcome, run.Snapshot, run.Step, run.State, run.Detail, run.ID)
	if err != nil {
		return fmt.Errorf("record %s of %s: %w", run.Kind, run.Set, err)
	}
	return nil
}

func scanBackupRun(row dbutil.Scannable) (*BackupRun, error) {
	var r BackupRun
	var started, finished int64
	err := row.Scan(&r.ID, &r.Set, &r.Kind, &started, &finished, &r.Outcome, &r.Snapshot, &r.Step, &r.State, &r.Detail)
	r.Started = time.UnixMilli(started)
	if finished != 0 {
		r.Finished = time.UnixMilli(finished)
	}
	return &r, err
}

// Latest returns the newest run of kind on set (finished or not) with outcome, any
// outcome when outcome is empty; nil when there is none.
func (b *BackupRuns) Latest(ctx context.Context, set, kind, outcome string) (*BackupRun, error) {
	row := b.db.QueryRow(ctx, "SELECT "+backupRunColumns+` FROM backup_run
		WHERE set_name=$1 AND kind=$2 AND ($3='' OR outcome=$3) ORDER BY id DESC LIMIT 1`, set, kind, outcome)
	r, err := scanBackupRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

// LatestInPlace returns the newest in-place restore (or undo) of set, finished or
// not; nil when there is none. A restore to the staging folder, which touches no
// container, doesn't hide it.
func (b *BackupRuns) LatestInPlace(ctx context.Context, set string) (*BackupRun, error) {
	row := b.db.QueryRow(ctx, "SELECT "+backupRunColumns+` FROM backup_run
		WHERE set_name=$1 AND kind='restore' AND json_valid(state) AND json_extract(state, '$.in_place') = 1
		ORDER BY id DESC LIMIT 1`, set)
	r, err := scanBackupRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

// LatestDone returns the newest finished run of kind on set (ok or failed), nil
// when there is none: a run under way, or one a stop cut short, says nothing yet.
func (b *BackupRuns) LatestDone(ctx context.Context, set, kind string) (*BackupRun, error) {
	row := b.db.QueryRow(ctx, "SELECT "+backupRunColumns+` FROM backup_run
		WHERE set_name=$1 AND kind=$2 AND outcome IN ('ok', 'failed') ORDER BY id DESC LIMIT 1`, set, kind)
	r, err := scanBackupRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

// Get returns the run with id, nil when there is none.
func (b *BackupRuns) Get(ctx context.Context, id int64) (*BackupRun, error) {
	r, err := scanBackupRun(b.db.QueryRow(ctx, "SELECT "+backupRunColumns+" FROM backup_run WHERE id=$1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

// Unfinished returns the runs a stop cut short, oldest first.
func (b *BackupRuns) Unfinished(ctx context.Context) ([]*BackupRun, error) {
	rows, err := b.db.Query(ctx, "SELECT "+backupRunColumns+" FROM backup_run WHERE outcome='' ORDER BY id")
	return dbutil.NewRowIterWithError(rows, scanBackupRun, err).AsList()
}
