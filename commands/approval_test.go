package commands_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/policy"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Two more admins, for the policies that need someone other than the requester.
const (
	carol id.UserID = "@carol:example.org"
	dave  id.UserID = "@dave:example.org"
)

// guarded is an admin command that changes something, under policy (the zero Policy
// takes the default for destructive commands). runs counts its runs atomically, since
// approvals may race.
func guarded(name string, policy policy.Policy, runs *atomic.Int32) *commands.Command {
	return &commands.Command{
		Name: name, Section: commands.SectionGeneral, Help: "Test command " + name, Args: "TARGET",
		Role: commands.RoleAdmin, Destructive: true, Policy: policy,
		Describe: func(_ context.Context, ce *commands.Event) (string, error) {
			if len(ce.Args) == 0 {
				return "", commands.UserErrorf("%s what?", name)
			}
			return "erases " + ce.Args[0] + " for good", nil
		},
		Func: func(ctx context.Context, ce *commands.Event) error {
			runs.Add(1)
			return ce.Reply(ctx, render.New("Wiped "+ce.Args[0]+"."))
		},
	}
}

// approvalRegistry has the approval commands, !announce, wipe (destructive, default
// policy), purge (quorum:2) and note (not destructive, default policy).
func approvalRegistry(runs *atomic.Int32) *commands.Registry {
	note := guarded("note", policy.Policy{}, runs)
	note.Destructive = false
	return commands.NewRegistry(
		commands.CommandHelp,
		commands.CommandAnnounce,
		commands.CommandPending,
		commands.CommandApprove,
		commands.CommandDeny,
		commands.CommandCancel,
		guarded("wipe", policy.Policy{}, runs),
		guarded("purge", policy.Policy{Kind: policy.Quorum, N: 2}, runs),
		note,
	)
}

// withAdmins configures admins as the admins, all in the admin room.
func withAdmins(admins ...id.UserID) func(*harness) {
	return func(h *harness) {
		h.settings.Admins = admins
		h.rooms.joined[adminRoom] = admins
	}
}

// requestEvent is the event ID the request message of a got when it was sent.
func requestEvent(a *state.Approval) id.EventID {
	return id.EventID("$request-" + a.ID)
}

// ask sends body from sender in the admin room, expects it to wait for approval and
// returns the request. The request message is then marked sent in the outbox as
// requestEvent(a), as the bot's sender would, so reactions can point at it: the fake
// messenger numbers posts from 1 like the outbox, and outbox messages are added up to
// the request's number.
func ask(t *testing.T, h *harness, sender id.UserID, body string) *state.Approval {
	t.Helper()
	ctx := t.Context()
	in := h.input(sender, adminRoom, body)
	if outcome := h.proc.Handle(ctx, in); outcome != state.OutcomeAwaitingApproval {
		t.Fatalf("%q: outcome %q, want %q; replies %+v", body, outcome, state.OutcomeAwaitingApproval, h.replier.take())
	}
	open, err := h.db.Approvals.InState(ctx, state.ApprovalOpen)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(open, func(a *state.Approval) bool { return a.EventID == in.EventID })
	if i < 0 {
		t.Fatalf("%q: no open approval request for %s", body, in.EventID)
	}
	a := open[i]
	for {
		msgID, err := h.db.Outbox.Add(ctx, adminRoom, event.EventMessage, render.New("request").Notice(), in.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if msgID == a.RequestMsg {
			if err = h.db.Outbox.MarkSent(ctx, msgID, requestEvent(a)); err != nil {
				t.Fatal(err)
			}
			break
		} else if msgID > a.RequestMsg {
			t.Fatalf("request message %d is not ahead of the outbox (at %d)", a.RequestMsg, msgID)
		}
	}
	h.replier.take()
	return a
}

// answer sends body from sender in the admin room and returns the outcome and replies.
// Unlike handle, it allows the many audit entries an answer may cause.
func answer(h *harness, sender id.UserID, body string) (string, []sentReply) {
	outcome := h.proc.Handle(h.t.Context(), h.input(sender, adminRoom, body))
	return outcome, h.replier.take()
}

// react puts the reaction key from sender on a's request message and returns the
// outcome for the inbox.
func react(h *harness, sender id.UserID, a *state.Approval, key string) string {
	return h.proc.HandleReaction(h.t.Context(), h.input(sender, adminRoom, key), requestEvent(a))
}

// reload returns a as stored now.
func reload(t *testing.T, h *harness, a *state.Approval) *state.Approval {
	t.Helper()
	got, err := h.db.Approvals.Get(t.Context(), a.ID)
	if err != nil || got == nil {
		t.Fatalf("Get(%s) = %v, %v", a.ID, got, err)
	}
	return got
}

// wantState fails t unless a is stored in state st.
func wantState(t *testing.T, h *harness, a *state.Approval, st state.ApprovalState) {
	t.Helper()
	if got := reload(t, h, a).State; got != st {
		t.Errorf("request %s is %s, want %s", a.ID, got, st)
	}
}

// wantPost fails t unless a's request message reads each of parts.
func wantPost(t *testing.T, h *harness, a *state.Approval, parts ...string) {
	t.Helper()
	text := h.replier.post(a.RequestMsg)
	for _, part := range parts {
		if !strings.Contains(text, part) {
			t.Errorf("request message does not say %q:\n%s", part, text)
		}
	}
}

// wantReplies fails t unless there is one reply per part, each containing it.
func wantReplies(t *testing.T, replies []sentReply, parts ...string) {
	t.Helper()
	if len(replies) != len(parts) {
		t.Errorf("got %d replies, want %d (%q): %+v", len(replies), len(parts), parts, replies)
		return
	}
	for i, part := range parts {
		if !strings.Contains(replies[i].Plain, part) {
			t.Errorf("reply %d is %q, want it to say %q", i+1, replies[i].Plain, part)
		}
	}
}

// wantRepliesAnyOrder is wantReplies for replies whose order is not the point.
func wantRepliesAnyOrder(t *testing.T, replies []sentReply, parts ...string) {
	t.Helper()
	if len(replies) != len(parts) {
		t.Errorf("got %d replies, want %d (%q): %+v", len(replies), len(parts), parts, replies)
		return
	}
	left := slices.Clone(replies)
	for _, part := range parts {
		i := slices.IndexFunc(left, func(r sentReply) bool { return strings.Contains(r.Plain, part) })
		if i < 0 {
			t.Errorf("no reply says %q: %q", part, replyTexts(replies))
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
}

// auditSince returns the decision log entries after the first n.
func auditSince(h *harness, n int) []*state.AuditEntry {
	h.audit.mu.Lock()
	defer h.audit.mu.Unlock()
	return slices.Clone(h.audit.entries[n:])
}

// findAudit returns the entries with action among entries.
func findAudit(entries []*state.AuditEntry, action string) []*state.AuditEntry {
	var out []*state.AuditEntry
	for _, e := range entries {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// orFatal turns a (value, error) result into the value, failing t on error:
// orFatal(store.Get(ctx, key))(t).
func orFatal[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// postCount is how many messages were posted for later edits (approval requests).
func (f *fakeMessenger) postCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.posts)
}

// reactionsOn returns the keys Steward reacted with to posted message msgID.
func (f *fakeMessenger) reactionsOn(msgID int64) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reactions[msgID])
}

// announcements returns what was announced so far.
func (f *fakeMessenger) announcements() []sentReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.announced)
}

