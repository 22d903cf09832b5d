package state

import (
	"context"
	"slices"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// InboxState is where a command is in its life: recorded, claimed by a runner, finished.
type InboxState string

// The states of an inbox entry. An entry only ever moves forward.
const (
	InboxReceived InboxState = "received"
	InboxStarted  InboxState = "started"
	InboxDone     InboxState = "done"
)

// InboxKind tells commands from reactions.
type InboxKind string

// The kinds of inbox entry.
const (
	// InboxCommand is a text message addressed to Steward.
	InboxCommand InboxKind = "command"
	// InboxReaction is a reaction (its key in Body) to the event in RelatesTo: an
	// answer to an approval request.
	InboxReaction InboxKind = "reaction"
	// InboxRelay is a message of a ticket to carry across: from a member in their
	// private chat with Steward, or from an admin in a ticket's thread.
	InboxRelay InboxKind = "relay"
)

// InboxEntry is a command message (or a reaction) as it arrived, with what is needed to
// handle it later.
type InboxEntry struct {
	Kind       InboxKind
	RelatesTo  id.EventID
	EventID    id.EventID
	RoomID     id.RoomID
	Sender     id.UserID
	DeviceID   id.DeviceID
	Trust      id.TrustState
	Encrypted  bool
	ThreadRoot id.EventID
	Body       string
	SentAt     time.Time
	ReceivedAt time.Time
	State      InboxState
	Outcome    string
}

// Inbox records command events before they run, so that a re-delivered sync batch or a
// restart never runs a command twice and never forgets one that arrived.
type Inbox struct {
	db *dbutil.Database
}

const inboxColumns = "kind, relates_to, event_id, room_id, sender, device_id, trust, encrypted, thread_root, body, sent_at, received_at, state, outcome"

// keyInboxHorizon holds the time (Unix ms) before which the inbox may have forgotten
// events (Prune): an event sent before it is taken as seen.
const keyInboxHorizon = "inbox.horizon"

// Record stores a newly arrived command and reports whether it was new. An event seen
// before (a re-delivered sync) is not stored again, nor is one sent before the
// horizon of what the inbox still remembers (Prune): it may have been handled and
// forgotten, and a command must never run twice.
func (in *Inbox) Record(ctx context.Context, e *InboxEntry) (bool, error) {
	if e.Kind == "" {
		e.Kind = InboxCommand
	}
	res, err := in.db.Exec(ctx, `INSERT INTO inbox (`+inboxColumns+`)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, ''
		WHERE $11 >= COALESCE((SELECT CAST(value AS INTEGER) FROM kv WHERE key='`+keyInboxHorizon+`'), 0)
		ON CONFLICT (event_id) DO NOTHING`,
		e.Kind, e.RelatesTo, e.EventID, e.RoomID, e.Sender, e.DeviceID, int(e.Trust), e.Encrypted, e.ThreadRoot, e.Body,
		e.SentAt.UnixMilli(), e.ReceivedAt.UnixMilli(), InboxReceived)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Claim moves a received command to started and reports whether this caller won it.
// Only one caller ever wins, which is what makes a command run at most once.
func (in *Inbox) Claim(ctx context.Context, eventID id.EventID) (bool, error) {
	res, err := in.db.Exec(ctx, "UPDATE inbox SET state=$1 WHERE event_id=$2 AND state=$3", InboxStarted, eventID, InboxReceived)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Requeue moves a started entry back to received, for an entry whose handling left
// no trace and is safe to take again.
func (in *Inbox) Requeue(ctx context.Context, eventID id.EventID) error {
	_, err := in.db.Exec(ctx, "UPDATE inbox SET state=$1 WHERE event_id=$2 AND state=$3", InboxReceived, eventID, InboxStarted)
	return err
}

// Finish marks a command done with a short outcome ("ok", "refused", "stale", ...).
// The text of one that did not run (Unheeded) is cut to its first KeptText
// characters: someone sending long refused commands by the thousand fills no disk.
func (in *Inbox) Finish(ctx context.Context, eventID id.EventID, outcome string) error {
	_, err := in.db.Exec(ctx, `UPDATE inbox SET state=$1, outcome=$2,
			body = CASE WHEN $4 AND length(body) > $5 THEN substr(body, 1, $5) || '…' ELSE body END
		WHERE event_id=$3`, InboxDone, outcome, eventID, Unheeded(outcome), KeptText)
	return err
}

// Prune forgets up to limit handled entries sent and received before before, and
// moves the horizon (see Record) past the latest sent of them, in the same
// transaction: an event the homeserver delivers again after its entry is gone is not
// taken for a new one. The horizon is where the forgotten entries were sent, not
// before itself: a host clock that once ran ahead (a bad RTC put right by NTP) would
// otherwise leave the horizon in the future, and every command, every approval, sent
// until the clock caught up would pass for one already seen. Entries not yet handled
// are never pruned. It returns how many it removed.
func (in *Inbox) Prune(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	err := in.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		rows, err := in.db.Query(ctx, `DELETE FROM inbox WHERE rowid IN (SELECT rowid FROM inbox
			WHERE state=$1 AND received_at < $2 AND sent_at < $2 ORDER BY received_at LIMIT $3) RETURNING sent_at`, InboxDone, before.UnixMilli(), limit)
		sent, err := dbutil.NewRowIterWithError(rows, dbutil.ScanSingleColumn[int64], err).AsList()
		if err != nil || len(sent) == 0 {
			return err
		}
		n = int64(len(sent))
		// Record takes what was sent at the horizon or later: one past the latest.
		_, err = in.db.Exec(ctx, `INSERT INTO kv (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))`,
			keyInboxHorizon, slices.Max(sent)+1)
		return err
	})
	return n, err
}

// Forget removes the text of a handled entry: a ticket's message, whose text is kept
// with the ticket (and removed after tickets.retention), not here too.
func (in *Inbox) Forget(ctx context.Context, eventID id.EventID) error {
	_, err := in.db.Exec(ctx, "UPDATE inbox SET body='' WHERE event_id=$1 AND state=$2", eventID, InboxDone)
	return err
}

// InState lists the entries in state, oldest first.
func (in *Inbox) InState(ctx context.Context, state InboxState) ([]*InboxEntry, error) {
	rows, err := in.db.Query(ctx, "SELECT "+inboxColumns+" FROM inbox WHERE state=$1 ORDER BY sent_at, received_at", state)
	return dbutil.NewRowIterWithError(rows, scanInboxEntry, err).AsList()
}

// Get returns the entry for eventID, or nil.
func (in *Inbox) Get(ctx context.Context, eventID id.EventID) (*InboxEntry, error) {
	rows, err := in.db.Query(ctx, "SELECT "+inboxColumns+" FROM inbox WHERE event_id=$1", eventID)
	list, err := dbutil.NewRowIterWithError(rows, scanInboxEntry, err).AsList()
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

func scanInboxEntry(row dbutil.Scannable) (*InboxEntry, error) {
	var e InboxEntry
	var trust int
	var sentAt, receivedAt int64
	err := row.Scan(&e.Kind, &e.RelatesTo, &e.EventID, &e.RoomID, &e.Sender, &e.DeviceID, &trust, &e.Encrypted, &e.ThreadRoot, &e.Body,
		&sentAt, &receivedAt, &e.State, &e.Outcome)
	if err != nil {
		return nil, err
	}
	e.Trust = id.TrustState(trust)
	e.SentAt = time.UnixMilli(sentAt)
	e.ReceivedAt = time.UnixMilli(receivedAt)
	return &e, nil
}
