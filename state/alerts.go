package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// Severity is how bad a problem is. The zero value is no problem at all.
type Severity int

// The severities, in order.
const (
	SeverityOK Severity = iota
	// SeverityInfo is worth knowing but wakes nobody (Alertmanager's "info").
	SeverityInfo
	SeverityWarning
	SeverityCritical
)

// String is the severity's word in logs and messages; any value other than info,
// warning or critical reads "ok".
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityCritical:
		return "critical"
	default:
		return "ok"
	}
}

// AlertState is where an alert is in its life.
type AlertState string

// The states of an alert. A pending alert has not lasted its "for" duration yet and
// has not been announced; a firing one has; a resolved one is history.
const (
	AlertPending  AlertState = "pending"
	AlertFiring   AlertState = "firing"
	AlertResolved AlertState = "resolved"
)

// Alert is one occurrence of a problem a check found.
type Alert struct {
	ID          int64
	Fingerprint string
	Check       string
	// Subject is what the alert is about, for people: "/var", "web".
	Subject  string
	Severity Severity
	// Worst is the highest severity this occurrence reached.
	Worst   Severity
	State   AlertState
	Summary string
	Value   string
	Hint    string
	// Public marks a problem members notice (a service down).
	Public     bool
	Since      time.Time
	FiredAt    time.Time
	ResolvedAt time.Time
	UpdatedAt  time.Time
	AckedBy    id.UserID
	AckedAt    time.Time
	// Message is the outbox ID of the message that shows the alert; 0 while it waits
	// to be posted.
	Message int64
	// Escalation is how far it was escalated: 0 not yet, 1 the on-duty admin
	// mentioned, 2 every admin mentioned.
	Escalation int
	// Announced is set once members were told in the group room.
	Announced bool
	// Labels are the labels its sender gave it (Alertmanager's); nil for Steward's
	// own checks.
	Labels map[string]string
	// Link is where to see more (Alertmanager's generatorURL).
	Link string
	// Detail is a block of text shown as it is, like a failed job's last lines.
	Detail string
}

// Alerts keeps alerts, so that a restart neither announces an old problem again nor
// forgets who took it.
type Alerts struct {
	db *dbutil.Database
}

const alertColumns = `id, fingerprint, check_name, subject, severity, worst, state, summary, value, hint, public,
	since, fired_at, resolved_at, updated_at, acked_by, acked_at, message, escalation, announced, labels, link, detail`

// Insert stores a new occurrence and sets a.ID.
func (al *Alerts) Insert(ctx context.Context, a *Alert) error {
	err := al.db.QueryRow(ctx, `INSERT INTO alert (fingerprint, check_name, subject, severity, worst, state, summary, value, hint, public,
			since, fired_at, resolved_at, updated_at, acked_by, acked_at, message, escalation, announced, labels, link, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) RETURNING id`,
		a.Fingerprint, a.Check, a.Subject, a.Severity, a.Worst, a.State, a.Summary, a.Value, a.Hint, a.Public,
		a.Since.UnixMilli(), ms(a.FiredAt), ms(a.ResolvedAt), a.UpdatedAt.UnixMilli(), a.AckedBy, ms(a.AckedAt), a.Message,
		a.Escalation, a.Announced, labelsJSON(a.Labels), a.Link, a.Detail,
	).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("store alert %s: %w", a.Fingerprint, err)
	}
	return nil
}

// Update writes a's changeable fields back; fingerprint, check, subject and since
// stay as Insert stored them.
func (al *Alerts) Update(ctx context.Context, a *Alert) error {
	_, err := al.db.Exec(ctx, `UPDATE alert SET severity=$1, worst=$2, state=$3, summary=$4, value=$5, hint=$6, public=$7,
			fired_at=$8, resolved_at=$9, updated_at=$10, acked_by=$11, acked_at=$12, message=$13, escalation=$14, announced=$15,
			labels=$16, link=$17, detail=$18
		WHERE id=$19`,
		a.Severity, a.Worst, a.State, a.Summary, a.Value, a.Hint, a.Public,
		ms(a.FiredAt), ms(a.ResolvedAt), a.UpdatedAt.UnixMilli(), a.AckedBy, ms(a.AckedAt), a.Message, a.Escalation, a.Announced,
		labelsJSON(a.Labels), a.Link, a.Detail, a.ID)
	if err != nil {
		return fmt.Errorf("update alert %d: %w", a.ID, err)
	}
	return nil
}

