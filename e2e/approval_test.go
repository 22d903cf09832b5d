package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
	"github.com/steward-bot/steward/state"
)

var requestIDPattern = regexp.MustCompile(`Approval needed: ([A-Z0-9]{4})`)

// requestApproval sends an !announce from c and returns the request message Steward
// answers with, and the request's ID.
func requestApproval(t *testing.T, c *testbed.Client, text string) (*event.Event, string) {
	t.Helper()
	request := command(t, c, w.AdminRoom, "!announce "+text)
	m := requestIDPattern.FindStringSubmatch(request.Content.AsMessage().Body)
	if m == nil {
		t.Fatalf("!announce was answered with %q, not an approval request", request.Content.AsMessage().Body)
	}
	return request, m[1]
}

// react reacts from c and waits until Steward has handled the reaction, returning the
// outcome it recorded.
func react(t *testing.T, c *testbed.Client, target id.EventID, key string) string {
	t.Helper()
	reaction, err := c.React(t.Context(), w.AdminRoom, target, key)
	if err != nil {
		t.Fatal(err)
	}
	outcome, err := w.WaitInboxDone(t.Context(), reaction, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return outcome
}

// announcements counts what Steward queued for the group room containing text, from its
// own database: a message sent twice would show as two.
func announcements(t *testing.T, text string) int {
	t.Helper()
	n, err := w.CountOutbox(t.Context(), w.GroupRoom, text)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// An !announce under second_admin: the requester's own ✅ and a member's ✅ do nothing,
// a second admin's ✅ posts it to the group room exactly once, the request message
// shows the outcome, and later answers are turned away.
func TestApprovalByReactionRunsOnce(t *testing.T) {
	ctx := t.Context()
	text := "Maintenance tonight <b>22:00</b> & tomorrow"
	request, approvalID := requestApproval(t, w.Alice, text)
	body := request.Content.AsMessage().Body
	for _, want := range []string{text, "one admin other than", "Expires at", "!approve " + approvalID} {
		if !strings.Contains(body, want) {
			t.Errorf("the approval request does not say %q:\n%s", want, body)
		}
	}
	if html := request.Content.AsMessage().FormattedBody; strings.Contains(html, "<b>22:00</b>") {
		t.Errorf("the request put the announcement's text into HTML unescaped: %s", html)
	}
	pending := command(t, w.Bob, w.AdminRoom, "!pending")
	if !strings.Contains(pending.Content.AsMessage().Body, approvalID) {
		t.Errorf("!pending does not list %s: %s", approvalID, pending.Content.AsMessage().Body)
	}

	// The requester's own ✅ does nothing.
	if outcome := react(t, w.Alice, request.ID, "✅"); outcome != state.OutcomeRefused {
		t.Errorf("Alice's own ✅ was %q, want refused", outcome)
	}
	// A member in the admin room is not an admin: nothing.
	if _, err := w.Alice.InviteUser(ctx, w.AdminRoom, &mautrix.ReqInviteUser{UserID: w.Carol.UserID}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Carol.JoinRoomByID(ctx, w.AdminRoom); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = w.Carol.LeaveRoom(context.WithoutCancel(ctx), w.AdminRoom) })
	// Carol's client shares her room key with the members it knows of: wait until it
	// knows Steward is one.
	if err := w.Carol.WaitForMembership(ctx, w.AdminRoom, w.StewardID, event.MembershipJoin, time.Minute); err != nil {
		t.Fatal(err)
	}
	if outcome := react(t, w.Carol, request.ID, "✅"); outcome != state.OutcomeRefused {
		t.Errorf("Carol's ✅ was %q, want refused", outcome)
	}
	if n := announcements(t, text); n != 0 {
		t.Fatalf("the announcement went out %d times before a second admin approved", n)
	}

	// Bob's ✅ runs it.
	if outcome := react(t, w.Bob, request.ID, "✅"); outcome != state.OutcomeOK {
		t.Errorf("Bob's ✅ was %q, want ok", outcome)
	}
	if err := w.Carol.WaitForBody(ctx, w.GroupRoom, w.StewardID, "From the admins: "+text, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Done: "+approvalID, time.Minute); err != nil {
		t.Error(err)
	}
	// A late answer changes nothing.
	late := command(t, w.Bob, w.AdminRoom, "!approve "+strings.ToLower(approvalID))
	if !strings.Contains(late.Content.AsMessage().Body, "can't be answered any more") {
		t.Errorf("a second approval was answered %q", late.Content.AsMessage().Body)
	}
	if n := announcements(t, text); n != 1 {
		t.Errorf("the announcement was queued %d times, want once", n)
	}
	if n := w.Carol.CountBodies(w.GroupRoom, w.StewardID, "From the admins: "+text); n != 1 {
		t.Errorf("Carol received the announcement %d times, want once", n)
	}
	ran, err := w.FindAudit(ctx, state.AuditFilter{Action: "announce", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var executions int
	for _, e := range ran {
		if strings.Contains(e.Detail, "approved in "+approvalID) {
			executions++
			if e.Outcome != state.OutcomeOK || e.Actor != w.Alice.UserID || e.ParentID == 0 {
				t.Errorf("the decision log records the run as %+v", e)
			}
		}
	}
	if executions != 1 {
		t.Errorf("the decision log has %d runs of %s, want 1", executions, approvalID)
	}
}

// A ✅ given while Steward is down is counted when it comes back, and the command runs
// once, also across a further restart.
func TestApprovalWhileStewardIsDownRunsOnce(t *testing.T) {
	ctx := t.Context()
	text := "Back up your photos before Friday"
	request, approvalID := requestApproval(t, w.Alice, text)
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Bob.React(ctx, w.AdminRoom, request.ID, "✅"); err != nil {
		t.Fatal(err)
	}
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Carol.WaitForBody(ctx, w.GroupRoom, w.StewardID, "From the admins: "+text, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Done: "+approvalID, time.Minute); err != nil {
		t.Error(err)
	}
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping") // the restarted Steward has caught up
	if n := announcements(t, text); n != 1 {
		t.Errorf("the announcement was queued %d times, want once", n)
	}
}

// A denial by command stops the request for good, and says so in the request message.
func TestDeniedRequestNeverRuns(t *testing.T) {
	ctx := t.Context()
	text := "This one should never go out"
	_, approvalID := requestApproval(t, w.Alice, text)
	reply := command(t, w.Bob, w.AdminRoom, "!deny "+approvalID+" wrong day")
	if !strings.Contains(reply.Content.AsMessage().Body, "Denied "+approvalID) {
		t.Errorf("!deny was answered %q", reply.Content.AsMessage().Body)
	}
	if err := w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "wrong day", time.Minute); err != nil {
		t.Error(err)
	}
	after := command(t, w.Bob, w.AdminRoom, "!approve "+approvalID)
	if !strings.Contains(after.Content.AsMessage().Body, "can't be answered any more") {
		t.Errorf("an approval after the denial was answered %q", after.Content.AsMessage().Body)
	}
	if n := announcements(t, text); n != 0 {
		t.Errorf("a denied announcement was queued %d times", n)
	}
}
