package state

import (
	"context"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// AuditEntry is one thing that was asked or done: who, from which device, where, what,
// and what came of it. ParentID links an entry to the one it answers.
type AuditEntry struct {
	ID          int64
	Time        time.Time
	Actor       id.UserID
	ActorDevice id.DeviceID
	RoomID      id.RoomID
	EventID     id.EventID
	Action      string
	Arguments   string
	Outcome     string
	Detail      string
	ParentID    int64
}

// Outcomes written by the command dispatcher.
const (
	OutcomeOK          = "ok"
	OutcomeError       = "error"
	OutcomeRefused     = "refused"
	OutcomeStale       = "stale"
	OutcomeRateLimited = "rate_limited"
	OutcomeInterrupted = "interrupted"
	OutcomeUnknown     = "unknown_command"
	OutcomeBadInput    = "bad_input"
)

// Audit is the append-only record of commands, refusals and results. Nothing in Steward
// updates or deletes its rows.
type Audit struct {
	db *dbutil.Database
}

const auditColumns = "id, ts, actor, actor_device, room_id, event_id, action, arguments, outcome, detail, COALESCE(parent_id, 0)"

// Append writes e and returns its ID. A zero Time is set to now.
func (a *Audit) Append(ctx context.Context, e *AuditEntry) (int64, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	var parent any
	if e.ParentID != 0 {
		parent = e.ParentID
	}
	err := a.db.QueryRow(ctx, `INSERT INTO audit (ts, actor, actor_device, room_id, event_id, action, arguments, outcome, detail, parent_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		e.Time.UnixMilli(), e.Actor, e.ActorDevice, e.RoomID, e.EventID, e.Action, e.Arguments, e.Outcome, e.Detail, parent,
	).Scan(&e.ID)
	return e.ID, err
}

// Recent returns the last n entries, newest first.
func (a *Audit) Recent(ctx context.Context, n int) ([]*AuditEntry, error) {
	rows, err := a.db.Query(ctx, "SELECT "+auditColumns+" FROM audit ORDER BY id DESC LIMIT $1", n)
	return dbutil.NewRowIterWithError(rows, scanAuditEntry, err).AsList()
}

// ForEvent returns the entries written about the Matrix event eventID, oldest first.
func (a *Audit) ForEvent(ctx context.Context, eventID id.EventID) ([]*AuditEntry, error) {
	rows, err := a.db.Query(ctx, "SELECT "+auditColumns+" FROM audit WHERE event_id=$1 ORDER BY id", eventID)
	return dbutil.NewRowIterWithError(rows, scanAuditEntry, err).AsList()
}

func scanAuditEntry(row dbutil.Scannable) (*AuditEntry, error) {
	var e AuditEntry
	var ts int64
	err := row.Scan(&e.ID, &ts, &e.Actor, &e.ActorDevice, &e.RoomID, &e.EventID, &e.Action, &e.Arguments, &e.Outcome, &e.Detail, &e.ParentID)
	if err != nil {
		return nil, err
	}
	e.Time = time.UnixMilli(ts)
	return &e, nil
}
