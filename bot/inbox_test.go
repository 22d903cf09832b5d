package bot

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// fakeHandler records what the inbox hands it; a room listed in hold waits, in Handle,
// until its channel is closed.
type fakeHandler struct {
	mu      sync.Mutex
	handled []*state.InboxEntry
	running map[id.RoomID]int // commands of each room running now
	overlap bool              // two commands of one room ran at once
	hold    map[id.RoomID]chan struct{}
	private map[string]bool // bodies to keep out of the records
}

func (h *fakeHandler) IsCommand(body string) bool                 { return true }
func (h *fakeHandler) IsKnownCommand(body string) bool            { return true }
func (h *fakeHandler) WantsReaction(key string) bool              { return true }
func (h *fakeHandler) IsMember(context.Context, id.UserID) bool   { return true }
func (h *fakeHandler) IsPrivate(room id.RoomID, body string) bool { return h.private[body] }
func (h *fakeHandler) bodies(room id.RoomID) (bodies []string)    { return h.filter(room) }
func (h *fakeHandler) count() int                                 { h.mu.Lock(); defer h.mu.Unlock(); return len(h.handled) }
func (h *fakeHandler) entries() []*state.InboxEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.handled)
}
func (h *fakeHandler) filter(room id.RoomID) (bodies []string) {
	for _, e := range h.entries() {
		if e.RoomID == room {
			bodies = append(bodies, e.Body)
		}
	}
	return bodies
}

func (h *fakeHandler) Handle(ctx context.Context, entry *state.InboxEntry) string {
	h.mu.Lock()
	if h.running == nil {
		h.running = make(map[id.RoomID]int)
	}
	h.running[entry.RoomID]++
	if h.running[entry.RoomID] > 1 {
		h.overlap = true
	}
	hold := h.hold[entry.RoomID]
	h.mu.Unlock()
	if hold != nil {
		<-hold
	}
	h.mu.Lock()
	h.running[entry.RoomID]--
	h.handled = append(h.handled, entry)
	h.mu.Unlock()
	return state.OutcomeOK
}

// inboxBot is a Bot with only its database and inbox, for the inbox runner's tests.
func inboxBot(t *testing.T, db *state.DB, h Handler) *Bot {
	t.Helper()
	if db == nil {
		var err error
		if db, err = state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
	}
	b := New(nil, db, service.NewWork(t.Context()), Options{}, zerolog.Nop())
	b.Handle(h)
	return b
}

// runInbox runs b's inbox until the test ends; the returned function stops it as a
// shutdown does: no new commands, the running ones let finish.
func runInbox(t *testing.T, b *Bot) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.RunInbox(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			work := b.work.(*service.Work)
			work.Wait(10 * time.Second)
			work.Stop()
		})
	}
	t.Cleanup(stop)
	return stop
}

