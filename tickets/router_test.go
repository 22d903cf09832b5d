package tickets_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
	"github.com/steward-bot/steward/tickets"
)

// fakeReplier records the replies the router queues.
type fakeReplier struct {
	mu      sync.Mutex
	replies []string // room: text
}

func (f *fakeReplier) Reply(_ context.Context, roomID id.RoomID, replyTo, _ id.EventID, msg *render.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, fmt.Sprintf("%s %s: %s", roomID, replyTo, msg.Plain()))
	return nil
}

// A member flooding their ticket chat has their first messages carried to the
// thread, up to the burst; the rest are not, the member is told once (in answer to
// the first one not carried) and the admins once in the thread; a minute later the
// member's words are carried again.
func TestMemberFloodIsLimitedAndTold(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	tk, err := w.tracker.Open(ctx, carol, state.TicketRequest, "", "my disk is full", "$open", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	replier := &fakeReplier{}
	r := &tickets.Router{
		Tracker: w.tracker, Lookup: w.db.Tickets, Replier: replier,
		ThreadMessage: func(context.Context, id.EventID) (int64, error) { return 0, nil },
		IsAdmin:       func(_ context.Context, u id.UserID) bool { return u == alice || u == bob },
		IsMember:      func(_ context.Context, u id.UserID) bool { return u == carol },
		IsPrivateChat: func(context.Context, id.RoomID, id.UserID) bool { return true },
		// Five at once, then one every ten seconds.
		Limiter: commands.NewLimiter(5, 6, func() time.Time { return w.clock }),
	}
	relay := func(i int) string {
		return r.Relay(ctx, &state.InboxEntry{
			Kind: state.InboxRelay, EventID: id.EventID(fmt.Sprintf("$spam%d", i)), RoomID: tk.DMRoom, Sender: carol,
			Encrypted: true, Body: fmt.Sprintf("spam %d", i), SentAt: w.clock, ReceivedAt: w.clock,
		})
	}
	var outcomes []string
	for i := range 200 {
		outcomes = append(outcomes, relay(i))
	}
	for i, o := range outcomes {
		want := state.OutcomeOK
		if i >= 5 {
			want = state.OutcomeRateLimited
		}
		if o != want {
			t.Fatalf("message %d: outcome %q, want %q", i, o, want)
		}
	}
	thread := func() (carried []string, notes []string) {
		for _, p := range w.mx.in(adminRoom) {
			switch {
			case p.ThreadMsg != tk.ThreadMsg:
			case strings.Contains(p.Plain, "faster than I pass them on"):
				notes = append(notes, p.Plain)
			default:
				carried = append(carried, p.Plain)
			}
		}
		return carried, notes
	}
	carried, notes := thread()
	if len(carried) != 5 || !strings.Contains(carried[4], "spam 4") {
		t.Errorf("the thread got %q, want the first five messages", carried)
	}
	if len(notes) != 1 {
		t.Errorf("the admins were told %d times that messages were not passed on, want once: %q", len(notes), notes)
	}
	want := []string{fmt.Sprintf("%s $spam5: %s", tk.DMRoom, tickets.TooFastMessage)}
	if !slices.Equal(replier.replies, want) {
		t.Errorf("the member was told %q, want once, in answer to the first message not passed on: %q", replier.replies, want)
	}
	stored, err := w.db.Tickets.Messages(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 6 { // the first words and five carried
		t.Errorf("the ticket kept %d messages, want 6: what was refused is not stored", len(stored))
	}

	// Ten seconds later one more gets through and the next is refused again: within
	// the minute, the member is not told again (a steady flood would be told every
	// ten seconds).
	w.clock = w.clock.Add(10 * time.Second)
	if o := relay(1000); o != state.OutcomeOK {
		t.Fatalf("after a pause: outcome %q, want ok", o)
	}
	if o := relay(1001); o != state.OutcomeRateLimited {
		t.Fatalf("at once after: outcome %q, want rate_limited", o)
	}
	if len(replier.replies) != 1 {
		t.Errorf("ten seconds later the member was told %d times, want still once", len(replier.replies))
	}
	// A minute on, over the limit again: told again.
	w.clock = w.clock.Add(time.Minute)
	for i := range 20 {
		relay(2000 + i)
	}
	if len(replier.replies) != 2 {
		t.Errorf("a minute later, over the limit again, the member was told %d times in all, want 2", len(replier.replies))
	}
	if _, notes := thread(); len(notes) != 2 {
		t.Errorf("the admins were told %d times in all, want 2", len(notes))
	}
}