func TestDeclaredPolicies(t *testing.T) {
	reg := approvalRegistry(new(atomic.Int32))
	tests := []struct{ command, want string }{
		{command: "wipe", want: "second_admin"}, // destructive, nothing declared
		{command: "note", want: "none"},         // not destructive, nothing declared
		{command: "purge", want: "quorum:2"},
		{command: "announce", want: "confirm"},
		{command: "approve", want: "none"},
	}
	for _, tt := range tests {
		if got := reg.PolicyOf(reg.Lookup(tt.command)).String(); got != tt.want {
			t.Errorf("%s runs under %s, want %s", tt.command, got, tt.want)
		}
	}
}

// TestTightenOnlyMakesStricter: config can make a command stricter, never looser, and a
// mistake anywhere applies nothing, so a typo never leaves a command less guarded than
// its owner thinks.
func TestTightenOnlyMakesStricter(t *testing.T) {
	tests := []struct {
		name       string
		configured map[string]string
		// err is a part of each expected error line; none means accepted.
		err []string
	}{
		{name: "stricter quorum", configured: map[string]string{"wipe": "quorum:2"}},
		{name: "quorum:1 is second_admin", configured: map[string]string{"wipe": "quorum:1"}},
		{name: "confirm to second_admin", configured: map[string]string{"announce": "second_admin"}},
		{name: "none to confirm", configured: map[string]string{"note": "confirm"}},
		{name: "same as declared", configured: map[string]string{"purge": "quorum:2", "wipe": "second_admin"}},
		{name: "confirm is looser than second_admin", configured: map[string]string{"wipe": "confirm"},
			err: []string{"policy.commands.wipe: confirm is looser than the built-in policy second_admin"}},
		{name: "none is looser than confirm", configured: map[string]string{"announce": "none"},
			err: []string{"policy.commands.announce: none is looser than the built-in policy confirm"}},
		{name: "second_admin is looser than quorum:2", configured: map[string]string{"purge": "second_admin"},
			err: []string{"policy.commands.purge: second_admin is looser than the built-in policy quorum:2"}},
		{name: "unknown command", configured: map[string]string{"nuke": "confirm"},
			err: []string{`policy.commands.nuke: there is no command "nuke"`}},
		{name: "alias", configured: map[string]string{"commands": "confirm"},
			err: []string{`policy.commands.commands: "commands" is another name for "help"; write that instead`}},
		{name: "not a policy", configured: map[string]string{"wipe": "sometimes"},
			err: []string{"policy.commands.wipe: not a policy"}},
		{name: "one mistake applies nothing", configured: map[string]string{"wipe": "quorum:2", "note": "confirm", "nuke": "confirm"},
			err: []string{`there is no command "nuke"`}},
		{name: "every mistake is named", configured: map[string]string{"wipe": "none", "nuke": "confirm"},
			err: []string{`policy.commands.nuke: there is no command "nuke"`, "policy.commands.wipe: none is looser"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := approvalRegistry(new(atomic.Int32))
			declared := make(map[string]string)
			for name := range tt.configured {
				if cmd := reg.Lookup(name); cmd != nil {
					declared[name] = reg.PolicyOf(cmd).String()
				}
			}
			err := reg.Tighten(config.Policy{Commands: tt.configured})
			if len(tt.err) == 0 && err != nil {
				t.Fatalf("Tighten refused %v: %v", tt.configured, err)
			}
			if len(tt.err) > 0 {
				if err == nil {
					t.Fatalf("Tighten accepted %v", tt.configured)
				}
				// Listed like config's own problems: each names its key, and the
				// line is left for the caller who knows the file.
				var problems *config.Problems
				if !errors.As(err, &problems) || len(*problems) != len(tt.err) {
					t.Errorf("error %T is not one config.Problem per mistake: %v", err, err)
				} else {
					for _, p := range *problems {
						if !strings.HasPrefix(p.Key, "policy.commands.") || p.Line != 0 || strings.Contains(p.Msg, p.Key) {
							t.Errorf("problem %+v, want key policy.commands.NAME and a message without it", p)
						}
					}
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tt.err) {
					t.Errorf("error has %d lines, want %d:\n%v", len(lines), len(tt.err), err)
				}
				for _, want := range tt.err {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error does not say %q:\n%v", want, err)
					}
				}
			}
			for name, policy := range tt.configured {
				cmd := reg.Lookup(name)
				if cmd == nil || cmd.Name != name {
					continue
				}
				want := policy
				if err != nil {
					want = declared[name]
				}
				if got := reg.PolicyOf(cmd).String(); got != want {
					t.Errorf("%s runs under %s, want %s", name, got, want)
				}
			}
		})
	}
}

