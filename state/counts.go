package state

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
)

// This file holds the small aggregate queries that metrics and health read at scrape
// time, one method on each table's query type: each is one indexed or small-table
// query, cheap enough to run on every scrape.

// AlertCount is how many alerts of one check fire at one severity.
type AlertCount struct {
	Check    string
	Severity Severity
	N        int
}

// FiringCounts counts the firing alerts by check and severity (pending ones have not
// alerted anyone yet).
func (al *Alerts) FiringCounts(ctx context.Context) ([]AlertCount, error) {
	rows, err := al.db.Query(ctx, "SELECT check_name, severity, COUNT(*) FROM alert WHERE state=$1 GROUP BY check_name, severity", AlertFiring)
	if err != nil {
		return nil, fmt.Errorf("count firing alerts: %w", err)
	}
	defer rows.Close()
	var counts []AlertCount
	for rows.Next() {
		var c AlertCount
		if err = rows.Scan(&c.Check, &c.Severity, &c.N); err != nil {
			return nil, err
		}
		counts = append(counts, c)
	}
	return counts, rows.Err()
}

// Backlog counts the messages not sent yet (the one being handed over included) and
// returns when the oldest of them was queued; zero when there is none.
func (o *Outbox) Backlog(ctx context.Context) (n int, oldest time.Time, err error) {
	var first int64
	err = o.db.QueryRow(ctx, "SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM outbox WHERE state IN ($1, $2)", OutboxQueued, OutboxSending).
		Scan(&n, &first)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read the outbox backlog: %w", err)
	}
	return n, fromMS(first), nil
}

// MessagesSince counts the room messages (not reactions) queued from t on, sent or
// not: what Steward had to say during an outage that began at t.
func (o *Outbox) MessagesSince(ctx context.Context, t time.Time) (int, error) {
	var n int
	// Walking back from the newest message to the first one older than t reads only
	// the outage's messages, not the whole history.
	err := o.db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE event_type = 'm.room.message'
		AND id > COALESCE((SELECT id FROM outbox WHERE created_at < $1 ORDER BY id DESC LIMIT 1), 0)`, t.UnixMilli()).Scan(&n)
	return n, err
}

// Count counts the encrypted messages waiting for their room key.
func (u *Undecrypted) Count(ctx context.Context) (int, error) {
	var n int
	err := u.db.QueryRow(ctx, "SELECT COUNT(*) FROM undecrypted").Scan(&n)
	return n, err
}

// AuditCount is how many decision log entries have one action and one outcome.
type AuditCount struct {
	Action  string
	Outcome string
	N       int
}

// CountAfter counts the decision log entries after entry afterID by action and
// outcome, and returns the newest entry's ID. Since nothing updates or deletes an
// entry, a caller that keeps the counts and the ID reads only what was appended
// since its last call.
func (a *Audit) CountAfter(ctx context.Context, afterID int64) (counts []AuditCount, lastID int64, err error) {
	// One statement, so the counts and the ID agree even while entries are appended.
	rows, err := a.db.Query(ctx, "SELECT action, outcome, COUNT(*), MAX(id) FROM audit WHERE id > $1 GROUP BY action, outcome", afterID)
	if err != nil {
		return nil, afterID, fmt.Errorf("count decision log entries: %w", err)
	}
	defer rows.Close()
	lastID = afterID
	for rows.Next() {
		var c AuditCount
		var newest int64
		if err = rows.Scan(&c.Action, &c.Outcome, &c.N, &newest); err != nil {
			return nil, afterID, fmt.Errorf("count decision log entries: %w", err)
		}
		counts = append(counts, c)
		lastID = max(lastID, newest)
	}
	if err = rows.Err(); err != nil {
		return nil, afterID, fmt.Errorf("count decision log entries: %w", err)
	}
	return counts, lastID, nil
}

// OutcomeCounts counts the container updates that ended, by outcome (done,
// up_to_date, rolled_back, failed): one per container, however it was asked for.
func (u *UpdateJobs) OutcomeCounts(ctx context.Context) (map[string]int, error) {
	return outcomeCounts(ctx, u.db, "SELECT outcome, COUNT(*) FROM update_job WHERE outcome <> '' GROUP BY outcome")
}

// OutcomeCounts counts the runs of kind that ended, by outcome (ok, failed,
// interrupted).
func (b *BackupRuns) OutcomeCounts(ctx context.Context, kind string) (map[string]int, error) {
	return outcomeCounts(ctx, b.db, "SELECT outcome, COUNT(*) FROM backup_run WHERE kind = $1 AND outcome <> '' GROUP BY outcome", kind)
}

func outcomeCounts(ctx context.Context, db *dbutil.Database, query string, args ...any) (map[string]int, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := make(map[string]int)
	for rows.Next() {
		var outcome string
		var n int
		if err = rows.Scan(&outcome, &n); err != nil {
			return nil, err
		}
		counts[outcome] = n
	}
	return counts, rows.Err()
}
