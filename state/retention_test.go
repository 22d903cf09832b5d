package state_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
)

// What did not run is kept short in the inbox (a member's long refused commands
// would fill the disk for the month they are kept); what ran keeps its words.
func TestInboxFinishClipsWhatDidNotRun(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	long := "!frobnicate " + strings.Repeat("é", 3000)
	for _, tc := range []struct {
		outcome string
		kept    int
	}{
		{state.OutcomeUnknown, state.KeptText + 1},
		{state.OutcomeRateLimited, state.KeptText + 1},
		{state.OutcomeRefused, state.KeptText + 1},
		{state.OutcomeOK, len([]rune(long))},
	} {
		eventID := id.EventID("$" + tc.outcome)
		must(db.Inbox.Record(ctx, &state.InboxEntry{EventID: eventID, RoomID: room, Sender: "@m:x", Body: long, SentAt: time.Now(), ReceivedAt: time.Now()}))(t)
		check(t, db.Inbox.Finish(ctx, eventID, tc.outcome))
		got := must(db.Inbox.Get(ctx, eventID))(t)
		if n := len([]rune(got.Body)); n != tc.kept || !strings.HasPrefix(long, strings.TrimSuffix(got.Body, "…")) {
			t.Errorf("%s: kept %d characters, want the first %d", tc.outcome, n, tc.kept)
		}
	}
}

// Prune forgets handled entries older than the cutoff, never one not yet handled, and
// an event it forgot that comes again is not recorded as new: a command never runs
// twice, even a month later.
func TestInboxPrune(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	old, cutoff := time.Now().Add(-40*24*time.Hour), time.Now().Add(-30*24*time.Hour)
	record := func(eventID id.EventID, at time.Time) {
		if !must(db.Inbox.Record(ctx, &state.InboxEntry{EventID: eventID, RoomID: room, Sender: "@m:x", Body: "!ping", SentAt: at, ReceivedAt: at}))(t) {
			t.Fatalf("%s not recorded", eventID)
		}
	}
	record("$done", old)
	record("$done2", old)
	record("$waiting", old) // received but never run (Steward was down since)
	record("$started", old) // cut short by a crash: ReportInterrupted settles it
	record("$recent", time.Now())
	for _, e := range []id.EventID{"$done", "$done2", "$recent"} {
		check(t, db.Inbox.Finish(ctx, e, state.OutcomeOK))
	}
	must(db.Inbox.Claim(ctx, "$started"))(t)

	if n := must(db.Inbox.Prune(ctx, cutoff, 1))(t); n != 1 {
		t.Errorf("first batch pruned %d, want 1 (the batch size)", n)
	}
	if n := must(db.Inbox.Prune(ctx, cutoff, 100))(t); n != 1 {
		t.Errorf("second batch pruned %d, want the other old handled entry", n)
	}
	for eventID, kept := range map[id.EventID]bool{"$done": false, "$done2": false, "$waiting": true, "$started": true, "$recent": true} {
		if got := must(db.Inbox.Get(ctx, eventID))(t); (got != nil) != kept {
			t.Errorf("%s kept: %v, want %v", eventID, got != nil, kept)
		}
	}
	// The homeserver delivers the pruned command again (a gap filled from history).
	if added := must(db.Inbox.Record(ctx, &state.InboxEntry{EventID: "$done", RoomID: room, Sender: "@m:x", Body: "!restart db", SentAt: old, ReceivedAt: time.Now()}))(t); added {
		t.Error("a pruned command delivered again was recorded as new: it would run twice")
	}
	// A new command, sent after the horizon, is recorded as always.
	record("$new", cutoff.Add(time.Minute))
}