func TestApprovalRequest(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol))
	before := h.audit.count()
	in := h.input(admin, adminRoom, "!wipe disk1")
	if outcome := h.proc.Handle(t.Context(), in); outcome != state.OutcomeAwaitingApproval {
		t.Fatalf("outcome %q, want %q", outcome, state.OutcomeAwaitingApproval)
	}
	if runs.Load() != 0 {
		t.Errorf("the command ran before anyone approved it")
	}
	if n := h.replier.postCount(); n != 1 {
		t.Fatalf("%d messages posted, want one request", n)
	}
	open := orFatal(h.db.Approvals.InState(t.Context(), state.ApprovalOpen))(t)
	if len(open) != 1 {
		t.Fatalf("%d open requests, want 1", len(open))
	}
	a := open[0]
	wantPost(t, h, a,
		"Approval needed: "+a.ID,
		"@alice:example.org asked to run `!wipe disk1` at 12:00 UTC.",
		"What it does: erases disk1 for good",
		"Needs the approval of one admin other than @alice:example.org.",
		"Expires at 12:30 UTC.",
		"`!approve "+a.ID+"`", "`!deny "+a.ID+" REASON`", "`!cancel "+a.ID+"`")
	if got := h.replier.reactionsOn(a.RequestMsg); !slices.Equal(got, []string{"✅", "❌"}) {
		t.Errorf("request message has reactions %q, want ✅ and ❌", got)
	}

	entries := auditSince(h, before)
	if len(entries) != 2 {
		t.Fatalf("%d audit entries, want the command and its request: %+v", len(entries), entries)
	}
	cmd, req := entries[0], entries[1]
	if cmd.Action != "command.wipe" || cmd.Outcome != state.OutcomeAwaitingApproval || cmd.Actor != admin {
		t.Errorf("command entry %s/%s by %s", cmd.Action, cmd.Outcome, cmd.Actor)
	}
	if req.Action != "approval.request" || req.ParentID != cmd.ID || !strings.Contains(req.Arguments, a.ID) || !strings.Contains(req.Arguments, "!wipe disk1") {
		t.Errorf("request entry %s %q with parent %d, want approval.request naming %s and the command, parent %d", req.Action, req.Arguments, req.ParentID, a.ID, cmd.ID)
	}
	if a.AuditID != req.ID {
		t.Errorf("request refers to decision log entry %d, want %d", a.AuditID, req.ID)
	}
}

