package approval_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/approval"
	"github.com/steward-bot/steward/policy"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// The admins of these tests and their room.
const (
	room  id.RoomID   = "!admin:example.org"
	alice id.UserID   = "@alice:example.org"
	carol id.UserID   = "@carol:example.org"
	dave  id.UserID   = "@dave:example.org"
	phone id.DeviceID = "PHONE"
	bot   id.UserID   = "@steward:example.org"
)

// messenger queues what the engine says in the real outbox, so that a request message
// gets an event ID a reaction can point at, and keeps the text of each message with
// its edits applied.
type messenger struct {
	db      *state.DB
	mu      sync.Mutex
	texts   map[int64]string
	replies []reply
}

// reply is one reply as the room would see it.
type reply struct {
	replyTo id.EventID
	plain   string
}

var _ approval.Messenger = (*messenger)(nil)

func (m *messenger) Reply(_ context.Context, _ id.RoomID, replyTo, _ id.EventID, msg *render.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.replies = append(m.replies, reply{replyTo: replyTo, plain: msg.Plain()})
	return nil
}

func (m *messenger) Post(ctx context.Context, roomID id.RoomID, replyTo, _ id.EventID, msg *render.Message) (int64, error) {
	msgID, err := m.db.Outbox.Add(ctx, roomID, event.EventMessage, msg.Notice(), replyTo)
	if err != nil {
		return 0, err
	}
	if err = m.db.Outbox.MarkSent(ctx, msgID, sentAs(msgID)); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.texts[msgID] = msg.Plain()
	return msgID, nil
}

func (m *messenger) React(context.Context, id.RoomID, int64, string) error { return nil }

func (m *messenger) Edit(_ context.Context, _ id.RoomID, msgID int64, msg *render.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.texts[msgID]; !ok {
		return fmt.Errorf("edit of unknown message %d", msgID)
	}
	m.texts[msgID] = msg.Plain()
	return nil
}

// takeReplies returns the replies since the last take.
func (m *messenger) takeReplies() []reply {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.replies
	m.replies = nil
	return out
}

// take returns the text of the replies since the last take.
func (m *messenger) take() []string {
	var out []string
	for _, r := range m.takeReplies() {
		out = append(out, r.plain)
	}
	return out
}

func (m *messenger) text(msgID int64) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.texts[msgID]
}

// sentAs is the event ID the request message msgID got when it was sent.
func sentAs(msgID int64) id.EventID {
	return id.EventID(fmt.Sprintf("$request%d", msgID))
}

// decisionLog keeps the entries in memory.
type decisionLog struct {
	mu      sync.Mutex
	entries []*state.AuditEntry
}

func (l *decisionLog) Append(_ context.Context, e *state.AuditEntry) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	e.ID = int64(len(l.entries))
	return e.ID, nil
}

// actions lists the actions and outcomes written since entry n, as "action outcome".
func (l *decisionLog) since(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.entries[n:] {
		out = append(out, e.Action+" "+e.Outcome)
	}
	return out
}

