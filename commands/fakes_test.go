package commands_test

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

	"github.com/steward-bot/steward/approval"
	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/policy"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// The people and rooms of a small group: one admin, one member, one stranger.
const (
	adminRoom id.RoomID = "!admin:example.org"
	groupRoom id.RoomID = "!group:example.org"

	admin    id.UserID = "@alice:example.org"
	member   id.UserID = "@bob:example.org"
	stranger id.UserID = "@mallory:example.org"

	device id.DeviceID = "BOBPHONE"
)

// sentReply is one reply as a room member would see it.
type sentReply struct {
	Room       id.RoomID
	ReplyTo    id.EventID
	ThreadRoot id.EventID
	Plain      string
	HTML       string
}

// fakeMessenger records what would be sent instead of sending it. Messages posted
// for later edits are numbered like outbox IDs.
type fakeMessenger struct {
	mu      sync.Mutex
	replies []sentReply
	// posts holds the current text of each posted message, by ID (from 1), with edits
	// applied; reactions holds the keys added to each.
	posts     []string
	reactions map[int64][]string
	edits     int
	// announced holds what went to a room as an announcement.
	announced []sentReply
	// followUps holds the replies to posted messages (an alert's resolution or call).
	followUps []sentReply
}

var _ commands.Messenger = (*fakeMessenger)(nil)

func (f *fakeMessenger) Reply(_ context.Context, roomID id.RoomID, replyTo, threadRoot id.EventID, msg *render.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, sentReply{Room: roomID, ReplyTo: replyTo, ThreadRoot: threadRoot, Plain: msg.Plain(), HTML: msg.HTML()})
	return nil
}

func (f *fakeMessenger) Post(_ context.Context, _ id.RoomID, _, _ id.EventID, msg *render.Message) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts = append(f.posts, msg.Plain())
	return int64(len(f.posts)), nil
}

func (f *fakeMessenger) React(_ context.Context, _ id.RoomID, msgID int64, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reactions == nil {
		f.reactions = make(map[int64][]string)
	}
	f.reactions[msgID] = append(f.reactions[msgID], key)
	return nil
}

func (f *fakeMessenger) Edit(_ context.Context, _ id.RoomID, msgID int64, msg *render.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if msgID < 1 || int(msgID) > len(f.posts) {
		return fmt.Errorf("edit of unknown message %d", msgID)
	}
	f.posts[msgID-1] = msg.Plain()
	f.edits++
	return nil
}

func (f *fakeMessenger) Announce(_ context.Context, roomID id.RoomID, msg *render.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.announced = append(f.announced, sentReply{Room: roomID, Plain: msg.Plain(), HTML: msg.HTML()})
	return nil
}

// post returns the current text of posted message msgID.
func (f *fakeMessenger) post(msgID int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if msgID < 1 || int(msgID) > len(f.posts) {
		return ""
	}
	return f.posts[msgID-1]
}

// take returns the replies sent since the last take.
func (f *fakeMessenger) take() []sentReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.replies
	f.replies = nil
	return out
}

// fakeRooms knows who is joined where and which rooms are encrypted. A room missing
// from encrypted counts as encrypted.
type fakeRooms struct {
	joined      map[id.RoomID][]id.UserID
	unencrypted map[id.RoomID]bool
}

var _ commands.Rooms = (*fakeRooms)(nil)

func (f *fakeRooms) IsJoined(_ context.Context, roomID id.RoomID, userID id.UserID) bool {
	return slices.Contains(f.joined[roomID], userID)
}

func (f *fakeRooms) IsEncrypted(_ context.Context, roomID id.RoomID) (bool, error) {
	return !f.unencrypted[roomID], nil
}

// fakeAudit keeps the audit log in memory.
type fakeAudit struct {
	mu      sync.Mutex
	entries []*state.AuditEntry
}

var _ commands.Recorder = (*fakeAudit)(nil)

func (f *fakeAudit) Append(_ context.Context, e *state.AuditEntry) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, e)
	e.ID = int64(len(f.entries))
	return e.ID, nil
}