// TestDescribeRefusesBadArguments: a command whose arguments are wrong is refused at
// once, instead of asking the admins to approve something that cannot run.
func TestDescribeRefusesBadArguments(t *testing.T) {
	tests := []struct{ body, reply string }{
		{body: "!announce", reply: "What should I announce? !announce TEXT"},
		{body: "!announce " + strings.Repeat("x", 2001), reply: "That announcement is 2001 characters long; keep it under 2000."},
		{body: "!wipe", reply: "wipe what?"},
	}
	for _, tt := range tests {
		var runs atomic.Int32
		h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol))
		replies, entry := h.send(admin, adminRoom, tt.body)
		if got := onlyReply(t, replies); !strings.HasPrefix(got.Plain, tt.reply) {
			t.Errorf("%.20q: reply %q, want %q", tt.body, got.Plain, tt.reply)
		}
		if entry.Outcome != state.OutcomeBadInput {
			t.Errorf("%.20q: outcome %q, want %q", tt.body, entry.Outcome, state.OutcomeBadInput)
		}
		if n := h.replier.postCount(); n != 0 {
			t.Errorf("%.20q: posted %d approval requests", tt.body, n)
		}
		if open := orFatal(h.db.Approvals.InState(t.Context(), state.ApprovalOpen))(t); len(open) != 0 {
			t.Errorf("%.20q: %d open requests", tt.body, len(open))
		}
	}
}

func TestSecondAdminApproves(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol, dave))
	a := ask(t, h, admin, "!wipe disk1")
	before := h.audit.count()

	// The requester's own yes changes nothing, by reaction or by command.
	if got := react(h, admin, a, "✅"); got != state.OutcomeRefused {
		t.Errorf("requester's ✅: outcome %q, want %q", got, state.OutcomeRefused)
	}
	wantReplies(t, h.replier.take())
	_, replies := answer(h, admin, "!approve "+a.ID)
	wantReplies(t, replies, "You asked for "+a.ID+", so your approval doesn't count: one other admin must approve it.")
	if runs.Load() != 0 {
		t.Fatalf("the requester's own approval ran the command")
	}
	wantState(t, h, a, state.ApprovalOpen)
	votes := findAudit(auditSince(h, before), "approval.vote")
	if len(votes) != 2 {
		t.Fatalf("%d approval.vote entries, want 2", len(votes))
	}
	for _, v := range votes {
		if v.Outcome != state.OutcomeRefused || v.Actor != admin || v.ParentID != a.AuditID {
			t.Errorf("requester's vote audited as %s by %s (parent %d), want refused by %s (parent %d)", v.Outcome, v.Actor, v.ParentID, admin, a.AuditID)
		}
	}

	// Another admin's yes runs it, once.
	before = h.audit.count()
	if got := react(h, carol, a, "✅"); got != state.OutcomeOK {
		t.Errorf("carol's ✅: outcome %q, want %q", got, state.OutcomeOK)
	}
	if runs.Load() != 1 {
		t.Fatalf("command ran %d times after carol's approval, want once", runs.Load())
	}
	wantReplies(t, h.replier.take(), "Wiped disk1.")
	wantPost(t, h, a, "Done: "+a.ID, "Approved by @carol:example.org at 12:00 UTC. Result: done.")
	if got := reload(t, h, a); got.State != state.ApprovalDone || got.Outcome != state.OutcomeOK || got.DecidedBy != carol {
		t.Errorf("request is %s/%s decided by %s, want done/ok by %s", got.State, got.Outcome, got.DecidedBy, carol)
	}
	entries := auditSince(h, before)
	if approved := findAudit(entries, "approval.approved"); len(approved) != 1 || approved[0].Actor != carol || approved[0].ParentID != a.AuditID {
		t.Errorf("approval.approved entries %+v, want one by %s", approved, carol)
	}
	if ran := findAudit(entries, "command.wipe"); len(ran) != 1 || ran[0].Actor != admin || ran[0].Outcome != state.OutcomeOK ||
		ran[0].ParentID != a.AuditID || ran[0].Arguments != "disk1" {
		t.Errorf("command.wipe entries %+v, want one by the requester, ok, with arguments disk1, under the request", ran)
	}

	// A later yes finds it done.
	_, replies = answer(h, dave, "!approve "+a.ID)
	wantReplies(t, replies, a.ID+" is approved and done; it can't be answered any more.")
	if runs.Load() != 1 {
		t.Errorf("command ran %d times, want once", runs.Load())
	}
}

