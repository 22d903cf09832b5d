package state_test

import (
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