func (l *decisionLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

type once struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (o *once) SetOnce(_ context.Context, key, _ string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[key] {
		return false, nil
	}
	o.seen[key] = true
	return true, nil
}

// runner stands for the dispatcher: it counts the runs of each request, and answers
// as the command would.
type runner struct {
	msgs *messenger
	mu   sync.Mutex
	runs map[string]int
	// long names the commands that run in the background.
	long map[string]bool
}

func (r *runner) RunApproved(ctx context.Context, a *state.Approval) (string, string) {
	r.mu.Lock()
	r.runs[a.ID]++
	r.mu.Unlock()
	if err := r.msgs.Reply(ctx, a.RoomID, a.EventID, a.ThreadRoot, render.New("Wiped "+approval.Arguments(a)+".")); err != nil {
		return state.OutcomeError, err.Error()
	}
	return state.OutcomeOK, ""
}

func (r *runner) Long(command string) bool { return r.long[command] }

func (r *runner) ran(approvalID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[approvalID]
}

// rig is an engine over a real database, with everything else faked.
type rig struct {
	t        *testing.T
	db       *state.DB
	settings approval.Settings
	msgs     *messenger
	log      *decisionLog
	once     *once
	runner   *runner
	now      time.Time
	// background, when set, runs Long commands.
	background func(fn func(ctx context.Context))
	eng        *approval.Engine
}

func newRig(t *testing.T, admins ...id.UserID) *rig {
	t.Helper()
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	msgs := &messenger{db: db, texts: map[int64]string{}}
	r := &rig{
		t: t, db: db,
		settings: approval.Settings{Prefix: "!", Admins: admins, BotUserID: bot, TTL: 30 * time.Minute},
		msgs:     msgs,
		log:      &decisionLog{},
		once:     &once{seen: map[string]bool{}},
		runner:   &runner{msgs: msgs, runs: map[string]int{}, long: map[string]bool{}},
		now:      time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
	}
	r.restart()
	return r
}

// restart builds a new engine over the same stores, as a restart of Steward would.
func (r *rig) restart() {
	r.eng = approval.NewEngine(r.settings, approval.Deps{
		Store: r.db.Approvals, Log: r.log, Messenger: r.msgs, Once: r.once,
		Txn: r.db.DoTxn, Background: r.background, Now: func() time.Time { return r.now },
	})
	r.eng.RunWith(r.runner)
}

// ask has requester ask for "!wipe disk1" under policy, as the dispatcher does, and
// returns the stored request.
func (r *rig) ask(requester id.UserID, policy policy.Policy) *state.Approval {
	r.t.Helper()
	return r.askFor(requester, "wipe", "!wipe disk1", policy)
}

// askFor has requester ask for line, a run of command, under policy.
func (r *rig) askFor(requester id.UserID, command, line string, policy policy.Policy) *state.Approval {
	r.t.Helper()
	terms, refusal := r.eng.Terms(requester, command, policy)
	if refusal != nil {
		r.t.Fatalf("Terms refused: %s", refusal.Plain())
	}
	eventID := id.EventID(fmt.Sprintf("$ask%d", r.log.count()))
	err := r.db.DoTxn(r.t.Context(), func(ctx context.Context) error {
		return r.eng.Ask(ctx, approval.Request{
			Command: command, Line: line, Effect: "erases disk1", Requester: requester, Device: phone,
			RoomID: room, EventID: eventID, At: r.now,
		}, terms, 0)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	a, err := r.db.Approvals.ByRequestEvent(r.t.Context(), sentAs(int64(len(r.msgs.texts))))
	if err != nil || a == nil || a.EventID != eventID {
		r.t.Fatalf("no stored request for %s: %v, %v", eventID, a, err)
	}
	return a
}

// ballot is an answer by command from voter's verified device, sent now.
func (r *rig) ballot(voter id.UserID, approve bool) *approval.Ballot {
	return &approval.Ballot{
		Voter: voter, Device: phone, Verified: true, RoomID: room, EventID: id.EventID("$vote-" + string(voter)),
		SentAt: r.now, Approve: approve, ByCommand: true,
	}
}

func (r *rig) state(a *state.Approval) state.ApprovalState {
	r.t.Helper()
	got, err := r.db.Approvals.Get(r.t.Context(), a.ID)
	if err != nil || got == nil {
		r.t.Fatalf("Get(%s) = %v, %v", a.ID, got, err)
	}
	return got.State
}

// answer is voter's !approve (or !deny) of a, as the dispatcher runs it: the engine's
// answer is the command's reply. It returns the replies it caused.
func (r *rig) answer(voter id.UserID, a *state.Approval, approve bool) []reply {
	r.t.Helper()
	b := r.ballot(voter, approve)
	if msg, _ := r.eng.Vote(r.t.Context(), a.ID, b); msg != nil {
		if err := r.msgs.Reply(r.t.Context(), b.RoomID, b.EventID, b.ThreadRoot, msg); err != nil {
			r.t.Fatal(err)
		}
	}
	return r.msgs.takeReplies()
}

// react puts voter's reaction key on a's request message, from a verified device, on
// time, and returns the outcome for the inbox.
func (r *rig) react(voter id.UserID, a *state.Approval, key string) string {
	b := r.ballot(voter, true)
	b.ByCommand = false
	return r.eng.React(r.t.Context(), &approval.Reaction{Ballot: *b, On: sentAs(a.RequestMsg), Key: key})
}

// find returns the decision log entries of action written since entry n.
func (l *decisionLog) find(n int, action string) []*state.AuditEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*state.AuditEntry
	for _, e := range l.entries[n:] {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// wantReplies fails t unless there is one reply per part, each saying its part.
func wantReplies(t *testing.T, replies []reply, parts ...string) {
	t.Helper()
	if len(replies) != len(parts) {
		t.Errorf("got %d replies, want %d (%q): %+v", len(replies), len(parts), parts, replies)
		return
	}
	for i, part := range parts {
		if !strings.Contains(replies[i].plain, part) {
			t.Errorf("reply %d is %q, want it to say %q", i+1, replies[i].plain, part)
		}
	}
}

func wantContains(t *testing.T, what, got string, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if !strings.Contains(got, part) {
			t.Errorf("%s %q does not say %q", what, got, part)
		}
	}
}

func TestTerms(t *testing.T) {
	tests := []struct {
		name        string
		admins      []id.UserID
		allowSingle bool
		policy      policy.Policy
		// refusal is a part of the expected refusal; none means accepted.
		refusal    string
		needed     int
		selfCounts bool
		text       string
	}{
		{name: "second admin exists", admins: []id.UserID{alice, carol}, policy: policy.Policy{Kind: policy.SecondAdmin},
			needed: 1, text: "second_admin"},
		{name: "confirm needs nobody else", admins: []id.UserID{alice}, policy: policy.Policy{Kind: policy.Confirm},
			needed: 1, selfCounts: true, text: "confirm"},
		{name: "alone", admins: []id.UserID{alice}, policy: policy.Policy{Kind: policy.SecondAdmin},
			refusal: "`!wipe` needs the approval of one other admin, but no second admin exists"},
		{name: "too few for a quorum", admins: []id.UserID{alice, carol}, policy: policy.Policy{Kind: policy.Quorum, N: 2},
			refusal: "needs the approval of 2 other admins, but only 1 other admin is configured. Add admins to matrix.admins, or loosen policy.commands.wipe."},
		{name: "alone, allowed to confirm", admins: []id.UserID{alice}, allowSingle: true, policy: policy.Policy{Kind: policy.Quorum, N: 2},
			needed: 1, selfCounts: true, text: "quorum:2, confirmed alone (policy.allow_single_admin)"},
		{name: "allowed alone, but not alone", admins: []id.UserID{alice, carol}, allowSingle: true, policy: policy.Policy{Kind: policy.Quorum, N: 2},
			refusal: "only 1 other admin is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.admins...)
			r.settings.AllowSingleAdmin = tt.allowSingle
			r.restart()
			terms, refusal := r.eng.Terms(alice, "wipe", tt.policy)
			if tt.refusal != "" {
				if refusal == nil {
					t.Fatalf("accepted with %+v", terms)
				}
				wantContains(t, "refusal", refusal.Plain(), tt.refusal)
				return
			}
			if refusal != nil {
				t.Fatalf("refused: %s", refusal.Plain())
			}
			if terms.Needed != tt.needed || terms.SelfCounts != tt.selfCounts || terms.Policy != tt.text {
				t.Errorf("terms %+v, want %d approvals (self counts: %v) under %q", terms, tt.needed, tt.selfCounts, tt.text)
			}
		})
	}
}

// TestAskRecordsTheRequest: asking writes the request, its decision log entry as a
// child of the command's, and the message the admins answer.
func TestAskRecordsTheRequest(t *testing.T) {
	r := newRig(t, alice, carol)
	a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
	if a.State != state.ApprovalOpen || a.Needed != 1 || a.SelfCounts || !a.ExpiresAt.Equal(r.now.Add(30*time.Minute)) {
		t.Errorf("request %+v", a)
	}
	if got := r.log.since(0); len(got) != 1 || got[0] != "approval.request ok" || a.AuditID != 1 {
		t.Errorf("decision log %v (request entry %d), want one approval.request", got, a.AuditID)
	}
	wantContains(t, "request message", r.msgs.text(a.RequestMsg), "Approval needed: "+a.ID, "erases disk1", "`!approve "+a.ID+"`")
}

// TestApprovedRunsOnce: the approval that meets the policy runs the command once,
// through the runner, and records it; an answer after that runs nothing.
func TestApprovedRunsOnce(t *testing.T) {
	r := newRig(t, alice, carol, dave)
	a := r.ask(alice, policy.Policy{Kind: policy.Quorum, N: 2})
	n := r.log.count()

	reply, outcome := r.eng.Vote(t.Context(), a.ID, r.ballot(carol, true))
	if outcome != state.OutcomeOK || reply.Plain() != "Counted your approval of "+a.ID+": 1 of 2 so far." {
		t.Errorf("first approval: %q, %q", outcome, reply.Plain())
	}
	if r.runner.ran(a.ID) != 0 {
		t.Fatal("ran on the first of two approvals")
	}
	reply, outcome = r.eng.Vote(t.Context(), a.ID, r.ballot(dave, true))
	if outcome != state.OutcomeOK || reply != nil {
		t.Errorf("second approval: %q, %v; want ok and the reply queued with the decision", outcome, reply)
	}
	wantReplies(t, r.msgs.takeReplies(), "Approved "+a.ID+"; running `!wipe disk1` now.", "Wiped disk1.")
	if r.runner.ran(a.ID) != 1 || r.state(a) != state.ApprovalDone {
		t.Errorf("ran %d times, state %s; want once, done", r.runner.ran(a.ID), r.state(a))
	}
	want := []string{"approval.vote ok", "approval.vote ok", "approval.approved ok", "command.wipe ok"}
	if got := r.log.since(n); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("decision log %v, want %v", got, want)
	}
	wantContains(t, "request message", r.msgs.text(a.RequestMsg), "Done: "+a.ID, "Approved by @carol:example.org, @dave:example.org", "Result: done")

	reply, outcome = r.eng.Vote(t.Context(), a.ID, r.ballot(carol, true))
	if outcome != state.OutcomeRefused || reply.Plain() != a.ID+" is approved and done; it can't be answered any more." {
		t.Errorf("late answer: %q, %q", outcome, reply.Plain())
	}
	if r.runner.ran(a.ID) != 1 {
		t.Errorf("ran %d times after a late answer, want once", r.runner.ran(a.ID))
	}
}

// TestRacingVotesRunOnce: admins answering at the same moment make one approval and
// one run, however the answers interleave.
func TestRacingVotesRunOnce(t *testing.T) {
	admins := []id.UserID{alice, carol, dave, "@erin:example.org", "@frank:example.org"}
	r := newRig(t, admins...)
	for range 5 {
		a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, voter := range admins[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r.eng.Vote(t.Context(), a.ID, r.ballot(voter, true))
			}()
		}
		close(start)
		wg.Wait()
		if got := r.runner.ran(a.ID); got != 1 {
			t.Fatalf("%s ran %d times, want once", a.ID, got)
		}
	}
}