// TestReactionAnswers: what a single reaction on a request does.
func TestReactionAnswers(t *testing.T) {
	tests := []struct {
		name   string
		sender id.UserID
		key    string
		// elsewhere puts the reaction on some other message.
		elsewhere bool
		tweak     func(in *commands.Input)
		outcome   string
		wantRun   bool
		state     state.ApprovalState
		// audited is the detail of the one approval.vote entry; "-" for no entry at all.
		audited string
		// reply is a part of the one reply; "" for none.
		reply string
		post  string
	}{
		{name: "another admin's ✅", sender: carol, key: "✅", outcome: state.OutcomeOK, wantRun: true, state: state.ApprovalDone,
			reply: "Wiped disk1.", post: "Done: "},
		{name: "✅ with variation selector", sender: carol, key: "✅\ufe0f", outcome: state.OutcomeOK, wantRun: true, state: state.ApprovalDone,
			reply: "Wiped disk1.", post: "Done: "},
		{name: "another admin's ❌", sender: carol, key: "❌", outcome: state.OutcomeOK, state: state.ApprovalDenied,
			post: "Denied by @carol:example.org at 12:00 UTC. It will not run."},
		{name: "❌ with variation selector", sender: carol, key: "❌\ufe0f", outcome: state.OutcomeOK, state: state.ApprovalDenied, post: "Denied: "},
		{name: "member's ✅", sender: member, key: "✅", outcome: state.OutcomeRefused, state: state.ApprovalOpen, audited: "not an admin"},
		{name: "stranger's ✅", sender: stranger, key: "✅", outcome: state.OutcomeRefused, state: state.ApprovalOpen, audited: "not an admin"},
		{name: "✅ on another message", sender: carol, key: "✅", elsewhere: true, outcome: state.OutcomeIgnored, state: state.ApprovalOpen, audited: "-"},
		{name: "other emoji", sender: carol, key: "👍", outcome: state.OutcomeIgnored, state: state.ApprovalOpen, audited: "-"},
		{name: "unencrypted ✅", sender: carol, key: "✅", outcome: state.OutcomeRefused, state: state.ApprovalOpen, audited: "device not verified",
			tweak: func(in *commands.Input) { in.Encrypted, in.DeviceID = false, "" },
			reply: "@carol:example.org: your answer to %s doesn't count: it was not encrypted, so I can't tell which device sent it."},
		{name: "✅ from an unknown device", sender: carol, key: "✅", outcome: state.OutcomeRefused, state: state.ApprovalOpen, audited: "device not verified",
			tweak: func(in *commands.Input) { in.Trust = id.TrustStateUnknownDevice },
			reply: "your device `BOBPHONE` is not verified. Verify it from another of your sessions"},
		{name: "✅ from a device cross-signed by an unverified identity", sender: carol, key: "✅", outcome: state.OutcomeRefused, state: state.ApprovalOpen,
			audited: "device not verified", tweak: func(in *commands.Input) { in.Trust = id.TrustStateCrossSignedUntrusted },
			reply: "is not verified"},
		{name: "✅ that arrived late", sender: carol, key: "✅", outcome: state.OutcomeStale, state: state.ApprovalOpen, audited: "reached Steward 20 minutes after it was sent",
			tweak: func(in *commands.Input) { in.SentAt = in.ReceivedAt.Add(-20 * time.Minute) },
			reply: "reached me 20 minutes after you sent it, so I did not count it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs atomic.Int32
			h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol, dave))
			a := ask(t, h, admin, "!wipe disk1")
			before := h.audit.count()
			in := h.input(tt.sender, adminRoom, tt.key)
			if tt.tweak != nil {
				tt.tweak(in)
			}
			relatesTo := requestEvent(a)
			if tt.elsewhere {
				relatesTo = "$somethingelse"
			}
			if got := h.proc.HandleReaction(t.Context(), in, relatesTo); got != tt.outcome {
				t.Errorf("outcome %q, want %q", got, tt.outcome)
			}
			if ran := runs.Load() > 0; ran != tt.wantRun {
				t.Errorf("command ran: %v, want %v", ran, tt.wantRun)
			}
			wantState(t, h, a, tt.state)
			entries := auditSince(h, before)
			switch votes := findAudit(entries, "approval.vote"); {
			case tt.audited == "-":
				if len(entries) != 0 {
					t.Errorf("audited %+v, want nothing", entries)
				}
			case tt.audited == "":
				if len(votes) != 1 || votes[0].Outcome != state.OutcomeOK || votes[0].Actor != tt.sender {
					t.Errorf("approval.vote entries %+v, want one ok by %s", votes, tt.sender)
				}
			default:
				if len(votes) != 1 || !strings.Contains(votes[0].Detail, tt.audited) || votes[0].Actor != tt.sender {
					t.Errorf("approval.vote entries %+v, want one by %s saying %q", votes, tt.sender, tt.audited)
				}
			}
			replies := h.replier.take()
			if tt.reply == "" {
				wantReplies(t, replies)
			} else {
				wantReplies(t, replies, strings.ReplaceAll(tt.reply, "%s", a.ID))
			}
			if tt.post != "" {
				wantPost(t, h, a, tt.post)
			}
		})
	}
}