func (f *fakeAudit) Find(_ context.Context, filter state.AuditFilter) ([]*state.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*state.AuditEntry
	for i := len(f.entries) - 1; i >= 0 && len(out) < filter.Limit; i-- {
		if filter.Matches(f.entries[i]) {
			out = append(out, f.entries[i])
		}
	}
	return out, nil
}

// Verify reports the entries as intact: the fake has no hash chain.
func (f *fakeAudit) Verify(_ context.Context) (int, error) {
	return f.count(), nil
}

func (f *fakeAudit) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.entries)
}

func (f *fakeAudit) last() *state.AuditEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) == 0 {
		return nil
	}
	return f.entries[len(f.entries)-1]
}

// fakeOnce is a KV store's SetOnce over a map.
type fakeOnce struct {
	mu     sync.Mutex
	values map[string]string
}

var _ commands.OnceStore = (*fakeOnce)(nil)

func (f *fakeOnce) SetOnce(_ context.Context, key, value string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.values[key]; ok {
		return false, nil
	}
	if f.values == nil {
		f.values = make(map[string]string)
	}
	f.values[key] = value
	return true, nil
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a Processor wired to fakes, with the admin configured by Matrix ID and the
// member joined to the group room.
type harness struct {
	t        *testing.T
	settings commands.Settings
	registry *commands.Registry
	limiter  *commands.Limiter
	// reactions paces reactions from everyone but admins; nil for no limit.
	reactions *commands.Limiter
	clock     *fakeClock
	replier   *fakeMessenger
	rooms     *fakeRooms
	db        *state.DB
	audit     *fakeAudit
	once      *fakeOnce
	proc      *commands.Processor
	// engine is the approval stage of proc, built with it; approvalTTL and
	// allowSingleAdmin are its settings that the dispatcher's do not hold.
	engine           *approval.Engine
	approvalTTL      time.Duration
	allowSingleAdmin bool
	events           int
	// background runs Long commands, as the bot's does; nil runs them in the queue.
	background func(fn func(ctx context.Context))
}

// newHarness builds a processor for reg; tweak may change the settings, rooms, limiter
// or stores before the processor is built.
func newHarness(t *testing.T, reg *commands.Registry, tweak ...func(*harness)) *harness {
	t.Helper()
	clock := newClock()
	h := &harness{
		t: t,
		settings: commands.Settings{
			Prefix:          "!",
			Admins:          []id.UserID{admin},
			AdminRoom:       adminRoom,
			GroupRoom:       groupRoom,
			BotUserID:       "@steward:example.org",
			StaleAfter:      10 * time.Minute,
			RequireVerified: true,
		},
		approvalTTL: 30 * time.Minute,
		registry:    reg,
		limiter:     commands.NewLimiter(100, 600, clock.Now),
		clock:       clock,
		replier:     &fakeMessenger{},
		rooms: &fakeRooms{
			joined: map[id.RoomID][]id.UserID{
				adminRoom: {admin},
				groupRoom: {admin, member},
			},
			unencrypted: map[id.RoomID]bool{},
		},
		audit: &fakeAudit{},
		once:  &fakeOnce{},
	}
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	h.db = db
	for _, f := range tweak {
		f(h)
	}
	h.restart()
	return h
}

// restart builds a new processor over the same stores, as a restart of Steward would.
func (h *harness) restart() {
	h.proc = commands.NewProcessor(h.settings, h.registry, h.deps())
}

// deps are the processor's dependencies, with a new approval engine over the stores.
func (h *harness) deps() commands.Deps {
	h.engine = approval.NewEngine(approval.Settings{
		Prefix: h.settings.Prefix, Admins: h.settings.Admins, BotUserID: h.settings.BotUserID,
		TTL: h.approvalTTL, AllowSingleAdmin: h.allowSingleAdmin,
	}, approval.Deps{
		Store: h.db.Approvals, Log: h.audit, Messenger: h.replier, Once: h.once,
		Txn: h.db.DoTxn, Background: h.background, Now: h.clock.Now,
	})
	return commands.Deps{
		Messenger: h.replier, Rooms: h.rooms, Audit: h.audit, Once: h.once,
		Approvals: h.engine, Requests: h.db.Approvals, Txn: h.db.DoTxn, Limiter: h.limiter, Reactions: h.reactions, Now: h.clock.Now,
		Background: h.background,
	}
}

// input is body sent a second ago from sender's cross-signed device, encrypted.
func (h *harness) input(sender id.UserID, room id.RoomID, body string) *commands.Input {
	h.events++
	now := h.clock.Now()
	return &commands.Input{
		Body:       body,
		Sender:     sender,
		DeviceID:   device,
		Trust:      id.TrustStateCrossSignedTOFU,
		Encrypted:  true,
		RoomID:     room,
		EventID:    id.EventID(fmt.Sprintf("$event%d", h.events)),
		SentAt:     now.Add(-time.Second),
		ReceivedAt: now.Add(-time.Second + 200*time.Millisecond),
	}
}

// handle runs in and returns the replies it caused and its audit entry. Every command
// must leave exactly one audit entry.
func (h *harness) handle(in *commands.Input) ([]sentReply, *state.AuditEntry) {
	h.t.Helper()
	before := h.audit.count()
	outcome := h.proc.Handle(h.t.Context(), in)
	if n := h.audit.count() - before; n != 1 {
		h.t.Fatalf("%q left %d audit entries, want 1", in.Body, n)
	}
	entry := h.audit.last()
	if entry.Outcome != outcome {
		h.t.Errorf("%q: Handle returned %q but audited %q", in.Body, outcome, entry.Outcome)
	}
	return h.replier.take(), entry
}

// send is handle for a plain command from sender in room.
func (h *harness) send(sender id.UserID, room id.RoomID, body string) ([]sentReply, *state.AuditEntry) {
	h.t.Helper()
	return h.handle(h.input(sender, room, body))
}

// probe is a command that records that it ran and, optionally, fails or panics.
type probe struct {
	runs int
	last *commands.Event
}

// command is a read-only command, or a destructive one (which changes something).
func (p *probe) command(name string, role commands.Role, destructive bool, do func(ctx context.Context, ce *commands.Event) error) *commands.Command {
	effect := commands.ReadsOnly
	if destructive {
		effect = commands.Changes
	}
	return p.declared(name, role, effect, destructive, do)
}

// changing is a command that changes something but is not destructive: it needs a
// verified device and no approval (!silence, !ack).
func (p *probe) changing(name string, role commands.Role) *commands.Command {
	return p.declared(name, role, commands.Changes, false, nil)
}

func (p *probe) declared(name string, role commands.Role, effect commands.Effect, destructive bool, do func(ctx context.Context, ce *commands.Event) error) *commands.Command {
	return &commands.Command{
		Name:        name,
		Section:     commands.SectionGeneral,
		Help:        "Test command " + name,
		Role:        role,
		Effect:      effect,
		Destructive: destructive,
		Policy:      policy.Policy{Kind: policy.None},
		Func: func(ctx context.Context, ce *commands.Event) error {
			p.runs++
			p.last = ce
			if do != nil {
				return do(ctx, ce)
			}
			return nil
		},
	}
}

// pick is a registry of the commands of reg named names, in that order, for a test
// that wants a few of them registered as Builtin registers them.
func pick(reg *commands.Registry, names ...string) *commands.Registry {
	cmds := make([]*commands.Command, 0, len(names))
	for _, name := range names {
		cmd := reg.Lookup(name)
		if cmd == nil {
			panic("no command " + name)
		}
		cmds = append(cmds, cmd)
	}
	return commands.NewRegistry(cmds...)
}

// onlyReply returns the single reply in replies, failing the test otherwise.
func onlyReply(t *testing.T, replies []sentReply) sentReply {
	t.Helper()
	if len(replies) != 1 {
		t.Fatalf("got %d replies, want 1: %+v", len(replies), replies)
	}
	return replies[0]
}

var _ monitor.Messenger = (*fakeMessenger)(nil)

func (f *fakeMessenger) FollowUp(_ context.Context, roomID id.RoomID, msgID int64, msg *render.Message, _ ...id.UserID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if msgID < 1 || int(msgID) > len(f.posts) {
		return fmt.Errorf("follow-up to unknown message %d", msgID)
	}
	f.followUps = append(f.followUps, sentReply{Room: roomID, Plain: msg.Plain(), HTML: msg.HTML()})
	return nil
}
