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
	// ReplyTo is the command event the message answers ("" for none).
	ReplyTo id.EventID
}

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
)

// Outbox keeps messages until the homeserver has accepted them, so that an alert or a
// reply written while the homeserver is down still arrives, in order, once it is back.
type Outbox struct {
	db *dbutil.Database
}

const outboxColumns = "id, room_id, event_type, content, txn_id, created_at, attempts, last_error, state, event_id, relates_to_msg, reply_to"

// Add queues content for roomID and returns the message's ID. replyTo is the command
// event it answers ("" for none). The transaction ID is fixed now, so a resend after a
// crash (with the same access token) is deduplicated by the homeserver.
func (o *Outbox) Add(ctx context.Context, roomID id.RoomID, evtType event.Type, content any, replyTo id.EventID) (int64, error) {
	return o.add(ctx, roomID, evtType, content, replyTo, 0)
}

// AddRelated queues content, which reacts to or edits the earlier outbox message
// relatesTo, and returns its ID. The sender fills in m.relates_to.event_id with that
// message's event ID, which is not known before it is sent.
func (o *Outbox) AddRelated(ctx context.Context, roomID id.RoomID, evtType event.Type, content any, relatesTo int64) (int64, error) {
	return o.add(ctx, roomID, evtType, content, "", relatesTo)
}

func (o *Outbox) add(ctx context.Context, roomID id.RoomID, evtType event.Type, content any, replyTo id.EventID, relatesTo int64) (int64, error) {
	txnID := "steward_" + random.String(24)
	raw, err := withTxnMarker(content, txnID)
	if err != nil {
		return 0, fmt.Errorf("encode message: %w", err)
	}
	var msgID int64
	err = o.db.QueryRow(ctx, `INSERT INTO outbox (room_id, event_type, content, txn_id, reply_to, relates_to_msg, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		roomID, evtType.Type, string(raw), txnID, replyTo, relatesTo, time.Now().UnixMilli()).Scan(&msgID)
	if err != nil {
		return 0, fmt.Errorf("queue message: %w", err)
	}
	return msgID, nil
}

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

// Next returns the oldest message still to be delivered (queued, or caught mid-send
// by a crash), or nil when there is none.
func (o *Outbox) Next(ctx context.Context) (*OutboxMessage, error) {
	rows, err := o.db.Query(ctx, "SELECT "+outboxColumns+" FROM outbox WHERE state IN ($1, $2) ORDER BY id LIMIT 1", OutboxQueued, OutboxSending)
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

// MarkSending records that the message is being handed to the homeserver.
func (o *Outbox) MarkSending(ctx context.Context, msgID int64) error {
	_, err := o.db.Exec(ctx, "UPDATE outbox SET state=$1 WHERE id=$2", OutboxSending, msgID)
	return err
}

// MarkSentByTxn records that the homeserver has the message with transaction ID txnID
// as eventID, learnt from the sync (a send whose answer was lost in a crash). It
// reports whether a message not yet marked sent was found.
func (o *Outbox) MarkSentByTxn(ctx context.Context, txnID string, eventID id.EventID) (bool, error) {
	res, err := o.db.Exec(ctx, "UPDATE outbox SET state=$1, event_id=$2, sent_at=$3, last_error='' WHERE txn_id=$4 AND state<>$1",
		OutboxSent, eventID, time.Now().UnixMilli(), txnID)
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
	err := row.Scan(&m.ID, &m.RoomID, &evtType, &content, &m.TxnID, &createdAt, &m.Attempts, &m.LastError, &m.State, &m.EventID, &m.RelatesToMsg, &m.ReplyTo)
	if err != nil {
		return nil, err
	}
	m.Type = event.NewEventType(evtType)
	m.Content = json.RawMessage(content)
	m.CreatedAt = time.UnixMilli(createdAt)
	return &m, nil
}