// TestReactions: a reaction counts like a command, except from someone who is not an
// admin or when it arrived too late; a reaction to any other message is ignored.
func TestReactions(t *testing.T) {
	r := newRig(t, alice, carol)
	a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
	react := func(voter id.UserID, on id.EventID, late string) string {
		b := r.ballot(voter, true)
		b.ByCommand = false
		return r.eng.React(t.Context(), &approval.Reaction{Ballot: *b, On: on, Key: approval.ReactionApprove, Late: late})
	}
	if got := react(carol, "$something-else", ""); got != state.OutcomeIgnored {
		t.Errorf("reaction to another message: %q, want ignored", got)
	}
	n := r.log.count()
	if got := react("@mallory:example.org", sentAs(a.RequestMsg), ""); got != state.OutcomeRefused {
		t.Errorf("stranger's reaction: %q, want refused", got)
	}
	if got := r.log.since(n); len(got) != 1 || got[0] != "approval.vote refused" {
		t.Errorf("decision log %v, want the refused vote", got)
	}
	if got := react(carol, sentAs(a.RequestMsg), "15 minutes"); got != state.OutcomeStale {
		t.Errorf("late reaction: %q, want stale", got)
	}
	if got := r.msgs.take(); len(got) != 1 || !strings.Contains(got[0], ": your ✅ on "+a.ID+" reached me 15 minutes after you sent it, so I did not count it. Answer again with `!approve "+a.ID+"`") {
		t.Errorf("replies %q", got)
	}
	if r.runner.ran(a.ID) != 0 || r.state(a) != state.ApprovalOpen {
		t.Fatalf("a refused or late reaction ran the command")
	}
	if got := react(carol, sentAs(a.RequestMsg), ""); got != state.OutcomeOK || r.runner.ran(a.ID) != 1 {
		t.Errorf("carol's reaction: %q, ran %d times; want ok, once", got, r.runner.ran(a.ID))
	}
}

