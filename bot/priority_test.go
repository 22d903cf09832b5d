package bot

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

const memberChat = id.RoomID("!dm-mallory:example.org")

// priorityOutbox is an Outbox over ob whose admin room is opsRoom, as Connect sets it.
func priorityOutbox(ob *state.Outbox) *Outbox {
	return &Outbox{store: ob, wake: make(chan struct{}, 1), adminRoom: opsRoom}
}

// A member flooding their ticket chat fills the outbox with thousands of messages,
// for their chat and for the ticket's thread in the admin room; an alert queued
// after them is the very next message sent, not the 4001st. On a first-in, first-out
// queue it would wait behind the flood.
func TestAlertOvertakesMemberFlood(t *testing.T) {
	db := must(state.Open(t.Context(), t.TempDir()+"/steward.db", zerolog.Nop()))(t)
	t.Cleanup(func() { _ = db.Close() })
	ob := db.Outbox
	o := priorityOutbox(ob)
	ctx := zerolog.Nop().WithContext(t.Context())
	thread, err := o.PostInThread(ctx, opsRoom, 0, render.New("Ticket T1 opened by @mallory"))
	if err != nil {
		t.Fatal(err)
	}
	const flood = 2000
	// Queued a hundred to a transaction only to spare the disk's flushes: the order
	// is the same as one at a time.
	for batch := 0; batch < flood; batch += 100 {
		err = db.DoTxn(ctx, func(ctx context.Context) error {
			for i := batch; i < batch+100; i++ {
				if _, err := o.PostInThread(ctx, opsRoom, thread, render.New(fmt.Sprintf("mallory: spam %d", i))); err != nil {
					return err
				}
				if err := o.Reply(ctx, memberChat, "", "", render.New(fmt.Sprintf("to mallory %d", i))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err = o.Notice(ctx, opsRoom, render.New("CRITICAL disk / is 99% full")); err != nil {
		t.Fatal(err)
	}
	approval := must(o.Post(ctx, opsRoom, "$cmd", "", render.New("Approval needed: !restart db")))(t)
	// A reaction to the request is the admins' too, and follows the request.
	if err = o.React(ctx, opsRoom, approval, "✅"); err != nil {
		t.Fatal(err)
	}

	hs := &fakeHomeserver{t: t, answer: func(int, sendRequest) (int, string) { return http.StatusOK, "" }}
	_, stop := startOutbox(t, hs, ob)
	accepted := waitAccepted(t, hs, 6)
	stop()

	want := []string{"CRITICAL disk / is 99% full", "Approval needed: !restart db", ""} // "" is the reaction
	if !slices.Equal(accepted[:3], want) {
		t.Fatalf("first messages sent %q, want the alert, the approval request and its reaction first", accepted[:3])
	}
	// The flood itself keeps its order, and nothing of it is lost.
	if !slices.Equal(accepted[3:6], []string{"Ticket T1 opened by @mallory", "mallory: spam 0", "to mallory 0"}) {
		t.Errorf("the flood went out as %q, want in the order it was queued", accepted[3:6])
	}
	if n := must(ob.Queued(ctx))(t); n < 2*flood+4-len(accepted)-1 {
		t.Errorf("%d messages queued after %d were sent, want the rest of the %d", n, len(accepted), 2*flood+4)
	}
}

// waitAccepted waits until the homeserver took at least n messages and returns them.
func waitAccepted(t *testing.T, hs *fakeHomeserver, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, accepted := hs.seen(); len(accepted) >= n {
			return accepted
		}
		if time.Now().After(deadline) {
			t.Fatalf("the homeserver took fewer than %d messages in 10s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An edit or reaction of the admins' priority to a member's message not yet sent is
// queued behind that message, not before it: the sender fills in the event ID it
// refers to, and dropping it as "never sent" would lose it.
func TestRelatedMessageNeverOvertakesItsTarget(t *testing.T) {
	ob := openOutbox(t)
	o := priorityOutbox(ob)
	ctx := zerolog.Nop().WithContext(t.Context())
	for i := range 3 {
		must(o.Post(ctx, memberChat, "", "", render.New(fmt.Sprintf("earlier %d", i))))(t)
	}
	target := must(o.Post(ctx, memberChat, "", "", render.New("Your ticket is T1")))(t)
	if err := o.Edit(ctx, memberChat, target, render.New("Your ticket is T1 (closed)")); err != nil {
		t.Fatal(err)
	}
	if err := o.Notice(ctx, opsRoom, render.New("CRITICAL web down")); err != nil {
		t.Fatal(err)
	}
	// Queued in the admin room (admins' priority) but in the thread of a member's
	// unsent message: it waits for it.
	start := must(o.PostInThread(ctx, opsRoom, 0, render.New("Ticket T2")))(t)
	if err := o.React(ctx, opsRoom, start, "👀"); err != nil {
		t.Fatal(err)
	}

	hs := &fakeHomeserver{t: t, answer: func(int, sendRequest) (int, string) { return http.StatusOK, "" }}
	startOutbox(t, hs, ob)
	waitEmpty(t, ob)
	_, accepted := hs.seen()
	want := []string{"CRITICAL web down", "earlier 0", "earlier 1", "earlier 2", "Your ticket is T1", "* Your ticket is T1 (closed)", "Ticket T2", ""}
	if !slices.Equal(accepted, want) {
		t.Fatalf("sent %q, want %q", accepted, want)
	}
	all := must(ob.Queued(ctx))(t)
	if all != 0 {
		t.Errorf("%d messages still queued", all)
	}
	for _, msgID := range []int64{target + 1, start + 1} {
		if m := getMessage(t, ob, msgID); m.State != state.OutboxSent {
			t.Errorf("related message %d is %q, want sent (not dropped as never sent)", msgID, m.State)
		}
	}
}

// A priority is stored with the message: after a restart (the database opened
// again), the admins' message queued last is still the next to go.
func TestPrioritySurvivesRestart(t *testing.T) {
	path := t.TempDir() + "/steward.db"
	ctx := zerolog.Nop().WithContext(t.Context())
	db := must(state.Open(ctx, path, zerolog.Nop()))(t)
	o := priorityOutbox(db.Outbox)
	for i := range 10 {
		must(o.PostInThread(ctx, memberChat, 0, render.New(fmt.Sprintf("member %d", i))))(t)
	}
	if err := o.Notice(ctx, opsRoom, render.New("CRITICAL backup stale")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = must(state.Open(ctx, path, zerolog.Nop()))(t)
	defer db.Close()
	next := must(db.Outbox.Next(ctx))(t)
	if next == nil || next.Priority != state.PriorityAdmins || !strings.Contains(string(next.Content), "CRITICAL backup stale") {
		t.Fatalf("next after a restart is %s (priority %d), want the admins' alert", next.Content, next.Priority)
	}
}

func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// A message of the admin room that retention emptied is still known as Steward's and
// as no checkpoint: an admin redacting it raises no alarm. An event of Steward's the
// outbox does not know at all may have been one (its row could have been deleted), and
// a checkpoint is never pruned.
func TestPrunedMessageIsNoCheckpoint(t *testing.T) {
	ctx := zerolog.Nop().WithContext(t.Context())
	db := must(state.Open(ctx, t.TempDir()+"/steward.db", zerolog.Nop()))(t)
	defer db.Close()
	b := &Bot{db: db, outbox: priorityOutbox(db.Outbox), adminRoom: opsRoom}
	pong := must(db.Outbox.Add(ctx, opsRoom, event.EventMessage, render.New("Pong").Notice(), ""))(t)
	if err := db.Outbox.MarkSent(ctx, pong, "$pong"); err != nil {
		t.Fatal(err)
	}
	cp := must(db.Outbox.Add(ctx, opsRoom, event.EventMessage,
		&event.Content{Parsed: render.New("Checkpoint").Notice(), Raw: map[string]any{CheckpointField: map[string]any{"id": 7, "hash": "ab"}}}, ""))(t)
	if err := db.Outbox.MarkSent(ctx, cp, "$checkpoint"); err != nil {
		t.Fatal(err)
	}
	if n := must(db.Outbox.Prune(ctx, opsRoom, time.Now().Add(time.Hour), 100))(t); n != 1 {
		t.Fatalf("pruned %d, want the pong only", n)
	}
	for eventID, want := range map[id.EventID]bool{"$pong": false, "$checkpoint": true, "$unknown": true} {
		if got := b.witness().wasCheckpoint(ctx, eventID); got != want {
			t.Errorf("wasCheckpoint(%s) = %v, want %v", eventID, got, want)
		}
	}
}
