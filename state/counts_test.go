package state_test

import (
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
)

// MessagesSince counts what was queued from a time on, sent or not, reactions left
// out: what an outage that began then held back.
func TestMessagesSince(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	add := func(evtType event.Type) int64 {
		t.Helper()
		msgID, err := db.Outbox.Add(ctx, room, evtType, map[string]any{"body": "x"}, "")
		if err != nil {
			t.Fatal(err)
		}
		return msgID
	}
	before := add(event.EventMessage)
	if err := db.Outbox.MarkSent(ctx, before, "$before"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // created_at has millisecond steps
	since := time.Now()
	sent := add(event.EventMessage)
	add(event.EventMessage)
	add(event.EventReaction)
	if err := db.Outbox.MarkSent(ctx, sent, "$sent"); err != nil {
		t.Fatal(err)
	}
	n, err := db.Outbox.MessagesSince(ctx, since)
	if err != nil || n != 2 {
		t.Errorf("MessagesSince = %d, %v; want 2 (the one sent before is not counted, nor the reaction)", n, err)
	}
	n, err = db.Outbox.MessagesSince(ctx, since.Add(time.Hour))
	if err != nil || n != 0 {
		t.Errorf("MessagesSince(an hour on) = %d, %v; want 0", n, err)
	}
	queued, oldest, err := db.Outbox.Backlog(ctx)
	if err != nil || queued != 2 || oldest.Before(since.Truncate(time.Millisecond)) {
		t.Errorf("Backlog = %d, %s, %v; want 2 queued, the oldest from %s on", queued, oldest, err, since)
	}
}
