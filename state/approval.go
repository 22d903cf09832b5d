package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// ApprovalState is where a request for approval is in its life.
type ApprovalState string

// The states of an approval. open, approved and executing are live; the others are
// final, and a request in a final state can never run.
const (
	ApprovalOpen      ApprovalState = "open"
	ApprovalApproved  ApprovalState = "approved"
	ApprovalExecuting ApprovalState = "executing"
	ApprovalDone      ApprovalState = "done"
	ApprovalDenied    ApprovalState = "denied"
	ApprovalCancelled ApprovalState = "cancelled"
	ApprovalExpired   ApprovalState = "expired"
)

// Approval is a command that waits for the admins' yes before it runs.
type Approval struct {
	// ID is short, for people to type: "K7QM".
	ID      string
	Command string
	// Body is the command line as it was sent.
	Body string
	// Effect says, for people, what running it will do.
	Effect string
	// Pin is what the command must still find when it runs (see Event.Pin).
	Pin             string
	Requester       id.UserID
	RequesterDevice id.DeviceID
	RoomID          id.RoomID
	EventID         id.EventID
	ThreadRoot      id.EventID
	// Policy is the policy in force when it was asked, as written in config.
	Policy string
	// Needed is how many approvals that count it takes.
	Needed int
	// SelfCounts is true when the requester's own approval counts (policy confirm).
	SelfCounts bool
	// RequestMsg is the outbox ID of the message that asks for approval.
	RequestMsg int64
	// AuditID is the decision log entry of the request, which later entries answer.
	AuditID   int64
	CreatedAt time.Time
	ExpiresAt time.Time
	State     ApprovalState
	DecidedBy id.UserID
	DecidedAt time.Time
	Reason    string
	Outcome   string
	Detail    string
}

// Vote is one admin's answer to a request.
type Vote struct {
	ApprovalID string
	Voter      id.UserID
	DeviceID   id.DeviceID
	EventID    id.EventID
	Approve    bool
	Time       time.Time
}

// Approvals keeps requests for approval and their votes, so that a restart neither
// forgets a request nor runs an approved command twice.
type Approvals struct {
	db *dbutil.Database
}

const approvalColumns = `id, command, body, effect, pin, requester, requester_device, room_id, event_id, thread_root,
	policy, needed, self_counts, request_msg, audit_id, created_at, expires_at, state, decided_by, decided_at,
	reason, outcome, detail`

// ErrNoFreeID means no unused approval ID was found; it does not happen in practice.
var ErrNoFreeID = errors.New("no free approval ID")

