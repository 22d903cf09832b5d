package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"go.mau.fi/util/random"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// OutboxMessage is one event waiting to be sent, or sent.
type OutboxMessage struct {
	ID        int64
	RoomID    id.RoomID
	Type      event.Type
	Content   json.RawMessage
	TxnID     string
	CreatedAt time.Time
	Attempts  int
	LastError string
	State     string
	EventID   id.EventID
	// RelatesToMsg is the earlier outbox message this one reacts to or edits (0 for
	// none).
	RelatesToMsg int64
	Priority     Priority
	// ReplyTo is the command event the message answers ("" for none).
	ReplyTo id.EventID
}

// Priority orders the outbox: every message of a lower number is sent before any of a
// higher one, so a member flooding their ticket chat (or opening hundreds of chats)
// can't hold back an alert or an approval request. Within a priority, messages go
// in the order they were queued, which keeps each room's order.
type Priority int

// The outbox's priorities.
const (
	// PriorityAdmins is what the admins must see at once: alerts, approval requests,
	// answers to commands, notices. The zero value, and what came before priorities.
	PriorityAdmins Priority = 0
	// PriorityMembers is members' traffic: tickets' messages both ways, greetings,
	// what is said in members' private chats.
	PriorityMembers Priority = 1
)

// The states of an outbox message.
const (
	OutboxQueued = "queued"
	// OutboxSending is a message handed to the homeserver whose answer has not been
	// recorded. Found at start, it means Steward died mid-send: the homeserver may or
	// may not have the message.
	OutboxSending = "sending"
	OutboxSent    = "sent"
	// OutboxFailed is a message the homeserver refused for good (not a rate limit or an
	// outage), kept with its error for the log rather than blocking the queue forever.
	OutboxFailed = "failed"
	// OutboxPruned is a message of the admin room that retention emptied: only its
	// event ID and transaction ID are left, so that Steward still knows the event was
	// its own, and no checkpoint.
	OutboxPruned = "pruned"
)

// Outbox keeps messages until the homeserver has accepted them, so that an alert or a
// reply written while the homeserver is down still arrives, in order, once it is back.
type Outbox struct {
	db *dbutil.Database
}

const outboxColumns = "id, room_id, event_type, content, txn_id, created_at, attempts, last_error, state, event_id, relates_to_msg, reply_to, priority"

// Add queues content for roomID and returns the message's ID. replyTo is the command
// event it answers ("" for none). The transaction ID is fixed now, so a resend after a
// crash (with the same access token) is deduplicated by the homeserver.
func (o *Outbox) Add(ctx context.Context, roomID id.RoomID, evtType event.Type, content any, replyTo id.EventID) (int64, error) {
	return o.AddAt(ctx, PriorityAdmins, roomID, evtType, content, replyTo, 0)
}

// AddRelated queues content, which reacts to or edits the earlier outbox message
// relatesTo, and returns its ID. The sender fills in m.relates_to.event_id with that
// message's event ID, which is not known before it is sent.
func (o *Outbox) AddRelated(ctx context.Context, roomID id.RoomID, evtType event.Type, content any, relatesTo int64) (int64, error) {
	return o.AddAt(ctx, PriorityAdmins, roomID, evtType, content, "", relatesTo)
}

// AddAt is Add and AddRelated with a priority. A message that relates to one still
// unsent is queued at that one's priority when it is later than prio: the sender
// fills in the event ID it refers to, so it must never overtake it.
func (o *Outbox) AddAt(ctx context.Context, prio Priority, roomID id.RoomID, evtType event.Type, content any, replyTo id.EventID, relatesTo int64) (int64, error) {
	txnID := "steward_" + random.String(24)
	raw, err := withTxnMarker(content, txnID)
	if err != nil {
		return 0, fmt.Errorf("encode message: %w", err)
	}
	var msgID int64
	err = o.db.QueryRow(ctx, `INSERT INTO outbox (room_id, event_type, content, txn_id, reply_to, relates_to_msg, created_at, priority)
		VALUES ($1, $2, $3, $4, $5, $6, $7, MAX($8, COALESCE((SELECT priority FROM outbox WHERE id=$6 AND state IN ('queued', 'sending')), 0)))
		RETURNING id`,
		roomID, evtType.Type, string(raw), txnID, replyTo, relatesTo, time.Now().UnixMilli(), int(prio)).Scan(&msgID)
	if err != nil {
		return 0, fmt.Errorf("queue message: %w", err)
	}
	return msgID, nil
}