func TestQuorumNeedsDifferentAdmins(t *testing.T) {
	r := newRig(t, alice, carol, dave)
	a := r.askFor(alice, "purge", "!purge disk1", policy.Policy{Kind: policy.Quorum, N: 2})
	wantContains(t, "request message", r.msgs.text(a.RequestMsg), "Needs the approval of 2 admins other than @alice:example.org.")

	wantReplies(t, r.answer(alice, a, true), "your approval doesn't count: 2 other admins must approve it")

	if got := r.react(carol, a, approval.ReactionApprove); got != state.OutcomeOK {
		t.Errorf("carol's ✅: outcome %q", got)
	}
	wantContains(t, "request message", r.msgs.text(a.RequestMsg), "Approval needed: "+a.ID, "(1 so far: @carol:example.org)")

	wantReplies(t, r.answer(carol, a, true), "You have already answered "+a.ID+"; your first answer stands.")
	before := r.log.count()
	if got := r.react(carol, a, approval.ReactionApprove); got != state.OutcomeRefused {
		t.Errorf("carol's second ✅: outcome %q, want %q", got, state.OutcomeRefused)
	}
	if votes := r.log.find(before, "approval.vote"); len(votes) != 1 || votes[0].Detail != "already answered" {
		t.Errorf("carol's second ✅ audited as %+v, want one refused vote, already answered", votes)
	}
	if r.runner.ran(a.ID) != 0 {
		t.Fatalf("ran with one approval, needs two")
	}
	if got := r.state(a); got != state.ApprovalOpen {
		t.Errorf("request is %s, want open", got)
	}

	replies := r.answer(dave, a, true)
	if r.runner.ran(a.ID) != 1 {
		t.Fatalf("ran %d times after two approvals, want once", r.runner.ran(a.ID))
	}
	wantReplies(t, replies, "Approved "+a.ID+"; running `!purge disk1` now.", "Wiped disk1.")
	wantContains(t, "request message", r.msgs.text(a.RequestMsg), "Done: "+a.ID, "Approved by @carol:example.org, @dave:example.org at 12:00 UTC")
}