// TestUnverifiedAnswerIsExplainedOnce: a reaction that doesn't count is explained, but
// only once per request and admin, so tapping ✅ again does not flood the room.
func TestUnverifiedAnswerIsExplainedOnce(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol, dave))
	a := ask(t, h, admin, "!wipe disk1")
	unverified := func(sender id.UserID, key string) string {
		in := h.input(sender, adminRoom, key)
		in.Trust = id.TrustStateUnknownDevice
		return h.proc.HandleReaction(t.Context(), in, requestEvent(a))
	}
	unverified(carol, "✅")
	wantReplies(t, h.replier.take(), "@carol:example.org: your answer to "+a.ID+" doesn't count")
	unverified(carol, "✅")
	unverified(carol, "❌")
	wantReplies(t, h.replier.take())
	unverified(dave, "✅")
	wantReplies(t, h.replier.take(), "@dave:example.org: your answer to "+a.ID+" doesn't count")

	b := ask(t, h, admin, "!wipe disk2")
	h.proc.HandleReaction(t.Context(), func() *commands.Input {
		in := h.input(carol, adminRoom, "✅")
		in.Trust = id.TrustStateUnknownDevice
		return in
	}(), requestEvent(b))
	wantReplies(t, h.replier.take(), "your answer to "+b.ID+" doesn't count")
	if runs.Load() != 0 {
		t.Fatalf("an unverified answer ran the command")
	}

	// Once verified, the same admin's answer counts.
	if got := react(h, carol, a, "✅"); got != state.OutcomeOK || runs.Load() != 1 {
		t.Errorf("carol's verified ✅: outcome %q, %d runs; want it run", got, runs.Load())
	}
}

// TestUnverifiedApproveCommandDoesNotCount: !approve changes something, so the
// dispatcher refuses it from an unverified device; and with
// require_verified_devices off, the approval engine still does not count it.
func TestUnverifiedApproveCommandDoesNotCount(t *testing.T) {
	for _, tt := range []struct {
		name     string
		required bool
		want     string
	}{
		{name: "refused by the dispatcher", required: true, want: "`!approve` changes something, so it must come from a device you have verified"},
		{name: "not counted by the engine", want: "your device `BOBPHONE` is not verified"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var runs atomic.Int32
			h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol), func(h *harness) { h.settings.RequireVerified = tt.required })
			a := ask(t, h, admin, "!wipe disk1")
			in := h.input(carol, adminRoom, "!approve "+a.ID)
			in.Trust = id.TrustStateUnknownDevice
			h.proc.Handle(t.Context(), in)
			wantReplies(t, h.replier.take(), tt.want)
			if runs.Load() != 0 {
				t.Errorf("an approval from an unverified device ran the command")
			}
			wantState(t, h, a, state.ApprovalOpen)
		})
	}
}

func TestCountedApprovalIsAcknowledged(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol, dave))
	a := ask(t, h, admin, "!purge disk1")
	_, replies := answer(h, carol, "!approve "+strings.ToLower(a.ID))
	wantReplies(t, replies, "Counted your approval of "+a.ID+": 1 of 2 so far.")
}

// TestApprovedCommandKeepsItsArgumentsAcrossPrefixChange: a request approved after a
// restart with another command prefix runs with the arguments the admins approved.
func TestApprovedCommandKeepsItsArgumentsAcrossPrefixChange(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol))
	a := ask(t, h, admin, "!wipe disk1")
	h.settings.Prefix = "?"
	h.restart()
	_, replies := answer(h, carol, "?approve "+a.ID)
	if runs.Load() != 1 {
		t.Fatalf("ran %d times, want once", runs.Load())
	}
	if !slices.ContainsFunc(replies, func(r sentReply) bool { return r.Plain == "Wiped disk1." }) {
		t.Errorf("the approved command did not wipe disk1; replies: %q", replyTexts(replies))
	}
	if got := reload(t, h, a); got.Outcome != state.OutcomeOK {
		t.Errorf("approved command ended %q, want %q", got.Outcome, state.OutcomeOK)
	}
}

// TestApproverIsToldBeforeTheCommandRuns: the approving admin reads "running now"
// before what the command says when it is done, not after.
func TestApproverIsToldBeforeTheCommandRuns(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol))
	a := ask(t, h, admin, "!wipe disk1")
	_, replies := answer(h, carol, "!approve "+a.ID)
	wantReplies(t, replies, "Approved "+a.ID+"; running `!wipe disk1` now.", "Wiped disk1.")
}

// TestConfirmedAnnouncement: !announce asks its requester to confirm, then posts to the
// group room with the text escaped.
func TestConfirmedAnnouncement(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs))
	text := `Party at <b>8</b> & bring "snacks"`
	a := ask(t, h, admin, "!announce "+text)
	wantPost(t, h, a, "Approval needed: "+a.ID, "`!announce "+text+"`",
		"What it does: posts this to the group room, for every member: “"+text+"”",
		"Needs a confirmation (by @alice:example.org or another admin).")
	if got := h.replier.announcements(); len(got) != 0 {
		t.Fatalf("announced before confirmation: %+v", got)
	}

	_, replies := answer(h, admin, "!approve "+a.ID)
	wantRepliesAnyOrder(t, replies, "Approved "+a.ID+"; running `!announce "+text+"` now.", "Posted to the group room.")
	got := h.replier.announcements()
	if len(got) != 1 {
		t.Fatalf("%d announcements, want 1", len(got))
	}
	if got[0].Room != groupRoom {
		t.Errorf("announced in %s, want the group room", got[0].Room)
	}
	if got[0].Plain != "From the admins: "+text {
		t.Errorf("announcement reads %q", got[0].Plain)
	}
	if want := `<strong>From the admins: </strong>Party at &lt;b&gt;8&lt;/b&gt; &amp; bring &#34;snacks&#34;`; got[0].HTML != want {
		t.Errorf("announcement HTML %q, want %q", got[0].HTML, want)
	}
	wantPost(t, h, a, "Done: "+a.ID, "Approved by @alice:example.org")

	_, replies = answer(h, admin, "!approve "+a.ID)
	wantReplies(t, replies, "can't be answered any more")
	if n := len(h.replier.announcements()); n != 1 {
		t.Errorf("%d announcements after a second confirmation, want 1", n)
	}
}

