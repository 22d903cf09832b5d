package monitor

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

var (
	_ Store     = (*fakeStore)(nil)
	_ Store     = (*state.Alerts)(nil)
	_ Messenger = (*fakeMessenger)(nil)
	_ Recorder  = (*fakeRecorder)(nil)
	_ Recorder  = (*state.Audit)(nil)
)

// fakeStore keeps alerts in memory the way state.Alerts keeps them in SQLite: it hands
// out copies, Update writes only the changeable fields, Delete forgets only pending
// alerts, IDs are never reused, and one fingerprint has at most one open alert.
type fakeStore struct {
	mu     sync.Mutex
	alerts []*state.Alert // by ID
	lastID int64
}

func (s *fakeStore) Insert(_ context.Context, a *state.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.alerts {
		if b.Fingerprint == a.Fingerprint && b.State != state.AlertResolved {
			return fmt.Errorf("store alert %s: UNIQUE constraint failed: alert.fingerprint", a.Fingerprint)
		}
	}
	s.lastID++
	a.ID = s.lastID
	c := *a
	s.alerts = append(s.alerts, &c)
	return nil
}

func (s *fakeStore) Update(_ context.Context, a *state.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.alerts {
		if b.ID == a.ID {
			b.Severity, b.Worst, b.State, b.Summary, b.Value, b.Hint, b.Public = a.Severity, a.Worst, a.State, a.Summary, a.Value, a.Hint, a.Public
			b.FiredAt, b.ResolvedAt, b.UpdatedAt, b.AckedBy, b.AckedAt, b.Message = a.FiredAt, a.ResolvedAt, a.UpdatedAt, a.AckedBy, a.AckedAt, a.Message
			b.Escalation, b.Announced = a.Escalation, a.Announced
			b.Labels, b.Link, b.Detail = a.Labels, a.Link, a.Detail
		}
	}
	return nil
}

func (s *fakeStore) Delete(_ context.Context, alertID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = slices.DeleteFunc(s.alerts, func(a *state.Alert) bool { return a.ID == alertID && a.State == state.AlertPending })
	return nil
}

// list returns copies of the alerts keep accepts, ordered by by (then ID).
func (s *fakeStore) list(keep func(*state.Alert) bool, by func(*state.Alert) time.Time) []*state.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*state.Alert
	for _, a := range s.alerts {
		if keep(a) {
			c := *a
			out = append(out, &c)
		}
	}
	if by != nil {
		slices.SortStableFunc(out, func(a, b *state.Alert) int {
			return cmp.Or(by(a).Compare(by(b)), cmp.Compare(a.ID, b.ID))
		})
	}
	return out
}

func (s *fakeStore) Open(_ context.Context, check string) ([]*state.Alert, error) {
	return s.list(func(a *state.Alert) bool {
		return a.State != state.AlertResolved && (check == "" || a.Check == check)
	}, func(a *state.Alert) time.Time { return a.Since }), nil
}

func (s *fakeStore) Get(_ context.Context, alertID int64) (*state.Alert, error) {
	list := s.list(func(a *state.Alert) bool { return a.ID == alertID }, nil)
	if len(list) == 0 {
		return nil, nil
	}
	return list[0], nil
}

func (s *fakeStore) OnMessage(_ context.Context, msgID int64) ([]*state.Alert, error) {
	if msgID == 0 {
		return nil, nil
	}
	return s.list(func(a *state.Alert) bool { return a.Message == msgID }, nil), nil
}

// ByMessageEvent maps the event ID "$msg<N>" to the message N, as if the outbox had
// sent message N as that event; any other event ID is no message of ours.
func (s *fakeStore) ByMessageEvent(_ context.Context, eventID id.EventID) ([]*state.Alert, error) {
	msgID, err := strconv.ParseInt(strings.TrimPrefix(string(eventID), "$msg"), 10, 64)
	if !strings.HasPrefix(string(eventID), "$msg") || err != nil || msgID == 0 {
		return nil, nil
	}
	return s.list(func(a *state.Alert) bool { return a.Message == msgID }, nil), nil
}

