package state_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
)

var approvalBase = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// newApproval is a request for !wipe asked by the command event eventID, expiring at
// expires.
func newApproval(eventID string, expires time.Time) *state.Approval {
	return &state.Approval{
		Command: "wipe", Body: "!wipe disk1", Effect: "erases disk1", Requester: "@alice:example.org", RequesterDevice: "ALICEPHONE",
		RoomID: room, EventID: id.EventID(eventID), Policy: "second_admin", Needed: 1,
		CreatedAt: expires.Add(-30 * time.Minute), ExpiresAt: expires,
	}
}

func createApproval(t *testing.T, db *state.DB, eventID string, expires time.Time) *state.Approval {
	t.Helper()
	a := newApproval(eventID, expires)
	check(t, db.Approvals.Create(t.Context(), a))
	return a
}

// TestApprovalIDsAreTypable: IDs are four characters that can't be mistaken for one
// another when read off a phone, and never repeat.
func TestApprovalIDsAreTypable(t *testing.T) {
	db := openTemp(t)
	seen := make(map[string]bool)
	for i := range 300 {
		a := createApproval(t, db, fmt.Sprintf("$cmd%d", i), approvalBase)
		if len(a.ID) != 4 || strings.Trim(a.ID, "ACDEFHJKMNPQRTUVWXY3479") != "" {
			t.Errorf("ID %q is not four characters from the unambiguous alphabet", a.ID)
		}
		if strings.ContainsAny(a.ID, "0O1IL2Z5S6G8B") {
			t.Errorf("ID %q has a character that is easily misread", a.ID)
		}
		if seen[a.ID] {
			t.Errorf("ID %q given twice", a.ID)
		}
		seen[a.ID] = true
		if a.State != state.ApprovalOpen {
			t.Errorf("new request is %s, want open", a.State)
		}
	}
}

func TestApprovalRoundTrip(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	a := newApproval("$cmd", approvalBase)
	a.ThreadRoot, a.SelfCounts = "$thread", true
	check(t, db.Approvals.Create(ctx, a))
	check(t, db.Approvals.SetRequest(ctx, a.ID, 42, 7))
	got := must(db.Approvals.Get(ctx, a.ID))(t)
	if got == nil {
		t.Fatal("Get found nothing")
	}
	if !got.CreatedAt.Equal(a.CreatedAt) || !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Errorf("read back created %s expiring %s, want %s and %s", got.CreatedAt, got.ExpiresAt, a.CreatedAt, a.ExpiresAt)
	}
	want := *a
	want.RequestMsg, want.AuditID = 42, 7
	want.CreatedAt, want.ExpiresAt, got.CreatedAt, got.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if *got != want {
		t.Errorf("read back\n%+v\nwant\n%+v", *got, want)
	}
	if got := must(db.Approvals.Get(ctx, "QQQQ"))(t); got != nil {
		t.Errorf("Get of an unknown ID = %+v, want nil", got)
	}
}