func TestDeniedByAnotherAdmin(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol, dave))
	a := ask(t, h, admin, "!wipe disk1")
	before := h.audit.count()
	_, replies := answer(h, carol, "!deny "+strings.ToLower(a.ID)+" not during exams")
	wantReplies(t, replies, "Denied "+a.ID+"; it will not run.")
	wantState(t, h, a, state.ApprovalDenied)
	wantPost(t, h, a, "Denied: "+a.ID, "Denied by @carol:example.org at 12:00 UTC: not during exams. It will not run.")
	if denied := findAudit(auditSince(h, before), "approval.denied"); len(denied) != 1 || denied[0].Actor != carol || denied[0].Detail != "not during exams" {
		t.Errorf("approval.denied entries %+v, want one by carol with her reason", denied)
	}
	if got := reload(t, h, a); got.Reason != "not during exams" || got.DecidedBy != carol {
		t.Errorf("stored decision by %s because %q", got.DecidedBy, got.Reason)
	}

	_, replies = answer(h, dave, "!approve "+a.ID)
	wantReplies(t, replies, a.ID+" is denied; it can't be answered any more.")
	if runs.Load() != 0 {
		t.Errorf("a denied command ran")
	}
}

func TestRequesterWithdraws(t *testing.T) {
	tests := []struct {
		name string
		// body is the answer; "" is a ❌ reaction.
		body  string
		reply string
	}{
		{name: "!cancel", body: "!cancel %s", reply: "Cancelled %s; it will not run."},
		{name: "!deny", body: "!deny %s never mind", reply: "Cancelled %s; it will not run."},
		{name: "❌"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs atomic.Int32
			h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol))
			a := ask(t, h, admin, "!wipe disk1")
			if tt.body == "" {
				if got := react(h, admin, a, "❌"); got != state.OutcomeOK {
					t.Errorf("outcome %q", got)
				}
				wantReplies(t, h.replier.take())
			} else {
				_, replies := answer(h, admin, strings.ReplaceAll(tt.body, "%s", a.ID))
				wantReplies(t, replies, strings.ReplaceAll(tt.reply, "%s", a.ID))
			}
			wantState(t, h, a, state.ApprovalCancelled)
			wantPost(t, h, a, "Cancelled: "+a.ID, "Withdrawn by @alice:example.org at 12:00 UTC. It will not run.")

			_, replies := answer(h, carol, "!approve "+a.ID)
			wantReplies(t, replies, a.ID+" is cancelled; it can't be answered any more.")
			if runs.Load() != 0 {
				t.Errorf("a withdrawn command ran")
			}
		})
	}
}

func TestOnlyTheRequesterCancels(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol))
	a := ask(t, h, admin, "!wipe disk1")
	_, replies := answer(h, carol, "!cancel "+a.ID)
	got := onlyReply(t, replies)
	if want := "Only @alice:example.org, who asked for " + a.ID + ", can cancel it. To stop it, deny it: !deny " + a.ID + " REASON"; got.Plain != want {
		t.Errorf("reply %q, want %q", got.Plain, want)
	}
	wantState(t, h, a, state.ApprovalOpen)
}

func TestAnswerToUnknownRequest(t *testing.T) {
	h := newHarness(t, approvalRegistry(new(atomic.Int32)), withAdmins(admin, carol))
	tests := []struct{ body, reply string }{
		{body: "!approve QQQQ", reply: "There is no approval request QQQQ. Send `!pending` to see the open ones."},
		{body: "!deny", reply: "Which request? Give its ID, like !deny K7QM. !pending lists the open ones."},
	}
	for _, tt := range tests {
		replies, _ := h.send(carol, adminRoom, tt.body)
		if got := onlyReply(t, replies); got.Plain != tt.reply {
			t.Errorf("%s: reply %q, want %q", tt.body, got.Plain, tt.reply)
		}
	}
}