// TestExpiry: a request nobody answered in time closes, in Steward's name, and the
// requester is told, once; an answer after that does not count.
func TestExpiry(t *testing.T) {
	t.Run("closed by ExpireDue", func(t *testing.T) {
		r := newRig(t, alice, carol)
		a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})

		r.now = r.now.Add(29 * time.Minute)
		noError(t, r.eng.ExpireDue(t.Context()))
		if got := r.state(a); got != state.ApprovalOpen {
			t.Errorf("request is %s before its time, want open", got)
		}
		wantReplies(t, r.msgs.takeReplies())

		r.now = r.now.Add(2 * time.Minute)
		noError(t, r.eng.ExpireDue(t.Context()))
		if got := r.state(a); got != state.ApprovalExpired {
			t.Errorf("request is %s after its time, want expired", got)
		}
		replies := r.msgs.takeReplies()
		wantReplies(t, replies, "@alice:example.org: your request "+a.ID+" expired without enough approvals, so `!wipe disk1` did not run. Ask again if it is still needed.")
		if len(replies) == 1 && replies[0].replyTo != a.EventID {
			t.Errorf("expiry notice replies to %s, want the request's command %s", replies[0].replyTo, a.EventID)
		}
		wantContains(t, "request message", r.msgs.text(a.RequestMsg), "Expired: "+a.ID, "Expired at 12:30 UTC with 0 of 1 approvals. It will not run.")

		noError(t, r.eng.ExpireDue(t.Context()))
		wantReplies(t, r.msgs.takeReplies())

		wantReplies(t, r.answer(carol, a, true), a.ID+" is expired; it can't be answered any more.")
		if got := r.react(carol, a, approval.ReactionApprove); got != state.OutcomeRefused {
			t.Errorf("✅ on an expired request: outcome %q, want %q", got, state.OutcomeRefused)
		}
		if r.runner.ran(a.ID) != 0 {
			t.Errorf("an expired request ran")
		}
	})

	t.Run("closed by a late answer", func(t *testing.T) {
		r := newRig(t, alice, carol)
		a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
		r.now = r.now.Add(31 * time.Minute)
		wantReplies(t, r.answer(carol, a, true),
			"@alice:example.org: your request "+a.ID+" expired without enough approvals",
			a.ID+" is expired; it can't be answered any more.")
		if got := r.state(a); got != state.ApprovalExpired {
			t.Errorf("request is %s, want expired", got)
		}
		wantContains(t, "request message", r.msgs.text(a.RequestMsg), "Expired: "+a.ID)
		if r.runner.ran(a.ID) != 0 {
			t.Errorf("an approval sent after the request expired ran it")
		}
	})
}