func (s *fakeStore) Unposted(_ context.Context) ([]*state.Alert, error) {
	return s.list(func(a *state.Alert) bool {
		return a.State == state.AlertFiring && a.Message == 0
	}, func(a *state.Alert) time.Time { return a.FiredAt }), nil
}

func (s *fakeStore) Since(_ context.Context, t time.Time) ([]*state.Alert, error) {
	from := func(at time.Time) bool { return !at.IsZero() && !at.Before(t) }
	return s.list(func(a *state.Alert) bool {
		return from(a.FiredAt) || from(a.ResolvedAt) || (a.State == state.AlertFiring && !a.FiredAt.IsZero())
	}, func(a *state.Alert) time.Time { return a.FiredAt }), nil
}

// all returns every stored alert, resolved ones included.
func (s *fakeStore) all() []*state.Alert {
	return s.list(func(*state.Alert) bool { return true }, nil)
}

// byFingerprint returns the newest alert with fingerprint, or nil.
func (s *fakeStore) byFingerprint(fingerprint string) *state.Alert {
	list := s.list(func(a *state.Alert) bool { return a.Fingerprint == fingerprint }, nil)
	if len(list) == 0 {
		return nil
	}
	return list[len(list)-1]
}

// sentMessage is a message as the room shows it: its text with every edit applied.
type sentMessage struct {
	ID      int64
	Room    id.RoomID
	ReplyTo id.EventID
	Text    string
	HTML    string
	Edits   int
}

type relatedMessage struct {
	To       int64
	Text     string
	Mentions []id.UserID
}

type announcement struct {
	Room id.RoomID
	Text string
}

type sentReaction struct {
	To  int64
	Key string
}

// fakeMessenger records what the engine queues. Messages get IDs from 1, or from newID
// when it is set (the real outbox, in the SQL store test).
type fakeMessenger struct {
	mu        sync.Mutex
	posts     []*sentMessage
	edits     []relatedMessage
	reactions []sentReaction
	followUps []relatedMessage
	announced []announcement
	newID     func(ctx context.Context, msg *render.Message) (int64, error)
}

func (m *fakeMessenger) Post(ctx context.Context, roomID id.RoomID, replyTo, _ id.EventID, msg *render.Message) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msgID := int64(len(m.posts) + 1)
	if m.newID != nil {
		var err error
		if msgID, err = m.newID(ctx, msg); err != nil {
			return 0, err
		}
	}
	m.posts = append(m.posts, &sentMessage{ID: msgID, Room: roomID, ReplyTo: replyTo, Text: msg.Plain(), HTML: msg.HTML()})
	return msgID, nil
}

func (m *fakeMessenger) find(msgID int64) *sentMessage {
	for _, p := range m.posts {
		if p.ID == msgID {
			return p
		}
	}
	return nil
}

func (m *fakeMessenger) Edit(_ context.Context, roomID id.RoomID, msgID int64, msg *render.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.find(msgID)
	if p == nil || p.Room != roomID {
		return fmt.Errorf("edit of message %d in %s, which was never posted there", msgID, roomID)
	}
	p.Text, p.HTML = msg.Plain(), msg.HTML()
	p.Edits++
	m.edits = append(m.edits, relatedMessage{To: msgID, Text: msg.Plain()})
	return nil
}

func (m *fakeMessenger) React(_ context.Context, roomID id.RoomID, msgID int64, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.find(msgID); p == nil || p.Room != roomID {
		return fmt.Errorf("reaction to message %d in %s, which was never posted there", msgID, roomID)
	}
	m.reactions = append(m.reactions, sentReaction{To: msgID, Key: key})
	return nil
}

func (m *fakeMessenger) FollowUp(_ context.Context, roomID id.RoomID, msgID int64, msg *render.Message, mentions ...id.UserID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.find(msgID); p == nil || p.Room != roomID {
		return fmt.Errorf("follow-up to message %d in %s, which was never posted there", msgID, roomID)
	}
	m.followUps = append(m.followUps, relatedMessage{To: msgID, Text: msg.Plain(), Mentions: mentions})
	return nil
}

