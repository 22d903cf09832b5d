package state

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
)

// UpdateJob is the journal of one container update.
type UpdateJob struct {
	ID int64
	// Host is the container's engine; empty when Steward manages one.
	Host      string
	Container string
	OldID     string
	Image     string
	OldImage  string
	NewImage  string
	OldDigest string
	NewDigest string
	// WasRunning tells whether the old container ran when the update began.
	WasRunning bool
	// BackupName is the name the old container gets while the new one is tried.
	BackupName string
	NewID      string
	// Step is the step about to be taken (written before it is).
	Step string
	// Outcome is "" while the update is under way, then done, rolled_back or failed.
	Outcome   string
	Detail    string
	StartedAt time.Time
	UpdatedAt time.Time
}

// UpdateJobs keeps the journals of container updates.
type UpdateJobs struct {
	db *dbutil.Database
}

const updateJobColumns = `id, host, container, old_id, image, old_image, new_image, old_digest, new_digest, was_running,
	backup_name, new_id, step, outcome, detail, started_at, updated_at`

// Insert starts the journal of j and sets j.ID.
func (u *UpdateJobs) Insert(ctx context.Context, j *UpdateJob) error {
	err := u.db.QueryRow(ctx, `INSERT INTO update_job (container, old_id, image, old_image, new_image, old_digest, new_digest,
			was_running, backup_name, new_id, step, outcome, detail, started_at, updated_at, host)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
		j.Container, j.OldID, j.Image, j.OldImage, j.NewImage, j.OldDigest, j.NewDigest, j.WasRunning, j.BackupName, j.NewID,
		j.Step, j.Outcome, j.Detail, j.StartedAt.UnixMilli(), j.UpdatedAt.UnixMilli(), j.Host).Scan(&j.ID)
	if err != nil {
		return fmt.Errorf("journal update of %s: %w", j.Container, err)
	}
	return nil
}

// Save writes j's changeable fields.
func (u *UpdateJobs) Save(ctx context.Context, j *UpdateJob) error {
	_, err := u.db.Exec(ctx, `UPDATE update_job SET new_image=$1, old_digest=$2, new_digest=$3, new_id=$4, step=$5,
			outcome=$6, detail=$7, updated_at=$8 WHERE id=$9`,
		j.NewImage, j.OldDigest, j.NewDigest, j.NewID, j.Step, j.Outcome, j.Detail, j.UpdatedAt.UnixMilli(), j.ID)
	if err != nil {
		return fmt.Errorf("journal update of %s: %w", j.Container, err)
	}
	return nil
}

// Unfinished returns the updates a stop cut short, oldest first.
func (u *UpdateJobs) Unfinished(ctx context.Context) ([]*UpdateJob, error) {
	rows, err := u.db.Query(ctx, "SELECT "+updateJobColumns+" FROM update_job WHERE outcome='' ORDER BY id")
	return dbutil.NewRowIterWithError(rows, func(row dbutil.Scannable) (*UpdateJob, error) {
		var j UpdateJob
		var startedAt, updatedAt int64
		err := row.Scan(&j.ID, &j.Host, &j.Container, &j.OldID, &j.Image, &j.OldImage, &j.NewImage, &j.OldDigest, &j.NewDigest, &j.WasRunning,
			&j.BackupName, &j.NewID, &j.Step, &j.Outcome, &j.Detail, &startedAt, &updatedAt)
		j.StartedAt, j.UpdatedAt = time.UnixMilli(startedAt), time.UnixMilli(updatedAt)
		return &j, err
	}, err).AsList()
}
