package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// AuditEntry is one thing that was asked or done: who, from which device, where, what,
// and what came of it. ParentID links an entry to the one it answers. PrevHash and Hash
// chain it to the entry before it.
type AuditEntry struct {
	ID          int64       `json:"id"`
	Time        time.Time   `json:"time"`
	Actor       id.UserID   `json:"actor"`
	ActorDevice id.DeviceID `json:"actor_device,omitempty"`
	RoomID      id.RoomID   `json:"room_id,omitempty"`
	EventID     id.EventID  `json:"event_id,omitempty"`
	Action      string      `json:"action"`
	Arguments   string      `json:"arguments,omitempty"`
	Outcome     string      `json:"outcome"`
	Detail      string      `json:"detail,omitempty"`
	ParentID    int64       `json:"parent_id,omitempty"`
	PrevHash    string      `json:"prev_hash"`
	Hash        string      `json:"hash"`
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
	// OutcomeAwaitingApproval is a command that was not run but put to the admins.
	OutcomeAwaitingApproval = "awaiting_approval"
	// OutcomeStarted is a long command started in the background; its result is an
	// entry of its own.
	OutcomeStarted = "started"
	// OutcomeIgnored is a reaction that answers nothing Steward asked.
	OutcomeIgnored = "ignored"
	// OutcomeUndelivered follows the entry of a command whose answer the homeserver
	// refused for good: the command's own "ok" says what it did, not that anyone
	// read the answer.
	OutcomeUndelivered = "undelivered"
)

// KeptText is how many characters of a command that did not run (Unheeded) are kept,
// in the inbox and, for everyone but the admins, in the decision log: enough to tell
// what it was, not enough for a flood of long ones to fill the disk.
const KeptText = 200

// Unheeded reports whether outcome is a command that did not run because of what it
// was or who sent it: refused, rate-limited, unknown, unreadable, stale or ignored.
func Unheeded(outcome string) bool {
	switch outcome {
	case OutcomeRefused, OutcomeRateLimited, OutcomeUnknown, OutcomeBadInput, OutcomeStale, OutcomeIgnored:
		return true
	}
	return false
}

// Clip cuts text to its first KeptText characters, marking the cut.
func Clip(text string) string {
	runes := []rune(text)
	if len(runes) <= KeptText {
		return text
	}
	return string(runes[:KeptText]) + "…"
}

// Audit is the decision log: an append-only, hash-chained record of commands, refusals
// and results. Nothing in Steward updates or deletes its rows, and Verify notices when
// something else did.
type Audit struct {
	db *dbutil.Database
}

const auditColumns = "id, ts, actor, actor_device, room_id, event_id, action, arguments, outcome, detail, COALESCE(parent_id, 0), prev_hash, hash"