func (m *fakeMessenger) Announce(_ context.Context, roomID id.RoomID, msg *render.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.announced = append(m.announced, announcement{Room: roomID, Text: msg.Plain()})
	return nil
}

// Posts returns copies of the posted messages as they read now.
func (m *fakeMessenger) Posts() []sentMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sentMessage, 0, len(m.posts))
	for _, p := range m.posts {
		out = append(out, *p)
	}
	return out
}

// Message returns message msgID as it reads now, failing t when there is none.
func (m *fakeMessenger) Message(t *testing.T, msgID int64) sentMessage {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.find(msgID)
	if p == nil {
		t.Fatalf("message %d was never posted", msgID)
	}
	return *p
}

func (m *fakeMessenger) Edits() []relatedMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.edits)
}

func (m *fakeMessenger) Announcements() []announcement {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.announced)
}

func (m *fakeMessenger) Reactions() []sentReaction {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.reactions)
}

func (m *fakeMessenger) FollowUps() []relatedMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.followUps)
}

// fakeRecorder is the decision log.
type fakeRecorder struct {
	mu      sync.Mutex
	entries []state.AuditEntry
}

func (r *fakeRecorder) Append(_ context.Context, e *state.AuditEntry) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.ID = int64(len(r.entries) + 1)
	r.entries = append(r.entries, *e)
	return e.ID, nil
}

func (r *fakeRecorder) Entries() []state.AuditEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.entries)
}

// serialTxn runs one transaction at a time, as SQLite's single writer does; without a
// database there is nothing to roll back.
type serialTxn struct{ mu sync.Mutex }

func (s *serialTxn) do(ctx context.Context, fn func(ctx context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(ctx)
}

const (
	adminRoom = id.RoomID("!admin:example.org")
	groupWait = 30 * time.Second
)

var testSettings = Settings{AdminRoom: adminRoom, Prefix: "!", GroupWait: groupWait}

// harness is an engine over fakes, on the clock time.Now (the fake clock inside a
// synctest bubble).
type harness struct {
	eng   *Engine
	store *fakeStore
	msgr  *fakeMessenger
	audit *fakeRecorder
	txn   *serialTxn
}

func newHarness() *harness {
	h := &harness{store: &fakeStore{}, msgr: &fakeMessenger{}, audit: &fakeRecorder{}, txn: &serialTxn{}}
	h.eng = h.restart()
	return h
}

// restart builds a new engine over the same store and room, as after a crash.
func (h *harness) restart() *Engine {
	h.eng = NewEngine(testSettings, h.store, nil, h.msgr, h.audit, h.txn.do, time.Now)
	return h.eng
}

// apply runs one successful round of check.
func (h *harness) apply(t *testing.T, check string, obs ...Observation) {
	t.Helper()
	if err := h.eng.Apply(t.Context(), check, obs, nil); err != nil {
		t.Fatalf("Apply(%s): %v", check, err)
	}
}

// flush posts what is due and returns when the next flush is.
func (h *harness) flush(t *testing.T) time.Duration {
	t.Helper()
	wait, err := h.eng.Flush(t.Context())
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return wait
}

// open returns the open alerts' fingerprints with their states.
func (h *harness) open(t *testing.T) map[string]state.AlertState {
	t.Helper()
	alerts, err := h.eng.OpenAlerts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]state.AlertState, len(alerts))
	for _, a := range alerts {
		out[a.Fingerprint] = a.State
	}
	return out
}

var diskThreshold = Threshold{Warning: 85, Critical: 95, Margin: 3}

// diskAt is what the disk check reports about path at pct percent used.
func diskAt(path string, pct float64, forDur time.Duration) Observation {
	return Observation{
		Fingerprint: "disk:" + path, Subject: path,
		Summary: fmt.Sprintf("Disk %s is %.1f%% full", path, pct),
		Value:   fmt.Sprintf("%.1f%% used (warning at 85%%, critical at 95%%)", pct),
		For:     forDur, Level: measured(diskThreshold, pct),
	}
}

