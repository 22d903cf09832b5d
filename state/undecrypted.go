package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Undecrypted keeps encrypted messages that are waiting for their room key. The key
// often arrives a moment after the message; if Steward stops in that moment, the
// message would otherwise be lost with the sync position already past it.
type Undecrypted struct {
	db *dbutil.Database
}

// Add keeps evt until Forget is called for it.
func (u *Undecrypted) Add(ctx context.Context, evt *event.Event) error {
	raw, err := json.Marshal(evt)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	_, err = u.db.Exec(ctx, `INSERT INTO undecrypted (event_id, room_id, event, received_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (event_id) DO NOTHING`, evt.ID, evt.RoomID, string(raw), time.Now().UnixMilli())
	return err
}

// Forget drops eventID: it was decrypted, or Steward gave up on it.
func (u *Undecrypted) Forget(ctx context.Context, eventID id.EventID) error {
	_, err := u.db.Exec(ctx, "DELETE FROM undecrypted WHERE event_id=$1", eventID)
	return err
}

// Expire drops the events kept since before cutoff: their senders have been told, or
// have long moved on.
func (u *Undecrypted) Expire(ctx context.Context, cutoff time.Time) error {
	_, err := u.db.Exec(ctx, "DELETE FROM undecrypted WHERE received_at < $1", cutoff.UnixMilli())
	return err
}

// Prune drops up to limit events kept since before before, and returns how many:
// the retention's batch of Expire.
func (u *Undecrypted) Prune(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := u.db.Exec(ctx, `DELETE FROM undecrypted WHERE event_id IN
		(SELECT event_id FROM undecrypted WHERE received_at < $1 ORDER BY received_at LIMIT $2)`, before.UnixMilli(), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// All returns the kept events, oldest first.
func (u *Undecrypted) All(ctx context.Context) ([]*event.Event, error) {
	rows, err := u.db.Query(ctx, "SELECT event FROM undecrypted ORDER BY received_at")
	return dbutil.NewRowIterWithError(rows, func(row dbutil.Scannable) (*event.Event, error) {
		var raw string
		if err := row.Scan(&raw); err != nil {
			return nil, err
		}
		var evt event.Event
		if err := json.Unmarshal([]byte(raw), &evt); err != nil {
			return nil, fmt.Errorf("decode kept event: %w", err)
		}
		evt.Type.Class = event.MessageEventType
		if err := evt.Content.ParseRaw(evt.Type); err != nil {
			return nil, fmt.Errorf("parse kept event %s: %w", evt.ID, err)
		}
		return &evt, nil
	}, err).AsList()
}
