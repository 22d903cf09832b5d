package state_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
)

// BenchmarkCommandBookkeeping measures the durable writes one command costs before and
// after it runs (record, claim, audit, queue reply, mark sent, finish), each a
// synchronous=FULL commit. It is most of what Steward adds to a !ping round trip.
func BenchmarkCommandBookkeeping(b *testing.B) {
	ctx := b.Context()
	db, err := state.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	i := 0
	for b.Loop() {
		i++
		evt := id.EventID(fmt.Sprintf("$bench%d", i))
		entry := &state.InboxEntry{EventID: evt, RoomID: "!r:x", Sender: "@a:x", Body: "!ping", SentAt: time.Now(), ReceivedAt: time.Now()}
		if _, err = db.Inbox.Record(ctx, entry); err != nil {
			b.Fatal(err)
		}
		if _, err = db.Inbox.Claim(ctx, evt); err != nil {
			b.Fatal(err)
		}
		if _, err = db.Audit.Append(ctx, &state.AuditEntry{Actor: "@a:x", EventID: evt, Action: "command.ping", Outcome: state.OutcomeOK}); err != nil {
			b.Fatal(err)
		}
		msgID, err := db.Outbox.Add(ctx, "!r:x", event.EventMessage, map[string]string{"body": "Pong"}, "")
		if err != nil {
			b.Fatal(err)
		}
		if err = db.Outbox.MarkSent(ctx, msgID, "$reply"); err != nil {
			b.Fatal(err)
		}
		if err = db.Inbox.Finish(ctx, evt, state.OutcomeOK); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOutboxNextBehindFlood measures picking the next message to send while
// 10,000 of members' messages wait behind the admins' (a flood): the index on
// (priority, id) of what is unsent keeps it one lookup, however long the queue.
func BenchmarkOutboxNextBehindFlood(b *testing.B) {
	ctx := b.Context()
	db, err := state.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for batch := 0; batch < 10000; batch += 500 {
		err = db.DoTxn(ctx, func(ctx context.Context) error {
			for range 500 {
				if _, err := db.Outbox.AddAt(ctx, state.PriorityMembers, "!dm:x", event.EventMessage, map[string]string{"body": "spam"}, "", 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	alert, err := db.Outbox.Add(ctx, "!admins:x", event.EventMessage, map[string]string{"body": "CRITICAL"}, "")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		msg, err := db.Outbox.Next(ctx)
		if err != nil || msg == nil || msg.ID != alert {
			b.Fatalf("Next = %+v, %v; want the alert", msg, err)
		}
	}
}