// down is what an HTTP check reports about a service that does not answer.
func down(name string) Observation {
	return Observation{
		Fingerprint: "http:" + name + ":down", Subject: name, Severity: state.SeverityCritical,
		Summary: name + " does not answer", Value: "connection refused", Public: true,
	}
}

// scriptedCheck reports script(round) in its rounds 0, 1, 2...
type scriptedCheck struct {
	name   string
	every  time.Duration
	script func(round int) ([]Observation, error)
	rounds atomic.Int64
}

func (c *scriptedCheck) Name() string            { return c.name }
func (c *scriptedCheck) Interval() time.Duration { return c.every }

func (c *scriptedCheck) Observe(context.Context) ([]Observation, error) {
	return c.script(int(c.rounds.Add(1) - 1))
}

// lines counts the lines of text that start with prefix.
func lines(text, prefix string) int {
	n := 0
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}

var (
	_ SilenceStore = (*fakeSilences)(nil)
	_ SilenceStore = (*state.Silences)(nil)
)

// fakeSilences keeps silences in memory the way state.Silences keeps them in SQLite:
// it hands out copies, Running lists those not ended yet (even past their end, until
// someone ends them) oldest first, and End succeeds once.
type fakeSilences struct {
	mu   sync.Mutex
	list []*state.Silence
}

func (f *fakeSilences) Add(_ context.Context, s *state.Silence) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.ID = int64(len(f.list) + 1)
	c := *s
	f.list = append(f.list, &c)
	return nil
}

func (f *fakeSilences) End(_ context.Context, silenceID int64, t time.Time, by id.UserID) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.list {
		if s.ID == silenceID && s.EndedAt.IsZero() {
			s.EndedAt, s.EndedBy = t, by
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeSilences) MarkWarned(_ context.Context, silenceID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.list {
		if s.ID == silenceID {
			s.Warned = true
		}
	}
	return nil
}

func (f *fakeSilences) SetUpstream(_ context.Context, silenceID int64, upstream string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.list {
		if s.ID == silenceID {
			s.Upstream = upstream
		}
	}
	return nil
}

func (f *fakeSilences) Unsettled(_ context.Context) ([]*state.Silence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*state.Silence
	for _, s := range f.list {
		if !s.EndedAt.IsZero() && s.Upstream != "" && !s.Settled {
			c := *s
			out = append(out, &c)
		}
	}
	return out, nil
}

func (f *fakeSilences) MarkSettled(_ context.Context, silenceID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.list {
		if s.ID == silenceID {
			s.Settled = true
		}
	}
	return nil
}

func (f *fakeSilences) Running(_ context.Context) ([]*state.Silence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*state.Silence
	for _, s := range f.list {
		if s.EndedAt.IsZero() {
			c := *s
			out = append(out, &c)
		}
	}
	return out, nil
}

func (f *fakeSilences) Get(_ context.Context, silenceID int64) (*state.Silence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.list {
		if s.ID == silenceID {
			c := *s
			return &c, nil
		}
	}
	return nil, nil
}

// newHarnessWith is newHarness with settings of the test's own and a silence store.
// wrap, when set, stands between the engine and h.msgr (to see more of what is sent).
func newHarnessWith(settings Settings, wrap func(*fakeMessenger) Messenger) (*harness, *fakeSilences) {
	h := &harness{store: &fakeStore{}, msgr: &fakeMessenger{}, audit: &fakeRecorder{}, txn: &serialTxn{}}
	silences := &fakeSilences{}
	var msgr Messenger = h.msgr
	if wrap != nil {
		msgr = wrap(h.msgr)
	}
	h.eng = NewEngine(settings, h.store, silences, msgr, h.audit, h.txn.do, time.Now)
	return h, silences
}

// tick runs the engine's periodic work once.
func (h *harness) tick(t *testing.T) {
	t.Helper()
	if err := h.eng.Tick(t.Context()); err != nil {
		t.Fatalf("Tick: %v", err)
	}
}

// runFor lets d pass the way Run does: a Tick every tickEvery, each followed by a
// flush of what is due.
func (h *harness) runFor(t *testing.T, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(min(tickEvery, time.Until(end)))
		h.tick(t)
		h.flush(t)
	}
}