// The outbox keeps, whatever their age, what is not sent yet, a message that an unsent
// one relates to, the decision log's checkpoints and what alerts, tickets and approval
// requests point at; it drops the rest once old.
func TestOutboxPrune(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	sent := func(content any) int64 {
		msgID := must(db.Outbox.Add(ctx, room, event.EventMessage, content, ""))(t)
		check(t, db.Outbox.MarkSent(ctx, msgID, id.EventID(fmt.Sprintf("$e%d", msgID))))
		return msgID
	}
	plain := sent(notice("Pong"))
	failed := must(db.Outbox.Add(ctx, room, event.EventMessage, notice("to a room Steward left"), ""))(t)
	check(t, db.Outbox.MarkFailed(ctx, failed, errors.New("M_FORBIDDEN")))
	queued := must(db.Outbox.Add(ctx, room, event.EventMessage, notice("not sent yet"), ""))(t)
	target := sent(notice("Backing up…"))
	must(db.Outbox.AddRelated(ctx, room, event.EventMessage, notice("Backed up"), target))(t) // the edit, unsent
	checkpoint := sent(&event.Content{Parsed: notice("Decision log checkpoint"), Raw: map[string]any{state.CheckpointKey: map[string]any{"id": 50, "hash": "ab"}}})
	quoting := sent(notice(`a member wrote "org.steward.checkpoint": here`))
	thread := sent(notice("Ticket T1"))
	check(t, db.Tickets.Create(ctx, &state.Ticket{Member: "@m:x", Kind: state.TicketRequest, CreatedAt: time.Now()}))
	tickets := must(db.Tickets.List(ctx, state.TicketFilter{}))(t)
	check(t, db.Tickets.SetRoom(ctx, tickets[0].ID, "!dm:x", thread, time.Now()))
	request := sent(notice("Approval needed"))
	a := createApproval(t, db, "$cmd", approvalBase)
	check(t, db.Approvals.SetRequest(ctx, a.ID, request, 1))

	// In the admin room, a message is emptied and keeps its event ID: redacted one
	// day, it is known to have been no checkpoint. One never sent goes.
	const admins = id.RoomID("!admins:x")
	inAdmins := must(db.Outbox.Add(ctx, admins, event.EventMessage, notice("Pong, admins"), ""))(t)
	check(t, db.Outbox.MarkSent(ctx, inAdmins, "$pong-admins"))
	refusedInAdmins := must(db.Outbox.Add(ctx, admins, event.EventMessage, notice("too large"), ""))(t)
	check(t, db.Outbox.MarkFailed(ctx, refusedInAdmins, errors.New("M_TOO_LARGE")))

	// Everything above is older than a cutoff a second from now.
	cutoff := time.Now().Add(time.Second)
	total := int64(0)
	for {
		n := must(db.Outbox.Prune(ctx, admins, cutoff, 2))(t)
		total += n
		if n < 2 {
			break
		}
	}
	if total != 5 {
		t.Errorf("pruned %d messages, want 5 (the reply, the refused one, the member's quote, the two in the admin room)", total)
	}
	for msgID, kept := range map[int64]bool{plain: false, failed: false, quoting: false, refusedInAdmins: false,
		queued: true, target: true, checkpoint: true, thread: true, request: true, inAdmins: true} {
		if got := must(db.Outbox.Get(ctx, msgID))(t); (got != nil) != kept {
			t.Errorf("message %d kept: %v, want %v", msgID, got != nil, kept)
		}
	}
	emptied := must(db.Outbox.Get(ctx, inAdmins))(t)
	if emptied.State != state.OutboxPruned || string(emptied.Content) != "{}" || emptied.EventID != "$pong-admins" {
		t.Errorf("the admin room's message after pruning: state %q, content %s, event %q; want emptied, its event ID kept", emptied.State, emptied.Content, emptied.EventID)
	}
	if msgID := must(db.Outbox.IDByEvent(ctx, "$pong-admins"))(t); msgID != inAdmins {
		t.Errorf("the emptied message's event is message %d, want %d", msgID, inAdmins)
	}
	// Emptied once is not emptied again: the next run has nothing to do.
	if n := must(db.Outbox.Prune(ctx, admins, cutoff, 100))(t); n != 0 {
		t.Errorf("a second pruning took %d more messages, want none", n)
	}
}