// Create stores a new open request and sets a.ID to a fresh short ID.
func (ap *Approvals) Create(ctx context.Context, a *Approval) error {
	a.State = ApprovalOpen
	return insertShortID(&a.ID, ErrNoFreeID, func() (sql.Result, error) {
		res, err := ap.db.Exec(ctx, `INSERT INTO approval (`+approvalColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, '', 0, '', '', '')
			ON CONFLICT (id) DO NOTHING`,
			a.ID, a.Command, a.Body, a.Effect, a.Pin, a.Requester, a.RequesterDevice, a.RoomID, a.EventID, a.ThreadRoot,
			a.Policy, a.Needed, a.SelfCounts, a.RequestMsg, a.AuditID, a.CreatedAt.UnixMilli(), a.ExpiresAt.UnixMilli(), a.State)
		if err != nil {
			return nil, fmt.Errorf("store approval request: %w", err)
		}
		return res, nil
	})
}

// SetRequest records the request message and decision log entry of approval approvalID.
func (ap *Approvals) SetRequest(ctx context.Context, approvalID string, requestMsg, auditID int64) error {
	_, err := ap.db.Exec(ctx, "UPDATE approval SET request_msg=$1, audit_id=$2 WHERE id=$3", requestMsg, auditID, approvalID)
	return err
}

// Get returns the approval with approvalID, or nil.
func (ap *Approvals) Get(ctx context.Context, approvalID string) (*Approval, error) {
	return ap.one(ctx, "WHERE id=$1", approvalID)
}

// ByRequestEvent returns the approval whose request message is the event eventID (what
// a reaction points at), or nil.
func (ap *Approvals) ByRequestEvent(ctx context.Context, eventID id.EventID) (*Approval, error) {
	if eventID == "" {
		return nil, nil
	}
	return ap.one(ctx, "WHERE request_msg <> 0 AND request_msg = (SELECT id FROM outbox WHERE event_id=$1)", eventID)
}

func (ap *Approvals) one(ctx context.Context, where string, args ...any) (*Approval, error) {
	rows, err := ap.db.Query(ctx, "SELECT "+approvalColumns+" FROM approval "+where, args...)
	list, err := dbutil.NewRowIterWithError(rows, scanApproval, err).AsList()
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

// InState lists the approvals in any of states, oldest first.
func (ap *Approvals) InState(ctx context.Context, states ...ApprovalState) ([]*Approval, error) {
	var list []*Approval
	for _, st := range states {
		rows, err := ap.db.Query(ctx, "SELECT "+approvalColumns+" FROM approval WHERE state=$1 ORDER BY created_at", st)
		part, err := dbutil.NewRowIterWithError(rows, scanApproval, err).AsList()
		if err != nil {
			return nil, err
		}
		list = append(list, part...)
	}
	return list, nil
}

// CreatedSince lists the approvals asked for from t on, oldest first.
func (ap *Approvals) CreatedSince(ctx context.Context, t time.Time) ([]*Approval, error) {
	rows, err := ap.db.Query(ctx, "SELECT "+approvalColumns+" FROM approval WHERE created_at >= $1 ORDER BY created_at", t.UnixMilli())
	return dbutil.NewRowIterWithError(rows, scanApproval, err).AsList()
}

// DueToExpire lists the open approvals whose time ran out by now.
func (ap *Approvals) DueToExpire(ctx context.Context, now time.Time) ([]*Approval, error) {
	rows, err := ap.db.Query(ctx, "SELECT "+approvalColumns+" FROM approval WHERE state=$1 AND expires_at <= $2 ORDER BY expires_at",
		ApprovalOpen, now.UnixMilli())
	return dbutil.NewRowIterWithError(rows, scanApproval, err).AsList()
}

// NextExpiry returns when the next open approval expires, or the zero time.
func (ap *Approvals) NextExpiry(ctx context.Context) (time.Time, error) {
	var ms *int64
	err := ap.db.QueryRow(ctx, "SELECT MIN(expires_at) FROM approval WHERE state=$1", ApprovalOpen).Scan(&ms)
	if err != nil || ms == nil {
		return time.Time{}, err
	}
	return time.UnixMilli(*ms), nil
}

// Decision is what a state change records about who decided, and why.
type Decision struct {
	By      id.UserID
	At      time.Time
	Reason  string
	Outcome string
	Detail  string
}

// Move changes approval approvalID from state from to state to and reports whether this
// caller made the change. Only one caller ever wins a given move, which is what makes an
// approved command run exactly once. Empty fields of d leave the stored ones as they are.
func (ap *Approvals) Move(ctx context.Context, approvalID string, from, to ApprovalState, d Decision) (bool, error) {
	var at int64
	if !d.At.IsZero() {
		at = d.At.UnixMilli()
	}
	res, err := ap.db.Exec(ctx, `UPDATE approval SET state=$1,
			decided_by = CASE WHEN $2 = '' THEN decided_by ELSE $2 END,
			decided_at = CASE WHEN $3 = 0 THEN decided_at ELSE $3 END,
			reason     = CASE WHEN $4 = '' THEN reason ELSE $4 END,
			outcome    = CASE WHEN $5 = '' THEN outcome ELSE $5 END,
			detail     = CASE WHEN $6 = '' THEN detail ELSE $6 END
		WHERE id=$7 AND state=$8`,
		to, d.By, at, d.Reason, d.Outcome, d.Detail, approvalID, from)
	if err != nil {
		return false, fmt.Errorf("move approval %s to %s: %w", approvalID, to, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// AddVote records v and reports whether it is the voter's first answer to the request.
func (ap *Approvals) AddVote(ctx context.Context, v *Vote) (bool, error) {
	res, err := ap.db.Exec(ctx, `INSERT INTO approval_vote (approval_id, voter, device_id, event_id, approve, ts)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (approval_id, voter) DO NOTHING`,
		v.ApprovalID, v.Voter, v.DeviceID, v.EventID, v.Approve, v.Time.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("record vote: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Votes returns the answers to approvalID, in the order they came.
func (ap *Approvals) Votes(ctx context.Context, approvalID string) ([]*Vote, error) {
	rows, err := ap.db.Query(ctx, "SELECT approval_id, voter, device_id, event_id, approve, ts FROM approval_vote WHERE approval_id=$1 ORDER BY ts, rowid", approvalID)
	return dbutil.NewRowIterWithError(rows, func(row dbutil.Scannable) (*Vote, error) {
		var v Vote
		var ts int64
		err := row.Scan(&v.ApprovalID, &v.Voter, &v.DeviceID, &v.EventID, &v.Approve, &ts)
		v.Time = time.UnixMilli(ts)
		return &v, err
	}, err).AsList()
}

func scanApproval(row dbutil.Scannable) (*Approval, error) {
	var a Approval
	var createdAt, expiresAt, decidedAt int64
	err := row.Scan(&a.ID, &a.Command, &a.Body, &a.Effect, &a.Pin, &a.Requester, &a.RequesterDevice, &a.RoomID, &a.EventID, &a.ThreadRoot,
		&a.Policy, &a.Needed, &a.SelfCounts, &a.RequestMsg, &a.AuditID, &createdAt, &expiresAt, &a.State, &a.DecidedBy, &decidedAt,
		&a.Reason, &a.Outcome, &a.Detail)
	if err != nil {
		return nil, err
	}
	a.CreatedAt = time.UnixMilli(createdAt)
	a.ExpiresAt = time.UnixMilli(expiresAt)
	if decidedAt != 0 {
		a.DecidedAt = time.UnixMilli(decidedAt)
	}
	return &a, nil
}

// Prune deletes up to limit approval requests decided (done, denied, cancelled or
// expired) before before, with their votes, and returns how many. An open request, or
// one approved and on its way to running, is never pruned; what was decided stays in
// the decision log.
func (ap *Approvals) Prune(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	err := ap.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		const old = `SELECT id FROM approval WHERE state IN ('done', 'denied', 'cancelled', 'expired')
			AND decided_at < $1 AND expires_at < $1 ORDER BY decided_at, id LIMIT $2`
		if _, err := ap.db.Exec(ctx, "DELETE FROM approval_vote WHERE approval_id IN ("+old+")", before.UnixMilli(), limit); err != nil {
			return err
		}
		res, err := ap.db.Exec(ctx, "DELETE FROM approval WHERE id IN ("+old+")", before.UnixMilli(), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