// TestApprovalMove: a request only moves from the state the mover expects, so a late
// deny can't undo an approval and an approved command is claimed for running once.
func TestApprovalMove(t *testing.T) {
	// reach lists the moves that bring a new request to each state.
	reach := map[state.ApprovalState][][2]state.ApprovalState{
		state.ApprovalOpen:      nil,
		state.ApprovalApproved:  {{state.ApprovalOpen, state.ApprovalApproved}},
		state.ApprovalExecuting: {{state.ApprovalOpen, state.ApprovalApproved}, {state.ApprovalApproved, state.ApprovalExecuting}},
		state.ApprovalDone:      {{state.ApprovalOpen, state.ApprovalApproved}, {state.ApprovalApproved, state.ApprovalExecuting}, {state.ApprovalExecuting, state.ApprovalDone}},
		state.ApprovalDenied:    {{state.ApprovalOpen, state.ApprovalDenied}},
		state.ApprovalExpired:   {{state.ApprovalOpen, state.ApprovalExpired}},
	}
	tests := []struct {
		name     string
		current  state.ApprovalState
		from, to state.ApprovalState
		want     bool
	}{
		{name: "approve open", current: state.ApprovalOpen, from: state.ApprovalOpen, to: state.ApprovalApproved, want: true},
		{name: "deny open", current: state.ApprovalOpen, from: state.ApprovalOpen, to: state.ApprovalDenied, want: true},
		{name: "run an open request", current: state.ApprovalOpen, from: state.ApprovalApproved, to: state.ApprovalExecuting},
		{name: "deny approved", current: state.ApprovalApproved, from: state.ApprovalOpen, to: state.ApprovalDenied},
		{name: "claim approved", current: state.ApprovalApproved, from: state.ApprovalApproved, to: state.ApprovalExecuting, want: true},
		{name: "claim again", current: state.ApprovalExecuting, from: state.ApprovalApproved, to: state.ApprovalExecuting},
		{name: "finish twice", current: state.ApprovalDone, from: state.ApprovalExecuting, to: state.ApprovalDone},
		{name: "approve denied", current: state.ApprovalDenied, from: state.ApprovalOpen, to: state.ApprovalApproved},
		{name: "approve expired", current: state.ApprovalExpired, from: state.ApprovalOpen, to: state.ApprovalApproved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTemp(t)
			ctx := t.Context()
			a := createApproval(t, db, "$cmd", approvalBase)
			for _, m := range reach[tt.current] {
				if !must(db.Approvals.Move(ctx, a.ID, m[0], m[1], state.Decision{}))(t) {
					t.Fatalf("setup move %s → %s failed", m[0], m[1])
				}
			}
			if got := must(db.Approvals.Move(ctx, a.ID, tt.from, tt.to, state.Decision{By: "@carol:example.org", At: approvalBase}))(t); got != tt.want {
				t.Errorf("Move(%s → %s) of a %s request = %v, want %v", tt.from, tt.to, tt.current, got, tt.want)
			}
			wantState := tt.current
			if tt.want {
				wantState = tt.to
			}
			got := must(db.Approvals.Get(ctx, a.ID))(t)
			if got.State != wantState {
				t.Errorf("request is %s, want %s", got.State, wantState)
			}
			if !tt.want && got.DecidedBy != "" {
				t.Errorf("a refused move recorded %s as the decider", got.DecidedBy)
			}
		})
	}
	t.Run("unknown ID", func(t *testing.T) {
		db := openTemp(t)
		if must(db.Approvals.Move(t.Context(), "QQQQ", state.ApprovalOpen, state.ApprovalApproved, state.Decision{}))(t) {
			t.Error("moved a request that does not exist")
		}
	})
}

// TestApprovalMoveKeepsTheDecision: later moves (claiming, finishing) keep who decided
// and when, and add the outcome.
func TestApprovalMoveKeepsTheDecision(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	a := createApproval(t, db, "$cmd", approvalBase)
	decidedAt := approvalBase.Add(-10 * time.Minute)
	moves := []struct {
		from, to state.ApprovalState
		d        state.Decision
	}{
		{state.ApprovalOpen, state.ApprovalApproved, state.Decision{By: "@carol:example.org", At: decidedAt}},
		{state.ApprovalApproved, state.ApprovalExecuting, state.Decision{}},
		{state.ApprovalExecuting, state.ApprovalDone, state.Decision{Outcome: state.OutcomeOK, Detail: "wiped"}},
	}
	for _, m := range moves {
		if !must(db.Approvals.Move(ctx, a.ID, m.from, m.to, m.d))(t) {
			t.Fatalf("Move(%s → %s) failed", m.from, m.to)
		}
	}
	got := must(db.Approvals.Get(ctx, a.ID))(t)
	if got.State != state.ApprovalDone || got.DecidedBy != "@carol:example.org" || !got.DecidedAt.Equal(decidedAt) ||
		got.Outcome != state.OutcomeOK || got.Detail != "wiped" {
		t.Errorf("after approval, claim and finish: %s, decided by %s at %s, outcome %q %q", got.State, got.DecidedBy, got.DecidedAt, got.Outcome, got.Detail)
	}
}