// CheckpointKey is the content key of the decision log's checkpoint messages in the
// admin room (bot.CheckpointField); Prune keeps them.
const CheckpointKey = "org.steward.checkpoint"

// TxnMarkerKey is the content key that carries a message's transaction ID inside the
// (encrypted) content, so that Steward recognises its own message wherever it reads it
// back, even from room history, which the homeserver does not tag with the
// transaction ID.
const TxnMarkerKey = "org.steward.txn_id"

// TxnMarker returns the transaction ID recorded in raw message content, or "".
func TxnMarker(raw json.RawMessage) string {
	var marker struct {
		TxnID string `json:"org.steward.txn_id"`
	}
	_ = json.Unmarshal(raw, &marker)
	return marker.TxnID
}

func withTxnMarker(content any, txnID string) ([]byte, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	var fields map[string]any
	if err = json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	fields[TxnMarkerKey] = txnID
	return json.Marshal(fields)
}

// Answered reports whether a message answering the command eventID was queued.
func (o *Outbox) Answered(ctx context.Context, eventID id.EventID) (bool, error) {
	var n int
	err := o.db.QueryRow(ctx, "SELECT COUNT(*) FROM outbox WHERE reply_to=$1", eventID).Scan(&n)
	return n > 0, err
}

// FailedReplies returns the messages answering the command eventID that the
// homeserver refused for good, oldest first: answers nobody got.
func (o *Outbox) FailedReplies(ctx context.Context, eventID id.EventID) ([]*OutboxMessage, error) {
	rows, err := o.db.Query(ctx, "SELECT "+outboxColumns+" FROM outbox WHERE reply_to=$1 AND state=$2 ORDER BY id", eventID, OutboxFailed)
	return dbutil.NewRowIterWithError(rows, scanOutboxMessage, err).AsList()
}

