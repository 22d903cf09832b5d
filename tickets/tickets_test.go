package tickets_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
	"github.com/steward-bot/steward/tickets"
)

const (
	adminRoom id.RoomID = "!admins:x"
	groupRoom id.RoomID = "!group:x"
	alice     id.UserID = "@alice:x"
	bob       id.UserID = "@bob:x"
	carol     id.UserID = "@carol:x"
	dave      id.UserID = "@dave:x"
)

// post is one message queued by the tracker.
type post struct {
	Room      id.RoomID
	ThreadMsg int64
	Plain     string
	HTML      string
	Mentions  []id.UserID
}

// fakeMatrix opens direct chats and queues messages in memory.
type fakeMatrix struct {
	mu       sync.Mutex
	posts    []post
	rooms    map[id.RoomID]id.UserID // direct chat -> member
	failOpen error
	// cantRedact is why Steward lacks the power to redact in the group room.
	cantRedact error
	// failPost refuses to queue messages for this room.
	failPost id.RoomID
	// queue is where redactions are queued, in the caller's transaction, as the
	// bot's outbox does.
	queue *state.Outbox
}

func (f *fakeMatrix) CanRedact(context.Context) error { return f.cantRedact }

func (f *fakeMatrix) QueueRedaction(ctx context.Context, eventID id.EventID, reason string) error {
	_, err := f.queue.Add(ctx, groupRoom, event.EventRedaction, map[string]string{"redacts": eventID.String(), "reason": reason}, "")
	return err
}

// redactions returns the group room's messages whose removal is queued.
func (f *fakeMatrix) redactions(t *testing.T) []id.EventID {
	t.Helper()
	var out []id.EventID
	for {
		m, err := f.queue.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			return out
		}
		var r struct {
			Redacts id.EventID `json:"redacts"`
			Reason  string     `json:"reason"`
		}
		_ = json.Unmarshal(m.Content, &r)
		if m.Type != event.EventRedaction || m.RoomID != groupRoom || r.Reason != tickets.RedactReason {
			t.Errorf("queued %s in %s: %s", m.Type.Type, m.RoomID, m.Content)
		}
		out = append(out, r.Redacts)
		if err = f.queue.MarkSent(t.Context(), m.ID, "$redaction"); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fakeMatrix) OpenDirect(_ context.Context, member id.UserID, _ string) (id.RoomID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failOpen != nil {
		return "", f.failOpen
	}
	room := id.RoomID(fmt.Sprintf("!dm%d-%s", len(f.rooms)+1, member.Localpart()))
	if f.rooms == nil {
		f.rooms = map[id.RoomID]id.UserID{}
	}
	f.rooms[room] = member
	return room, nil
}

func (f *fakeMatrix) Post(_ context.Context, room id.RoomID, threadMsg int64, msg *render.Message, mentions ...id.UserID) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if room == f.failPost {
		return 0, errors.New("database is locked")
	}
	f.posts = append(f.posts, post{Room: room, ThreadMsg: threadMsg, Plain: msg.Plain(), HTML: msg.HTML(), Mentions: mentions})
	return int64(len(f.posts)), nil
}

// in returns what was queued for room, in order.
func (f *fakeMatrix) in(room id.RoomID) []post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []post
	for _, p := range f.posts {
		if p.Room == room {
			out = append(out, p)
		}
	}
	return out
}