// TestApprovalMoveRace: of many racing movers, exactly one wins, which is what runs an
// approved command once.
func TestApprovalMoveRace(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	for round := range 5 {
		a := createApproval(t, db, fmt.Sprintf("$cmd%d", round), approvalBase)
		if !must(db.Approvals.Move(ctx, a.ID, state.ApprovalOpen, state.ApprovalApproved, state.Decision{}))(t) {
			t.Fatal("approve failed")
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
			errs []error
		)
		start := make(chan struct{})
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				won, err := db.Approvals.Move(ctx, a.ID, state.ApprovalApproved, state.ApprovalExecuting, state.Decision{})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if won {
					wins++
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("round %d: %v", round+1, errs)
		}
		if wins != 1 {
			t.Errorf("round %d: %d movers won, want exactly 1", round+1, wins)
		}
	}
}

func TestApprovalVotes(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	a := createApproval(t, db, "$cmd", approvalBase)
	other := createApproval(t, db, "$cmd2", approvalBase)
	votes := []struct {
		v    state.Vote
		want bool
	}{
		{state.Vote{ApprovalID: a.ID, Voter: "@carol:example.org", DeviceID: "CAROL", EventID: "$v1", Approve: true, Time: approvalBase}, true},
		// A second answer by the same admin, even a different one, is not counted.
		{state.Vote{ApprovalID: a.ID, Voter: "@carol:example.org", DeviceID: "CAROL2", EventID: "$v2", Approve: false, Time: approvalBase.Add(time.Second)}, false},
		{state.Vote{ApprovalID: a.ID, Voter: "@dave:example.org", DeviceID: "DAVE", EventID: "$v3", Approve: false, Time: approvalBase.Add(2 * time.Second)}, true},
		// Answers to another request are its own.
		{state.Vote{ApprovalID: other.ID, Voter: "@carol:example.org", DeviceID: "CAROL", EventID: "$v4", Approve: true, Time: approvalBase}, true},
	}
	for i, tt := range votes {
		if got := must(db.Approvals.AddVote(ctx, &tt.v))(t); got != tt.want {
			t.Errorf("vote %d by %s: first answer %v, want %v", i+1, tt.v.Voter, got, tt.want)
		}
	}
	got := must(db.Approvals.Votes(ctx, a.ID))(t)
	var summary []string
	for _, v := range got {
		summary = append(summary, fmt.Sprintf("%s %s %v %s", v.Voter, v.DeviceID, v.Approve, v.Time.UTC().Format(time.TimeOnly)))
	}
	want := []string{"@carol:example.org CAROL true 12:00:00", "@dave:example.org DAVE false 12:00:02"}
	if strings.Join(summary, "\n") != strings.Join(want, "\n") {
		t.Errorf("votes:\n%s\nwant:\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
}

func TestApprovalExpiryQueries(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	if next := must(db.Approvals.NextExpiry(ctx))(t); !next.IsZero() {
		t.Errorf("NextExpiry with no requests = %s, want zero", next)
	}
	soonDenied := createApproval(t, db, "$denied", approvalBase.Add(5*time.Minute))
	first := createApproval(t, db, "$first", approvalBase.Add(10*time.Minute))
	last := createApproval(t, db, "$last", approvalBase.Add(30*time.Minute))
	second := createApproval(t, db, "$second", approvalBase.Add(20*time.Minute))
	if !must(db.Approvals.Move(ctx, soonDenied.ID, state.ApprovalOpen, state.ApprovalDenied, state.Decision{}))(t) {
		t.Fatal("deny failed")
	}

	if next := must(db.Approvals.NextExpiry(ctx))(t); !next.Equal(first.ExpiresAt) {
		t.Errorf("NextExpiry = %s, want %s (the denied request's time doesn't count)", next, first.ExpiresAt)
	}
	ids := func(list []*state.Approval) string {
		var out []string
		for _, a := range list {
			out = append(out, a.ID)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		now  time.Time
		want []*state.Approval
	}{
		{now: approvalBase.Add(9 * time.Minute)},
		{now: approvalBase.Add(10 * time.Minute), want: []*state.Approval{first}},
		{now: approvalBase.Add(25 * time.Minute), want: []*state.Approval{first, second}},
		{now: approvalBase.Add(time.Hour), want: []*state.Approval{first, second, last}},
	}
	for _, tt := range tests {
		if got := must(db.Approvals.DueToExpire(ctx, tt.now))(t); ids(got) != ids(tt.want) {
			t.Errorf("DueToExpire(%s) = [%s], want [%s]", tt.now.Format(time.TimeOnly), ids(got), ids(tt.want))
		}
	}

	for _, a := range []*state.Approval{first, second, last} {
		if !must(db.Approvals.Move(ctx, a.ID, state.ApprovalOpen, state.ApprovalExpired, state.Decision{}))(t) {
			t.Fatalf("expire %s failed", a.ID)
		}
		if a == first {
			if next := must(db.Approvals.NextExpiry(ctx))(t); !next.Equal(second.ExpiresAt) {
				t.Errorf("NextExpiry after the first expired = %s, want %s", next, second.ExpiresAt)
			}
		}
	}
	if next := must(db.Approvals.NextExpiry(ctx))(t); !next.IsZero() {
		t.Errorf("NextExpiry with every request closed = %s, want zero", next)
	}
	if due := must(db.Approvals.DueToExpire(ctx, approvalBase.Add(time.Hour)))(t); len(due) != 0 {
		t.Errorf("DueToExpire lists closed requests: [%s]", ids(due))
	}
}

func TestApprovalInState(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	older := createApproval(t, db, "$older", approvalBase)
	newer := createApproval(t, db, "$newer", approvalBase.Add(time.Minute))
	denied := createApproval(t, db, "$denied", approvalBase.Add(-time.Minute))
	must(db.Approvals.Move(ctx, denied.ID, state.ApprovalOpen, state.ApprovalDenied, state.Decision{}))(t)
	got := must(db.Approvals.InState(ctx, state.ApprovalOpen))(t)
	if len(got) != 2 || got[0].ID != older.ID || got[1].ID != newer.ID {
		t.Errorf("open requests %v, want %s then %s", got, older.ID, newer.ID)
	}
	if got := must(db.Approvals.InState(ctx, state.ApprovalDenied, state.ApprovalOpen))(t); len(got) != 3 {
		t.Errorf("denied or open: %d requests, want 3", len(got))
	}
}

// TestApprovalByRequestEvent: a reaction names the request message by its event ID,
// which the outbox learns only once the message is sent.
func TestApprovalByRequestEvent(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	reply := must(db.Outbox.Add(ctx, room, event.EventMessage, notice("a reply"), "$cmd"))(t)
	check(t, db.Outbox.MarkSent(ctx, reply, "$reply"))
	a := createApproval(t, db, "$cmd", approvalBase)
	unsent := createApproval(t, db, "$cmd2", approvalBase)
	msg := must(db.Outbox.Add(ctx, room, event.EventMessage, notice("approval needed"), "$cmd"))(t)
	check(t, db.Approvals.SetRequest(ctx, a.ID, msg, 7))
	check(t, db.Approvals.SetRequest(ctx, unsent.ID, must(db.Outbox.Add(ctx, room, event.EventMessage, notice("approval needed"), "$cmd2"))(t), 8))

	if got := must(db.Approvals.ByRequestEvent(ctx, "$request"))(t); got != nil {
		t.Errorf("found %s by an event ID not yet sent", got.ID)
	}
	check(t, db.Outbox.MarkSent(ctx, msg, "$request"))

	tests := []struct {
		event id.EventID
		want  string
	}{
		{event: "$request", want: a.ID},
		{event: "$reply"}, // Steward's message, but no request
		{event: "$cmd"},   // the command, not the request
		{event: "$elsewhere"},
		{event: ""}, // unsent messages have no event ID
	}
	for _, tt := range tests {
		got := must(db.Approvals.ByRequestEvent(ctx, tt.event))(t)
		switch {
		case tt.want == "" && got != nil:
			t.Errorf("ByRequestEvent(%q) = %s, want nothing", tt.event, got.ID)
		case tt.want != "" && (got == nil || got.ID != tt.want || got.RequestMsg != msg || got.AuditID != 7):
			t.Errorf("ByRequestEvent(%q) = %+v, want %s with request message %d", tt.event, got, tt.want, msg)
		}
	}
}

// TestApprovalEventIsUnique: one command event makes at most one request, so a
// command handled twice cannot be approved twice.
func TestApprovalEventIsUnique(t *testing.T) {
	db := openTemp(t)
	createApproval(t, db, "$cmd", approvalBase)
	if err := db.Approvals.Create(t.Context(), newApproval("$cmd", approvalBase)); err == nil {
		t.Error("a second request for the same command event was stored")
	}
}