func record(t *testing.T, b *Bot, room id.RoomID, body string, sentAt time.Time) *state.InboxEntry {
	t.Helper()
	e := &state.InboxEntry{
		Kind: state.InboxCommand, EventID: id.EventID(fmt.Sprintf("$%s-%s", room, body)), RoomID: room, Sender: "@alice:example.org",
		Body: body, SentAt: sentAt, ReceivedAt: sentAt, Encrypted: true,
	}
	if _, err := b.db.Inbox.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	wake(b.inboxWake)
	return e
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Commands of one room run one at a time, in the order they were sent, while another
// room's commands do not wait for them.
func TestInboxRunsEachRoomInOrderAndRoomsApart(t *testing.T) {
	const slow, quick = id.RoomID("!slow:example.org"), id.RoomID("!quick:example.org")
	release := make(chan struct{})
	h := &fakeHandler{hold: map[id.RoomID]chan struct{}{slow: release}}
	b := inboxBot(t, nil, h)
	t0 := time.Now().Add(time.Minute) // after the bot started: not replayed as late
	for i, body := range []string{"!stop web", "!start web", "!status"} {
		record(t, b, slow, body, t0.Add(time.Duration(i)*time.Second))
	}
	record(t, b, quick, "!ping", t0.Add(10*time.Second))
	stop := runInbox(t, b)

	waitUntil(t, "the other room's command ran", func() bool { return len(h.bodies(quick)) == 1 })
	if got := h.bodies(slow); len(got) != 0 {
		t.Fatalf("the held room's commands finished before it was released: %q", got)
	}
	close(release)
	waitUntil(t, "the held room's commands ran", func() bool { return len(h.bodies(slow)) == 3 })
	if got, want := h.bodies(slow), []string{"!stop web", "!start web", "!status"}; !slices.Equal(got, want) {
		t.Errorf("the room's commands ran as %q, want %q", got, want)
	}
	if h.overlap {
		t.Error("two commands of one room ran at the same time")
	}
	stop()
	for _, e := range h.entries() {
		got, err := b.db.Inbox.Get(t.Context(), e.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != state.InboxDone || got.Outcome != state.OutcomeOK {
			t.Errorf("%s is %s/%s after it ran, want done/ok", e.Body, got.State, got.Outcome)
		}
	}
}

// Two runners over one inbox (a restart racing the old process, say) run each command
// once: it is claimed before it runs.
func TestInboxClaimsEachCommandOnce(t *testing.T) {
	h := &fakeHandler{}
	first := inboxBot(t, nil, h)
	second := inboxBot(t, first.db, h)
	t0 := time.Now().Add(time.Minute)
	const n = 20
	for i := range n {
		record(t, first, id.RoomID(fmt.Sprintf("!room%d:example.org", i%4)), fmt.Sprintf("!ping %d", i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	wake(second.inboxWake)
	runInbox(t, first)
	runInbox(t, second)
	waitUntil(t, "every command ran", func() bool { return h.count() >= n })
	time.Sleep(50 * time.Millisecond) // a second run would show by now
	seen := make(map[id.EventID]int)
	for _, e := range h.entries() {
		seen[e.EventID]++
	}
	if len(seen) != n || h.count() != n {
		t.Fatalf("%d commands ran %d times in all, want each once", len(seen), h.count())
	}
	// A later start finds nothing to run again.
	third := inboxBot(t, first.db, h)
	wake(third.inboxWake)
	runInbox(t, third)
	time.Sleep(100 * time.Millisecond)
	if h.count() != n {
		t.Fatalf("a restart ran %d finished commands again", h.count()-n)
	}
}

// What crosses the seam: the entry as recorded, a command left by a stopped run judged
// as of now, and a private one's text forgotten once it ran.
func TestInboxHandsEntriesToTheHandler(t *testing.T) {
	const room = id.RoomID("!admins:example.org")
	h := &fakeHandler{private: map[string]bool{"!request my words": true}}
	b := inboxBot(t, nil, h)
	before := b.startedAt.Add(-time.Hour) // recorded by the run before this one
	old := record(t, b, room, "!ping", before)
	private := record(t, b, room, "!request my words", time.Now().Add(time.Minute))
	stop := runInbox(t, b)
	waitUntil(t, "both ran", func() bool { return h.count() == 2 })
	stop() // waits for the commands to be finished in the inbox

	got := h.entries()
	if got[0].EventID != old.EventID || got[0].Sender != old.Sender || got[0].Body != old.Body || !got[0].Encrypted {
		t.Errorf("the handler got %+v, want the entry recorded", got[0])
	}
	if got[0].SentAt.Sub(before).Abs() > time.Second || got[0].ReceivedAt.Before(b.startedAt) {
		t.Errorf("a command left by the last run reached the handler received at %s, want as of this run (after %s)", got[0].ReceivedAt, b.startedAt)
	}
	stored, err := b.db.Inbox.Get(t.Context(), private.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Body != "" {
		t.Errorf("a private command's text is kept in the inbox: %q", stored.Body)
	}
	if stored, _ = b.db.Inbox.Get(t.Context(), old.EventID); stored.Body != "!ping" {
		t.Errorf("an ordinary command's text was forgotten: %q", stored.Body)
	}
}