type world struct {
	tracker *tickets.Tracker
	mx      *fakeMatrix
	db      *state.DB
	clock   time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	w := &world{mx: &fakeMatrix{queue: db.Outbox}, db: db, clock: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	w.tracker = &tickets.Tracker{
		Settings: tickets.Settings{AdminRoom: adminRoom, GroupRoom: groupRoom, Admins: []id.UserID{alice, bob}, Prefix: "!",
			AbuseDeadline: 24 * time.Hour, RemindBefore: 2 * time.Hour, MaxPerDay: 3},
		Store: db.Tickets, Matrix: w.mx, Once: db.KV, Txn: db.DoTxn, Now: func() time.Time { return w.clock },
	}
	return w
}

// TestTicketLife follows a report from its opening to its decision: the member gets a
// private chat with the ticket's ID, the admins a thread with the text (escaped), the
// member's later words reach the thread, an admin's answer reaches the member, a note
// does not, and the decision is told once.
func TestTicketLife(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	quoted := &tickets.Quoted{Sender: dave, Room: "!group:x", At: w.clock.Add(-time.Hour), Body: "you <script>'re nothing"}
	tk, err := w.tracker.Open(ctx, carol, state.TicketReport, "harassment", "dave keeps <b>insulting</b> me", "$open", quoted, "")
	if err != nil {
		t.Fatal(err)
	}
	if tk.DMRoom == "" || tk.ThreadMsg == 0 || !tk.Deadline.Equal(w.clock.Add(24*time.Hour)) {
		t.Fatalf("opened %+v", tk)
	}
	dm := w.mx.in(tk.DMRoom)
	if len(dm) != 1 || !strings.Contains(dm[0].Plain, "This is ticket "+tk.ID) || strings.Contains(dm[0].Plain, "insulting") {
		t.Errorf("the member's chat got %+v", dm)
	}
	thread := w.mx.in(adminRoom)
	if len(thread) != 1 {
		t.Fatalf("the admin room got %+v", thread)
	}
	start := thread[0]
	for _, want := range []string{"Abuse report " + tk.ID + " (harassment)", "dave keeps <b>insulting</b> me", "you <script>'re nothing", "Answer by"} {
		if !strings.Contains(start.Plain, want) {
			t.Errorf("the thread start lacks %q:\n%s", want, start.Plain)
		}
	}
	if strings.Contains(start.HTML, "<script>") || strings.Contains(start.HTML, "<b>insulting") {
		t.Errorf("member text reached the HTML unescaped:\n%s", start.HTML)
	}

	// Both ways, once per event.
	for range 2 {
		if err = w.tracker.FromMember(ctx, tk, "$more", "and again today"); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.mx.in(adminRoom); len(got) != 2 || got[1].ThreadMsg != tk.ThreadMsg || !strings.Contains(got[1].Plain, "and again today") {
		t.Errorf("the member's message in the thread: %+v", got)
	}
	if err = w.tracker.Note(ctx, tk, alice, "$note", "I know dave, he was warned before"); err != nil {
		t.Fatal(err)
	}
	if err = w.tracker.FromAdmin(ctx, tk, bob, "$answer", "We are looking into it.", false); err != nil {
		t.Fatal(err)
	}
	dm = w.mx.in(tk.DMRoom)
	if len(dm) != 2 || !strings.Contains(dm[1].Plain, "We are looking into it.") || strings.Contains(dm[1].Plain, "bob") {
		t.Errorf("the answer reached the member as %+v (unsigned: no admin named)", dm)
	}
	for _, p := range w.mx.posts {
		if strings.Contains(p.Plain, "he was warned before") {
			t.Errorf("a note was sent: %+v", p)
		}
	}
	if err = w.tracker.FromAdmin(ctx, tk, bob, "$signed", "I'll talk to him.", true); err != nil {
		t.Fatal(err)
	}
	if dm = w.mx.in(tk.DMRoom); !strings.Contains(dm[2].Plain, "@bob:x (an admin)") {
		t.Errorf("a signed answer: %q", dm[2].Plain)
	}

	if err = w.tracker.Take(ctx, tk, bob); err != nil {
		t.Fatal(err)
	}
	if err = w.tracker.Close(ctx, tk, bob, "Dave was warned and his message removed."); err != nil {
		t.Fatal(err)
	}
	if err = w.tracker.Close(ctx, tk, alice, "banned"); !errors.Is(err, tickets.ErrClosed) {
		t.Errorf("a second close: %v", err)
	}
	if err = w.tracker.FromAdmin(ctx, tk, bob, "$late", "one more thing", false); !errors.Is(err, tickets.ErrClosed) {
		t.Errorf("an answer to a closed ticket: %v", err)
	}
	dm = w.mx.in(tk.DMRoom)
	if last := dm[len(dm)-1].Plain; !strings.Contains(last, "is closed") || !strings.Contains(last, "Dave was warned") {
		t.Errorf("the member was told %q", last)
	}
	msgs, err := w.db.Tickets.Messages(ctx, tk.ID)
	if err != nil || len(msgs) != 5 {
		t.Errorf("recorded messages: %d (%v), want 5: open, more, note, answer, signed", len(msgs), err)
	}
}

// TestTicketLimit checks that a flood of tickets is contained, and the admins told
// once.
func TestTicketLimit(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	for i := range 3 {
		if _, err := w.tracker.Open(ctx, carol, state.TicketRequest, "", "help", id.EventID(fmt.Sprintf("$%d", i)), nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if _, err := w.tracker.Open(ctx, carol, state.TicketRequest, "", "help", id.EventID(fmt.Sprintf("$x%d", i)), nil, ""); !errors.Is(err, tickets.ErrTooMany) {
			t.Fatalf("ticket %d over the limit: %v", 4+i, err)
		}
	}
	told := 0
	for _, p := range w.mx.in(adminRoom) {
		if strings.Contains(p.Plain, "opened 3 tickets in a day") {
			told++
		}
	}
	if told != 1 {
		t.Errorf("the admins were told %d times of the flood, want once", told)
	}
	if _, err := w.tracker.Open(ctx, dave, state.TicketRequest, "", "help", "$dave", nil, ""); err != nil {
		t.Errorf("another member is limited too: %v", err)
	}
	w.clock = w.clock.Add(25 * time.Hour)
	if _, err := w.tracker.Open(ctx, carol, state.TicketRequest, "", "help", "$tomorrow", nil, ""); err != nil {
		t.Errorf("the next day: %v", err)
	}
}

// TestTicketOpenFails checks that a ticket whose private chat can't be opened is
// closed at once instead of waiting for an answer nobody can give.
func TestTicketOpenFails(t *testing.T) {
	w := newWorld(t)
	w.mx.failOpen = errors.New("M_FORBIDDEN")
	if _, err := w.tracker.Open(t.Context(), carol, state.TicketRequest, "", "help", "$1", nil, ""); err == nil {
		t.Fatal("Open succeeded without a private chat")
	}
	if open, _ := w.db.Tickets.List(t.Context(), state.TicketFilter{State: state.TicketOpen}); len(open) != 0 {
		t.Errorf("open tickets left: %+v", open)
	}
}

// TestDeadlineReminders checks the reminder before an abuse report's deadline and the
// call to every admin after it, each once, and nothing for requests.
func TestDeadlineReminders(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	report, err := w.tracker.Open(ctx, carol, state.TicketReport, "spam", "spam in the group", "$r", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err = w.tracker.Open(ctx, dave, state.TicketRequest, "", "lost my password", "$q", nil, ""); err != nil {
		t.Fatal(err)
	}
	count := func(substr string) int {
		n := 0
		for _, p := range w.mx.in(adminRoom) {
			if strings.Contains(p.Plain, substr) {
				n++
			}
		}
		return n
	}
	steps := []struct {
		at             time.Duration
		due, overdue   int
		mentionsAdmins bool
	}{
		{at: time.Hour},                          // nothing yet
		{at: 22*time.Hour + time.Minute, due: 1}, // 2 hours before
		{at: 23 * time.Hour, due: 1},             // once
		{at: 24*time.Hour + time.Minute, due: 1, overdue: 1, mentionsAdmins: true},
		{at: 30 * time.Hour, due: 1, overdue: 1},
	}
	start := w.clock
	for _, s := range steps {
		w.clock = start.Add(s.at)
		if err = w.tracker.Remind(ctx); err != nil {
			t.Fatal(err)
		}
		if got := count("is due at"); got != s.due {
			t.Errorf("after %s: %d reminders, want %d", s.at, got, s.due)
		}
		if got := count("has passed"); got != s.overdue {
			t.Errorf("after %s: %d overdue calls, want %d", s.at, got, s.overdue)
		}
	}
	posts := w.mx.in(adminRoom)
	last := posts[len(posts)-1]
	if !strings.Contains(last.Plain, "report "+report.ID) || !slices.Equal(last.Mentions, []id.UserID{alice, bob}) || last.ThreadMsg != report.ThreadMsg {
		t.Errorf("the overdue call: %+v", last)
	}
}

// TestCloseOrphans checks that a ticket a stop left without its rooms is closed at
// start, and the others are left alone.
func TestCloseOrphans(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	good, err := w.tracker.Open(ctx, carol, state.TicketRequest, "", "help", "$1", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	orphan := &state.Ticket{Member: dave, Kind: state.TicketRequest, CreatedAt: w.clock}
	if err = w.db.Tickets.Create(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	opening := &state.Ticket{Member: dave, Kind: state.TicketRequest, CreatedAt: w.clock.Add(time.Minute)}
	if err = w.db.Tickets.Create(ctx, opening); err != nil {
		t.Fatal(err)
	}
	if n, err := w.tracker.CloseOrphans(ctx, w.clock.Add(time.Second)); n != 1 || err != nil {
		t.Fatalf("CloseOrphans = %d, %v; want 1", n, err)
	}
	if got, _ := w.db.Tickets.Get(ctx, orphan.ID); got.State != state.TicketClosed {
		t.Errorf("the orphan is %s", got.State)
	}
	if got, _ := w.db.Tickets.Get(ctx, good.ID); got.State != state.TicketOpen {
		t.Errorf("a set-up ticket was closed")
	}
}

// TestReportInGroupRoomIsRemoved checks that a member's words typed in the group room
// are removed from there once their ticket is open: the removal is queued with the
// ticket's first messages, together or not at all, and the member's first message in
// the ticket's chat says so. Words typed in the admin room or a private chat stay.
func TestReportInGroupRoomIsRemoved(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	tk, err := w.tracker.Open(ctx, carol, state.TicketReport, "spam", "dave posts ads", "$report", nil, groupRoom)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.mx.redactions(t); !slices.Equal(got, []id.EventID{"$report"}) {
		t.Errorf("removals queued: %v, want the report", got)
	}
	if dm := w.mx.in(tk.DMRoom); len(dm) != 1 || !strings.Contains(dm[0].Plain, "Your message in the group room is removed from there") {
		t.Errorf("the member's chat got %+v", dm)
	}
	if posts := w.mx.in(groupRoom); len(posts) != 0 {
		t.Errorf("the group room got %+v", posts)
	}

	// Typed elsewhere, nothing is removed.
	for _, from := range []id.RoomID{adminRoom, ""} {
		if _, err = w.tracker.Open(ctx, alice, state.TicketRequest, "", "help", id.EventID("$in"+from), nil, from); err != nil {
			t.Fatal(err)
		}
	}
	if _, err = w.tracker.Open(ctx, dave, state.TicketRequest, "", "help", "$dm", nil, "!dm-dave:x"); err != nil {
		t.Fatal(err)
	}
	if got := w.mx.redactions(t); len(got) != 0 {
		t.Errorf("removals queued for words outside the group room: %v", got)
	}
	if dm := w.mx.in("!dm-dave:x"); len(dm) != 1 || strings.Contains(dm[0].Plain, "group room") {
		t.Errorf("a ticket from a private chat: %+v", dm)
	}

	// A ticket whose messages can't be queued is not set up, and its removal is
	// not queued either: the command fails, the words stay, nothing is half done.
	w.mx.failPost = adminRoom
	if _, err = w.tracker.Open(ctx, dave, state.TicketReport, "", "spam again", "$failed", nil, groupRoom); err == nil {
		t.Fatal("Open succeeded while the admin room's thread could not be queued")
	}
	if got := w.mx.redactions(t); len(got) != 0 {
		t.Errorf("a removal was queued for a ticket that was not opened: %v", got)
	}
}

// TestReportStaysWithoutPowerToRedact checks what happens when Steward can't remove
// messages from the group room: the member is told their words are still visible and
// that they may delete them, and the admins are told why, once, not at every report.
func TestReportStaysWithoutPowerToRedact(t *testing.T) {
	w := newWorld(t)
	w.tracker.Settings.MaxPerDay = 0
	ctx := t.Context()
	w.mx.cantRedact = errors.New("I can't redact in the group room: that takes power level 50, and I have 0. A room admin can raise mine")
	var dms []id.RoomID
	for i, member := range []id.UserID{carol, dave, carol} {
		tk, err := w.tracker.Open(ctx, member, state.TicketReport, "", "spam", id.EventID(fmt.Sprintf("$r%d", i)), nil, groupRoom)
		if err != nil {
			t.Fatal(err)
		}
		dms = append(dms, tk.DMRoom)
	}
	if got := w.mx.redactions(t); len(got) != 0 {
		t.Errorf("removals queued without the power to do them: %v", got)
	}
	for _, dm := range dms {
		if posts := w.mx.in(dm); len(posts) != 1 || !strings.Contains(posts[0].Plain, "still visible to everyone there") ||
			!strings.Contains(posts[0].Plain, "you may delete it yourself") {
			t.Errorf("the member was told %+v", posts)
		}
	}
	var told []string
	for _, p := range w.mx.in(adminRoom) {
		if p.ThreadMsg == 0 && strings.Contains(p.Plain, "stay visible") {
			told = append(told, p.Plain)
		}
	}
	if len(told) != 1 || !strings.Contains(told[0], "power level 50, and I have 0") || !strings.Contains(told[0], "!report") {
		t.Errorf("the admins were told %q, want once, with the reason", told)
	}
}