// TestRacingApprovalsRunOnce: two admins approving at the same moment run the command
// once.
func TestRacingApprovalsRunOnce(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol, dave))
	for round := range 8 {
		a := ask(t, h, admin, "!wipe disk1")
		var answers [2]func()
		if round%2 == 0 {
			ins := [2]*commands.Input{h.input(carol, adminRoom, "!approve "+a.ID), h.input(dave, adminRoom, "!approve "+a.ID)}
			for i, in := range ins {
				answers[i] = func() { h.proc.Handle(t.Context(), in) }
			}
		} else {
			ins := [2]*commands.Input{h.input(carol, adminRoom, "✅"), h.input(dave, adminRoom, "✅")}
			for i, in := range ins {
				answers[i] = func() { h.proc.HandleReaction(t.Context(), in, requestEvent(a)) }
			}
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, f := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f()
			}()
		}
		close(start)
		wg.Wait()
		if got := runs.Load(); got != int32(round+1) {
			t.Fatalf("round %d: command ran %d times in all, want %d", round+1, got, round+1)
		}
		wantState(t, h, a, state.ApprovalDone)
		if n := strings.Count(strings.Join(replyTexts(h.replier.take()), "\n"), "Wiped disk1."); n != 1 {
			t.Errorf("round %d: %d replies from the command, want 1", round+1, n)
		}
	}
}

// replyTexts returns the plain text of replies.
func replyTexts(replies []sentReply) []string {
	out := make([]string, len(replies))
	for i, r := range replies {
		out[i] = r.Plain
	}
	return out
}

func TestSingleAdmin(t *testing.T) {
	tests := []struct {
		name        string
		admins      []id.UserID
		allowSingle bool
		body        string
		// refusal is the reply when the command cannot be asked for at all.
		refusal string
	}{
		{name: "second_admin, one admin", admins: []id.UserID{admin}, body: "!wipe disk1",
			refusal: "`!wipe` needs the approval of one other admin, but no second admin exists: you are the only one in matrix.admins. Add another admin there, or set policy.allow_single_admin: true to let you confirm it yourself."},
		{name: "quorum:2, one admin", admins: []id.UserID{admin}, body: "!purge disk1", refusal: "no second admin exists"},
		{name: "quorum:2, two admins", admins: []id.UserID{admin, carol}, body: "!purge disk1",
			refusal: "`!purge` needs the approval of 2 other admins, but only 1 other admin"},
		{name: "quorum:2, two admins, allow_single_admin", admins: []id.UserID{admin, carol}, allowSingle: true, body: "!purge disk1",
			refusal: "Add admins to matrix.admins, or loosen policy.commands.purge."},
		{name: "second_admin, allow_single_admin", admins: []id.UserID{admin}, allowSingle: true, body: "!wipe disk1"},
		{name: "quorum:2, allow_single_admin", admins: []id.UserID{admin}, allowSingle: true, body: "!purge disk1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs atomic.Int32
			h := newHarness(t, approvalRegistry(&runs), withAdmins(tt.admins...), func(h *harness) { h.allowSingleAdmin = tt.allowSingle })
			if tt.refusal != "" {
				replies, entry := h.send(admin, adminRoom, tt.body)
				if got := onlyReply(t, replies); !strings.Contains(got.Plain, tt.refusal) {
					t.Errorf("reply %q, want it to say %q", got.Plain, tt.refusal)
				}
				if entry.Outcome != state.OutcomeRefused || h.replier.postCount() != 0 || runs.Load() != 0 {
					t.Errorf("outcome %q, %d requests posted, %d runs; want refused, nothing asked", entry.Outcome, h.replier.postCount(), runs.Load())
				}
				return
			}
			a := ask(t, h, admin, tt.body)
			wantPost(t, h, a, "Needs a confirmation (by @alice:example.org or another admin).")
			if !strings.Contains(a.Policy, "allow_single_admin") {
				t.Errorf("request records policy %q, want it to say it was confirmed alone", a.Policy)
			}
			_, replies := answer(h, admin, "!approve "+a.ID)
			wantRepliesAnyOrder(t, replies, "Approved "+a.ID+"; running `"+tt.body+"` now.", "Wiped disk1.")
			if runs.Load() != 1 {
				t.Errorf("ran %d times after the requester's confirmation, want once", runs.Load())
			}
		})
	}
}

func TestPending(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), withAdmins(admin, carol, dave))
	replies, _ := h.send(admin, adminRoom, "!pending")
	if got := onlyReply(t, replies); got.Plain != "No requests are waiting for approval." {
		t.Errorf("with nothing pending: %q", got.Plain)
	}

	wipe := ask(t, h, admin, "!wipe disk1")
	purge := ask(t, h, admin, "!purge disk2")
	denied := ask(t, h, admin, "!wipe disk3")
	react(h, carol, purge, "✅")
	react(h, carol, denied, "❌")
	h.clock.Advance(5 * time.Minute)
	replies, _ = h.send(carol, adminRoom, "!pending")
	got := onlyReply(t, replies).Plain
	for _, want := range []string{
		"2 waiting for approval:",
		wipe.ID + " `!wipe disk1` — asked by @alice:example.org 5 minutes ago; 0 of 1 approvals; expires in 25 minutes",
		purge.ID + " `!purge disk2` — asked by @alice:example.org 5 minutes ago; 1 of 2 approvals (@carol:example.org); expires in 25 minutes",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("!pending does not say %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, denied.ID) {
		t.Errorf("!pending lists the denied request %s:\n%s", denied.ID, got)
	}
}