// Decided requests go with their votes once old; open ones, and ones approved and on
// their way to running, stay.
func TestApprovalsPrune(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	decided := func(eventID string, to ...state.ApprovalState) *state.Approval {
		a := createApproval(t, db, eventID, approvalBase)
		from := state.ApprovalOpen
		for _, s := range to {
			if !must(db.Approvals.Move(ctx, a.ID, from, s, state.Decision{By: "@bob:x", At: approvalBase}))(t) {
				t.Fatalf("move %s to %s", a.ID, s)
			}
			from = s
		}
		return a
	}
	denied := decided("$1", state.ApprovalDenied)
	must(db.Approvals.AddVote(ctx, &state.Vote{ApprovalID: denied.ID, Voter: "@bob:x", EventID: "$v", Time: approvalBase}))(t)
	done := decided("$2", state.ApprovalApproved, state.ApprovalExecuting, state.ApprovalDone)
	expired := decided("$3", state.ApprovalExpired)
	open := decided("$4")
	executing := decided("$5", state.ApprovalApproved, state.ApprovalExecuting)

	if n := must(db.Approvals.Prune(ctx, approvalBase.Add(24*time.Hour), 100))(t); n != 3 {
		t.Errorf("pruned %d requests, want 3", n)
	}
	for _, c := range []struct {
		a    *state.Approval
		kept bool
	}{{denied, false}, {done, false}, {expired, false}, {open, true}, {executing, true}} {
		if got := must(db.Approvals.Get(ctx, c.a.ID))(t); (got != nil) != c.kept {
			t.Errorf("%s (%s) kept: %v, want %v", c.a.ID, c.a.EventID, got != nil, c.kept)
		}
	}
	if votes := must(db.Approvals.Votes(ctx, denied.ID))(t); len(votes) != 0 {
		t.Errorf("%d votes of a pruned request left", len(votes))
	}
}

// Messages waiting for their room key go once kept past the cutoff, a batch at a time;
// the ones kept since stay.
func TestUndecryptedPrune(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	for _, eventID := range []id.EventID{"$a", "$b", "$c"} {
		check(t, db.Undecrypted.Add(ctx, &event.Event{
			ID: eventID, RoomID: room, Sender: "@alice:example.org", Type: event.EventEncrypted,
			Content: event.Content{Parsed: &event.EncryptedEventContent{Algorithm: id.AlgorithmMegolmV1, SessionID: "sess", MegolmCiphertext: []byte("AwgA")}},
		}))
	}
	if n := must(db.Undecrypted.Prune(ctx, time.Now().Add(-time.Hour), 10))(t); n != 0 {
		t.Errorf("pruned %d events kept for less than the span, want 0", n)
	}
	if n := must(db.Undecrypted.Prune(ctx, time.Now().Add(time.Second), 2))(t); n != 2 {
		t.Errorf("pruned %d in a batch of 2, want 2", n)
	}
	if n := must(db.Undecrypted.Count(ctx))(t); n != 1 {
		t.Errorf("%d events left, want 1", n)
	}
}

// The horizon is where the entries the inbox forgot were sent, not the clock: a host
// clock that ran a year ahead for one prune (a bad RTC, before NTP put it right) must
// not make every command sent afterwards, for a year, pass for one already seen.
func TestInboxHorizonSurvivesClockJump(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	now := time.Now()
	if !must(db.Inbox.Record(ctx, &state.InboxEntry{EventID: "$old", RoomID: room, Sender: "@m:x", Body: "!ping", SentAt: now.Add(-time.Hour), ReceivedAt: now.Add(-time.Hour)}))(t) {
		t.Fatal("$old not recorded")
	}
	check(t, db.Inbox.Finish(ctx, "$old", state.OutcomeOK))
	// Retention runs while the clock says next year: everything handled looks old.
	if n := must(db.Inbox.Prune(ctx, now.Add(365*24*time.Hour).Add(-30*24*time.Hour), 100))(t); n != 1 {
		t.Fatalf("pruned %d, want the one handled entry", n)
	}
	// The clock is right again. What was forgotten is still taken as seen...
	if added := must(db.Inbox.Record(ctx, &state.InboxEntry{EventID: "$old", RoomID: room, Sender: "@m:x", Body: "!ping", SentAt: now.Add(-time.Hour), ReceivedAt: now}))(t); added {
		t.Error("a pruned command delivered again was recorded as new: it would run twice")
	}
	// ...and a command sent now is a new one.
	if added := must(db.Inbox.Record(ctx, &state.InboxEntry{EventID: "$new", RoomID: room, Sender: "@m:x", Body: "!approve 3", SentAt: now, ReceivedAt: now}))(t); !added {
		t.Error("a command sent after the clock was put right was taken as already seen: it is lost, as is every one until the clock reaches the jump")
	}
}