// Next returns the message to deliver now (queued, or caught mid-send by a crash): the
// oldest of the first priority that has one, or nil when there is none. It reads the
// first entry of the index outbox_next_idx, named because SQLite, without statistics,
// would rather read every unsent message by state and sort them: behind a flood of
// 10,000 that is a millisecond and more per message sent (BenchmarkOutboxNextBehindFlood).
func (o *Outbox) Next(ctx context.Context) (*OutboxMessage, error) {
	rows, err := o.db.Query(ctx, "SELECT "+outboxColumns+" FROM outbox INDEXED BY outbox_next_idx WHERE state IN ('queued', 'sending') ORDER BY priority, id LIMIT 1")
	list, err := dbutil.NewRowIterWithError(rows, scanOutboxMessage, err).AsList()
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

// Get returns the message with msgID, or nil.
func (o *Outbox) Get(ctx context.Context, msgID int64) (*OutboxMessage, error) {
	rows, err := o.db.Query(ctx, "SELECT "+outboxColumns+" FROM outbox WHERE id=$1", msgID)
	list, err := dbutil.NewRowIterWithError(rows, scanOutboxMessage, err).AsList()
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

// IDByEvent returns the outbox ID of the message sent as eventID, 0 when Steward sent
// no such message.
func (o *Outbox) IDByEvent(ctx context.Context, eventID id.EventID) (int64, error) {
	var msgID int64
	err := o.db.QueryRow(ctx, "SELECT id FROM outbox WHERE event_id=$1", eventID).Scan(&msgID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return msgID, err
}

// Queued counts the messages not sent yet, the one being handed over included; the
// outbox's drain at shutdown waits, up to its limit, for it to reach zero.
func (o *Outbox) Queued(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRow(ctx, "SELECT COUNT(*) FROM outbox WHERE state IN ($1, $2)", OutboxQueued, OutboxSending).Scan(&n)
	return n, err
}

// PruneFor returns the outbox's retention (for retention.Table): Prune with the admin
// room, whose messages leave their event ID behind.
func (o *Outbox) PruneFor(adminRoom id.RoomID) func(ctx context.Context, before time.Time, limit int) (int64, error) {
	return func(ctx context.Context, before time.Time, limit int) (int64, error) {
		return o.Prune(ctx, adminRoom, before, limit)
	}
}

// Prune drops up to limit messages sent (or refused) before before that nothing needs
// any more, and returns how many. Kept whatever their age: what is not sent yet, a
// message an unsent one refers to, the decision log's checkpoints (a redacted one is
// an alarm, known by its row), and the messages that alerts, tickets and approval
// requests still point at (reactions and answers find them by their event ID).
//
// A message of the admin room is emptied, not deleted (OutboxPruned): its event ID
// stays, so that when an admin redacts it, Steward still knows it was no checkpoint.
// An event of Steward's there that the outbox does not know at all counts as a
// possible checkpoint, as before, since a rooted host could have deleted its row.
func (o *Outbox) Prune(ctx context.Context, adminRoom id.RoomID, before time.Time, limit int) (int64, error) {
	const prunable = `SELECT id FROM outbox o
		WHERE state IN ('sent', 'failed') AND created_at < $1
			AND id NOT IN (SELECT relates_to_msg FROM outbox WHERE state IN ('queued', 'sending'))
			AND content NOT LIKE '%"` + CheckpointKey + `":%'
			AND NOT EXISTS (SELECT 1 FROM alert WHERE alert.message = o.id AND alert.message <> 0)
			AND NOT EXISTS (SELECT 1 FROM ticket WHERE ticket.thread_msg = o.id)
			AND NOT EXISTS (SELECT 1 FROM approval WHERE approval.request_msg = o.id)`
	var n int64
	err := o.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		res, err := o.db.Exec(ctx, `DELETE FROM outbox WHERE id IN (`+prunable+`
			AND (room_id <> $3 OR event_id = '') ORDER BY created_at LIMIT $2)`, before.UnixMilli(), limit, adminRoom)
		if err != nil {
			return err
		}
		deleted, err := res.RowsAffected()
		if err != nil {
			return err
		}
		res, err = o.db.Exec(ctx, `UPDATE outbox SET state=$4, content='{}', last_error='' WHERE id IN (`+prunable+`
			AND room_id = $3 AND event_id <> '' ORDER BY created_at LIMIT $2)`, before.UnixMilli(), limit, adminRoom, OutboxPruned)
		if err != nil {
			return err
		}
		emptied, err := res.RowsAffected()
		n = deleted + emptied
		return err
	})
	return n, err
}

// MarkSending records that the message is being handed to the homeserver.
func (o *Outbox) MarkSending(ctx context.Context, msgID int64) error {
	_, err := o.db.Exec(ctx, "UPDATE outbox SET state=$1 WHERE id=$2", OutboxSending, msgID)
	return err
}

// MarkSentByTxn records that the homeserver has the message with transaction ID txnID
// as eventID, learnt from the sync (a send whose answer was lost in a crash). It
// reports whether a message not yet marked sent was found.
func (o *Outbox) MarkSentByTxn(ctx context.Context, txnID string, eventID id.EventID) (bool, error) {
	res, err := o.db.Exec(ctx, "UPDATE outbox SET state=$1, event_id=$2, sent_at=$3, last_error='' WHERE txn_id=$4 AND state NOT IN ($1, $5)",
		OutboxSent, eventID, time.Now().UnixMilli(), txnID, OutboxPruned)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MarkSent records that the homeserver accepted the message as eventID.
func (o *Outbox) MarkSent(ctx context.Context, msgID int64, eventID id.EventID) error {
	_, err := o.db.Exec(ctx, "UPDATE outbox SET state=$1, event_id=$2, sent_at=$3, attempts=attempts+1, last_error='' WHERE id=$4",
		OutboxSent, eventID, time.Now().UnixMilli(), msgID)
	return err
}

// MarkAttempt records a failed attempt that will be retried.
func (o *Outbox) MarkAttempt(ctx context.Context, msgID int64, cause error) error {
	_, err := o.db.Exec(ctx, "UPDATE outbox SET state=$1, attempts=attempts+1, last_error=$2 WHERE id=$3 AND state<>$4", OutboxQueued, cause.Error(), msgID, OutboxSent)
	return err
}

// MarkFailed records that the homeserver refused the message for good.
func (o *Outbox) MarkFailed(ctx context.Context, msgID int64, cause error) error {
	_, err := o.db.Exec(ctx, "UPDATE outbox SET state=$1, attempts=attempts+1, last_error=$2 WHERE id=$3 AND state<>$4", OutboxFailed, cause.Error(), msgID, OutboxSent)
	return err
}

func scanOutboxMessage(row dbutil.Scannable) (*OutboxMessage, error) {
	var m OutboxMessage
	var evtType, content string
	var createdAt int64
	err := row.Scan(&m.ID, &m.RoomID, &evtType, &content, &m.TxnID, &createdAt, &m.Attempts, &m.LastError, &m.State, &m.EventID, &m.RelatesToMsg, &m.ReplyTo, &m.Priority)
	if err != nil {
		return nil, err
	}
	m.Type = event.NewEventType(evtType)
	m.Content = json.RawMessage(content)
	m.CreatedAt = time.UnixMilli(createdAt)
	return &m, nil
}