// Append writes e, chained to the entry before it, and returns its ID. A zero Time is
// set to now. Appends are serialised by their transaction, so the chain has no forks.
func (a *Audit) Append(ctx context.Context, e *AuditEntry) (int64, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.Truncate(time.Millisecond)
	var parent any
	if e.ParentID != 0 {
		parent = e.ParentID
	}
	err := a.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		err := a.db.QueryRow(ctx, "SELECT hash FROM audit ORDER BY id DESC LIMIT 1").Scan(&e.PrevHash)
		if err != nil && !isNoRows(err) {
			return err
		}
		err = a.db.QueryRow(ctx, `INSERT INTO audit (ts, actor, actor_device, room_id, event_id, action, arguments, outcome, detail, parent_id, prev_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			e.Time.UnixMilli(), e.Actor, e.ActorDevice, e.RoomID, e.EventID, e.Action, e.Arguments, e.Outcome, e.Detail, parent, e.PrevHash,
		).Scan(&e.ID)
		if err != nil {
			return err
		}
		e.Hash = e.ComputeHash()
		_, err = a.db.Exec(ctx, "UPDATE audit SET hash=$1 WHERE id=$2", e.Hash, e.ID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("append to the decision log: %w", err)
	}
	return e.ID, nil
}

// ComputeHash returns the SHA-256 (hex) of the entry's fields, its ID and the previous
// entry's hash, in a fixed encoding.
func (e *AuditEntry) ComputeHash() string {
	canonical, _ := json.Marshal([]any{
		e.ID, e.Time.UnixMilli(), e.Actor, e.ActorDevice, e.RoomID, e.EventID,
		e.Action, e.Arguments, e.Outcome, e.Detail, e.ParentID, e.PrevHash,
	})
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// ChainError names the first entry where the decision log's chain is broken.
type ChainError struct {
	// EntryID is the first entry that does not fit (0 when the log ends early).
	EntryID int64
	Reason  string
}

// Error leads with the entry's ID (0 when the log ends early) so an admin can look
// it up.
func (e *ChainError) Error() string {
	return fmt.Sprintf("decision log entry %d: %s", e.EntryID, e.Reason)
}

// Verify walks the whole log in order and checks every link. It returns how many
// entries it checked, and a *ChainError for the first entry that was edited, removed
// (the next one no longer links) or moved. Removing entries from the end cannot be
// seen from the log alone.
func (a *Audit) Verify(ctx context.Context) (int, error) {
	checked := 0
	var prev *AuditEntry
	err := a.Each(ctx, func(e *AuditEntry) error {
		want := ""
		if prev != nil {
			want = prev.Hash
			if e.ID <= prev.ID {
				return &ChainError{EntryID: e.ID, Reason: "out of order"}
			}
		}
		switch {
		case e.PrevHash != want:
			return &ChainError{EntryID: e.ID, Reason: "does not link to the entry before it (an entry was removed, moved or edited)"}
		case e.Hash != e.ComputeHash():
			return &ChainError{EntryID: e.ID, Reason: "its contents do not match its hash (it was edited)"}
		}
		prev = e
		checked++
		return nil
	})
	return checked, err
}

// Each calls fn for every entry, oldest first, without loading the log into memory.
func (a *Audit) Each(ctx context.Context, fn func(*AuditEntry) error) error {
	rows, err := a.db.Query(ctx, "SELECT "+auditColumns+" FROM audit ORDER BY id")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAuditEntry(rows)
		if err != nil {
			return err
		}
		if err = fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Head returns the newest entry's ID and hash, or 0 and "" for an empty log.
func (a *Audit) Head(ctx context.Context) (int64, string, error) {
	var entryID int64
	var hash string
	err := a.db.QueryRow(ctx, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").Scan(&entryID, &hash)
	if isNoRows(err) {
		return 0, "", nil
	}
	return entryID, hash, err
}

// HashOf returns the hash of entry entryID, or "" when there is no such entry.
func (a *Audit) HashOf(ctx context.Context, entryID int64) (string, error) {
	var hash string
	err := a.db.QueryRow(ctx, "SELECT hash FROM audit WHERE id=$1", entryID).Scan(&hash)
	if isNoRows(err) {
		return "", nil
	}
	return hash, err
}

// ForEvent returns the entries written about the Matrix event eventID, oldest first.
func (a *Audit) ForEvent(ctx context.Context, eventID id.EventID) ([]*AuditEntry, error) {
	rows, err := a.db.Query(ctx, "SELECT "+auditColumns+" FROM audit WHERE event_id=$1 ORDER BY id", eventID)
	return dbutil.NewRowIterWithError(rows, scanAuditEntry, err).AsList()
}

func scanAuditEntry(row dbutil.Scannable) (*AuditEntry, error) {
	var e AuditEntry
	var ts int64
	err := row.Scan(&e.ID, &ts, &e.Actor, &e.ActorDevice, &e.RoomID, &e.EventID, &e.Action, &e.Arguments, &e.Outcome, &e.Detail, &e.ParentID, &e.PrevHash, &e.Hash)
	if err != nil {
		return nil, err
	}
	e.Time = time.UnixMilli(ts)
	return &e, nil
}

// AuditFilter selects decision log entries for !log.
type AuditFilter struct {
	// Limit is how many entries at most, newest first.
	Limit int
	// Actor keeps only entries by this user.
	Actor id.UserID
	// Action keeps entries whose action is this, this under "command." ("update"
	// matches "command.update"), or under this ("approval" matches "approval.vote").
	Action string
	// Since keeps entries from this time on.
	Since time.Time
}

// Matches reports whether e passes the filter (Limit aside).
func (f AuditFilter) Matches(e *AuditEntry) bool {
	return (f.Actor == "" || e.Actor == f.Actor) &&
		(f.Action == "" || e.Action == f.Action || e.Action == "command."+f.Action || strings.HasPrefix(e.Action, f.Action+".")) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since))
}

// Find returns the entries that pass f, newest first.
func (a *Audit) Find(ctx context.Context, f AuditFilter) ([]*AuditEntry, error) {
	query := "SELECT " + auditColumns + " FROM audit WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2 OR action = 'command.' || $2 OR substr(action, 1, length($2) + 1) = $2 || '.') AND ts >= $3 ORDER BY id DESC LIMIT $4"
	var since int64
	if !f.Since.IsZero() {
		since = f.Since.UnixMilli()
	}
	rows, err := a.db.Query(ctx, query, f.Actor, f.Action, since, f.Limit)
	return dbutil.NewRowIterWithError(rows, scanAuditEntry, err).AsList()
}

// AuditHead names one entry of the log by its ID and hash: the head Steward anchored,
// or a checkpoint it posted in the admin room.
type AuditHead struct {
	ID   int64  `json:"id"`
	Hash string `json:"hash"`
}

// Extends checks that the log still holds from, with its hash, and that every entry
// after it links to the one before and matches its own hash, so the current head is
// from plus entries added since. It returns that head, or a *ChainError for the first
// entry that does not fit: from gone or changed (the log was cut back or rewritten and
// re-hashed, which Verify cannot see) or an entry after it edited. A zero from (nothing
// anchored yet) is extended by any log.
func (a *Audit) Extends(ctx context.Context, from AuditHead) (AuditHead, error) {
	rows, err := a.db.Query(ctx, "SELECT "+auditColumns+" FROM audit WHERE id >= $1 ORDER BY id", from.ID)
	if err != nil {
		return AuditHead{}, err
	}
	defer rows.Close()
	head, first := from, true
	for rows.Next() {
		e, err := scanAuditEntry(rows)
		if err != nil {
			return AuditHead{}, err
		}
		switch {
		case first && from.ID != 0 && e.ID != from.ID:
			return AuditHead{}, &ChainError{EntryID: from.ID, Reason: "the entry Steward anchored is gone (the log was cut back)"}
		case first && from.ID != 0 && e.Hash != from.Hash:
			return AuditHead{}, &ChainError{EntryID: e.ID, Reason: "its hash is not the one Steward anchored (the log was rewritten)"}
		case !first && e.PrevHash != head.Hash:
			return AuditHead{}, &ChainError{EntryID: e.ID, Reason: "does not link to the entry before it (an entry was removed, moved or edited)"}
		case e.Hash != e.ComputeHash():
			return AuditHead{}, &ChainError{EntryID: e.ID, Reason: "its contents do not match its hash (it was edited)"}
		}
		head, first = AuditHead{ID: e.ID, Hash: e.Hash}, false
	}
	if err = rows.Err(); err != nil {
		return AuditHead{}, err
	}
	if first && from.ID != 0 {
		return AuditHead{}, &ChainError{EntryID: from.ID, Reason: "the entry Steward anchored is gone (the log was cut back)"}
	}
	return head, nil
}

// Checkpoint is a head of the log that Steward posted in the admin room, read back
// from the room's history.
type Checkpoint struct {
	AuditHead
	EventID id.EventID
	Time    time.Time
	// Redacted is a message of Steward's in the admin room whose content is gone: a
	// checkpoint someone redacted (Steward redacts none of its own messages there).
	Redacted bool
	// Unreadable is a message of Steward's in the admin room that the keys at hand
	// could not decrypt: it may have been a checkpoint, and it can't be compared.
	Unreadable bool
	// KeysMissing is an Unreadable message that Steward's current device sent: its
	// keys were in this database, since Steward keeps a copy of every room key it
	// creates, so someone removed them, which is how a checkpoint is hidden. One sent
	// from an earlier device (a database started over) is only Unreadable.
	KeysMissing bool
}

// CheckpointMisfit is the first checkpoint the log no longer fits, and why.
type CheckpointMisfit struct {
	Checkpoint Checkpoint
	Reason     string
}

// CheckpointReport is what comparing the log with the checkpoints read back from the
// admin room found. !log verify and `steward audit verify --room` both say it.
type CheckpointReport struct {
	// Compared is how many checkpoints were compared with the log.
	Compared int
	// Newest is the newest checkpoint compared, nil when none was.
	Newest *Checkpoint
	// Misfit is the first checkpoint, oldest first, that the log no longer fits; nil
	// when the log fits every one compared.
	Misfit *CheckpointMisfit
	// Redacted are the checkpoints someone redacted: each is an alarm, since what it
	// said can no longer be compared and removing a witness is how tracks are covered.
	Redacted []Checkpoint
	// Unreadable counts Steward's messages in the room that could not be decrypted:
	// checkpoints among them were not compared.
	Unreadable int
	// KeysMissing counts those of them that Steward's current device sent, whose keys
	// were removed from its database: each is an alarm, as a redaction is.
	KeysMissing int
}

// Fits reports whether the log fits every checkpoint compared, none was redacted and
// no key of the current device's messages is missing.
func (r *CheckpointReport) Fits() bool {
	return r.Misfit == nil && len(r.Redacted) == 0 && r.KeysMissing == 0
}

// CheckCheckpoints compares the log with checkpoints (oldest first): each must still be
// in the log with its hash, and the log from the newest on must extend it. The report
// names the first that does not fit and lists the redacted ones apart: a redacted
// checkpoint hides nothing the others show, so the comparison goes on past it.
func (a *Audit) CheckCheckpoints(ctx context.Context, checkpoints []Checkpoint) (*CheckpointReport, error) {
	report := &CheckpointReport{}
	for i := range checkpoints {
		cp := &checkpoints[i]
		switch {
		case cp.Redacted:
			report.Redacted = append(report.Redacted, *cp)
			continue
		case cp.Unreadable:
			report.Unreadable++
			if cp.KeysMissing {
				report.KeysMissing++
			}
			continue
		}
		report.Compared++
		if report.Newest == nil || cp.ID > report.Newest.ID {
			report.Newest = cp
		}
		if report.Misfit != nil {
			continue
		}
		hash, err := a.HashOf(ctx, cp.ID)
		switch {
		case err != nil:
			return nil, err
		case hash == "":
			report.Misfit = &CheckpointMisfit{Checkpoint: *cp, Reason: fmt.Sprintf("entry %d is no longer in the log (it was cut back or replaced)", cp.ID)}
		case hash != cp.Hash:
			report.Misfit = &CheckpointMisfit{Checkpoint: *cp, Reason: fmt.Sprintf("entry %d has another hash now (the log was rewritten up to there)", cp.ID)}
		}
	}
	if report.Newest == nil || report.Misfit != nil {
		return report, nil
	}
	var chainErr *ChainError
	if _, err := a.Extends(ctx, report.Newest.AuditHead); errors.As(err, &chainErr) {
		report.Misfit = &CheckpointMisfit{Checkpoint: *report.Newest, Reason: "the log after it does not follow on: " + chainErr.Error()}
	} else if err != nil {
		return nil, err
	}
	return report, nil
}