// TestResume: after a restart, a command approved but not started runs, once; one
// that was running is closed as interrupted and never run again; one that expired
// meanwhile is closed.
func TestResume(t *testing.T) {
	t.Run("approved, not started", func(t *testing.T) {
		r := newRig(t, alice, carol)
		a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
		// Steward stopped after committing carol's approval, before running the command.
		ctx := t.Context()
		orFatal(r.db.Approvals.AddVote(ctx, &state.Vote{ApprovalID: a.ID, Voter: carol, DeviceID: phone, EventID: "$yes", Approve: true, Time: r.now}))(t)
		if !orFatal(r.db.Approvals.Move(ctx, a.ID, state.ApprovalOpen, state.ApprovalApproved, state.Decision{By: carol, At: r.now}))(t) {
			t.Fatal("could not approve")
		}

		r.restart()
		noError(t, r.eng.Resume(ctx))
		if r.runner.ran(a.ID) != 1 {
			t.Fatalf("ran %d times after resuming, want once", r.runner.ran(a.ID))
		}
		wantReplies(t, r.msgs.takeReplies(), "Wiped disk1.")
		if got := r.state(a); got != state.ApprovalDone {
			t.Errorf("request is %s, want done", got)
		}
		wantContains(t, "request message", r.msgs.text(a.RequestMsg), "Done: "+a.ID, "Approved by @carol:example.org")

		r.restart()
		noError(t, r.eng.Resume(ctx))
		if r.runner.ran(a.ID) != 1 {
			t.Errorf("ran %d times after resuming twice, want once", r.runner.ran(a.ID))
		}
	})

	t.Run("interrupted while running", func(t *testing.T) {
		r := newRig(t, alice, carol)
		a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
		ctx := t.Context()
		orFatal(r.db.Approvals.AddVote(ctx, &state.Vote{ApprovalID: a.ID, Voter: carol, DeviceID: phone, EventID: "$yes", Approve: true, Time: r.now}))(t)
		for _, move := range [][2]state.ApprovalState{{state.ApprovalOpen, state.ApprovalApproved}, {state.ApprovalApproved, state.ApprovalExecuting}} {
			if !orFatal(r.db.Approvals.Move(ctx, a.ID, move[0], move[1], state.Decision{By: carol, At: r.now}))(t) {
				t.Fatalf("could not move %s to %s", move[0], move[1])
			}
		}
		before := r.log.count()

		r.restart()
		noError(t, r.eng.Resume(ctx))
		if r.runner.ran(a.ID) != 0 {
			t.Fatalf("a command interrupted by a stop ran again")
		}
		wantReplies(t, r.msgs.takeReplies(), "Steward stopped while it was running "+a.ID+" (`!wipe disk1`), so its result is unknown. I did not run it again")
		if got := orFatal(r.db.Approvals.Get(ctx, a.ID))(t); got.State != state.ApprovalDone || got.Outcome != state.OutcomeInterrupted {
			t.Errorf("request is %s/%s, want done/%s", got.State, got.Outcome, state.OutcomeInterrupted)
		}
		wantContains(t, "request message", r.msgs.text(a.RequestMsg), "Interrupted: "+a.ID, "Result: unknown, Steward stopped while it ran (not run again).")
		if ran := r.log.find(before, "command.wipe"); len(ran) != 1 || ran[0].Outcome != state.OutcomeInterrupted {
			t.Errorf("command.wipe entries %+v, want one interrupted", ran)
		}

		r.restart()
		noError(t, r.eng.Resume(ctx))
		wantReplies(t, r.msgs.takeReplies())
		if r.runner.ran(a.ID) != 0 {
			t.Errorf("ran after the second resume")
		}
	})

	t.Run("expired while stopped", func(t *testing.T) {
		r := newRig(t, alice, carol)
		a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
		r.now = r.now.Add(time.Hour)
		r.restart()
		noError(t, r.eng.Resume(t.Context()))
		if got := r.state(a); got != state.ApprovalExpired {
			t.Errorf("request is %s, want expired", got)
		}
		wantReplies(t, r.msgs.takeReplies(), "expired without enough approvals")
	})
}