// Delete forgets an alert that never fired: the query deletes only a pending alert,
// so one that fired stays on record whatever the caller asks.
func (al *Alerts) Delete(ctx context.Context, alertID int64) error {
	_, err := al.db.Exec(ctx, "DELETE FROM alert WHERE id=$1 AND state=$2", alertID, AlertPending)
	return err
}

// Open returns the alerts of check that are pending or firing ("" for every check),
// oldest first.
func (al *Alerts) Open(ctx context.Context, check string) ([]*Alert, error) {
	return al.list(ctx, "WHERE state <> $1 AND ($2 = '' OR check_name = $2) ORDER BY since, id", AlertResolved, check)
}

// Get returns the alert alertID, or nil.
func (al *Alerts) Get(ctx context.Context, alertID int64) (*Alert, error) {
	list, err := al.list(ctx, "WHERE id=$1", alertID)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

// OnMessage returns the alerts shown in the outbox message msgID.
func (al *Alerts) OnMessage(ctx context.Context, msgID int64) ([]*Alert, error) {
	if msgID == 0 {
		return nil, nil
	}
	return al.list(ctx, "WHERE message=$1 ORDER BY id", msgID)
}

// ByMessageEvent returns the alerts shown in the message that became event eventID
// (what a 👀 reaction points at).
func (al *Alerts) ByMessageEvent(ctx context.Context, eventID id.EventID) ([]*Alert, error) {
	if eventID == "" {
		return nil, nil
	}
	return al.list(ctx, "WHERE message <> 0 AND message = (SELECT id FROM outbox WHERE event_id=$1) ORDER BY id", eventID)
}

// Unposted returns the firing alerts whose message has not been queued yet, oldest
// first.
func (al *Alerts) Unposted(ctx context.Context) ([]*Alert, error) {
	return al.list(ctx, "WHERE state=$1 AND message=0 ORDER BY fired_at, id", AlertFiring)
}

// Since returns the alerts that fired or resolved from t on, oldest first.
func (al *Alerts) Since(ctx context.Context, t time.Time) ([]*Alert, error) {
	return al.list(ctx, "WHERE fired_at >= $1 OR resolved_at >= $1 OR (state=$2 AND fired_at <> 0) ORDER BY fired_at, id", t.UnixMilli(), AlertFiring)
}

func (al *Alerts) list(ctx context.Context, where string, args ...any) ([]*Alert, error) {
	rows, err := al.db.Query(ctx, "SELECT "+alertColumns+" FROM alert "+where, args...)
	return dbutil.NewRowIterWithError(rows, scanAlert, err).AsList()
}

func scanAlert(row dbutil.Scannable) (*Alert, error) {
	var a Alert
	var since, firedAt, resolvedAt, updatedAt, ackedAt int64
	var labels string
	err := row.Scan(&a.ID, &a.Fingerprint, &a.Check, &a.Subject, &a.Severity, &a.Worst, &a.State, &a.Summary, &a.Value, &a.Hint, &a.Public,
		&since, &firedAt, &resolvedAt, &updatedAt, &a.AckedBy, &ackedAt, &a.Message, &a.Escalation, &a.Announced, &labels, &a.Link, &a.Detail)
	if err != nil {
		return nil, err
	}
	if labels != "" {
		if err = json.Unmarshal([]byte(labels), &a.Labels); err != nil {
			return nil, fmt.Errorf("alert %d: decode labels: %w", a.ID, err)
		}
	}
	a.Since, a.UpdatedAt = time.UnixMilli(since), time.UnixMilli(updatedAt)
	a.FiredAt, a.ResolvedAt, a.AckedAt = fromMS(firedAt), fromMS(resolvedAt), fromMS(ackedAt)
	return &a, nil
}

// labelsJSON stores labels as a JSON object, and no labels as an empty string.
func labelsJSON(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	raw, _ := json.Marshal(labels) // a map of strings always encodes
	return string(raw)
}

// ms stores a time as Unix milliseconds, with 0 for the zero time.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}