// orFatal returns v, failing t on err.
func orFatal[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLongCommandsRunInTheBackground: an approved Long command runs through Background,
// so the answer that approved it returns at once.
func TestLongCommandsRunInTheBackground(t *testing.T) {
	r := newRig(t, alice, carol)
	var queued []func(ctx context.Context)
	r.background = func(fn func(ctx context.Context)) { queued = append(queued, fn) }
	r.runner.long["wipe"] = true
	r.restart()
	a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
	if _, outcome := r.eng.Vote(t.Context(), a.ID, r.ballot(carol, true)); outcome != state.OutcomeOK {
		t.Fatalf("approval: %q", outcome)
	}
	if len(queued) != 1 || r.runner.ran(a.ID) != 0 || r.state(a) != state.ApprovalApproved {
		t.Fatalf("queued %d, ran %d, state %s; want it queued, not yet run", len(queued), r.runner.ran(a.ID), r.state(a))
	}
	queued[0](t.Context())
	if r.runner.ran(a.ID) != 1 || r.state(a) != state.ApprovalDone {
		t.Errorf("ran %d, state %s; want once, done", r.runner.ran(a.ID), r.state(a))
	}
}

// TestApprovedIsClaimedOnce: resumes racing over one approved request (a restart while
// another run still goes) run it once: the move to executing is the claim.
func TestApprovedIsClaimedOnce(t *testing.T) {
	r := newRig(t, alice, carol)
	ctx := t.Context()
	for range 5 {
		a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
		if ok, err := r.db.Approvals.Move(ctx, a.ID, state.ApprovalOpen, state.ApprovalApproved, state.Decision{By: carol, At: r.now}); err != nil || !ok {
			t.Fatalf("approve %s: %v, %v", a.ID, ok, err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := r.eng.Resume(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if got := r.runner.ran(a.ID); got != 1 {
			t.Fatalf("%s ran %d times, want once", a.ID, got)
		}
	}
}

// TestUnverifiedCancelDoesNotCount: withdrawing a request changes something, so a ❌
// from the requester's unverified device (a session made with a stolen password, say)
// leaves the request open; from a verified one it cancels.
func TestUnverifiedCancelDoesNotCount(t *testing.T) {
	r := newRig(t, alice, carol)
	a := r.ask(alice, policy.Policy{Kind: policy.SecondAdmin})
	b := r.ballot(alice, false)
	b.ByCommand, b.Verified = false, false
	if got := r.eng.React(t.Context(), &approval.Reaction{Ballot: *b, On: sentAs(a.RequestMsg), Key: approval.ReactionDeny}); got != state.OutcomeRefused {
		t.Errorf("❌ from the requester's unverified device: %q, want refused", got)
	}
	if got := r.state(a); got != state.ApprovalOpen {
		t.Fatalf("request is %s after an unverified ❌, want open", got)
	}
	b.Verified, b.EventID = true, "$verified-cancel"
	if got := r.eng.React(t.Context(), &approval.Reaction{Ballot: *b, On: sentAs(a.RequestMsg), Key: approval.ReactionDeny}); got != state.OutcomeOK {
		t.Errorf("❌ from the requester's verified device: %q, want ok", got)
	}
	if got := r.state(a); got != state.ApprovalCancelled {
		t.Errorf("request is %s after a verified ❌, want cancelled", got)
	}
}
