package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
	"github.com/steward-bot/steward/state"
	"github.com/steward-bot/steward/tickets"
)

// A member floods their ticket chat: 90 messages, of which rate_limit.message_burst
// (70 here) are carried to the ticket's thread and the rest are not. An alert raised
// while the carried ones wait in the outbox reaches the admin room before them, not
// after (a first-in, first-out outbox sends it after all 70). The member is told once
// that they are sending too fast, the admins once in the thread, and what was not
// carried is not in the outbox.
//
// The flood is sent while Steward is stopped, so that it arrives in one sync. The run
// that takes it is killed once it has carried it: the run before left a message caught
// mid-send, so its outbox held back for a few seconds after the first sync
// (crashSettle), and most of the flood is still queued. The alert is queued then, behind
// it, and the next run's outbox decides the order the admins see.
func TestMemberFloodDoesNotDelayAlerts(t *testing.T) {
	ctx := t.Context()
	const flood, burst = 90, 70
	withConfig(t, func(c *testbed.StewardConfig) {
		for i, line := range c.TopLevel {
			if strings.HasPrefix(line, "rate_limit:") {
				c.TopLevel[i] = fmt.Sprintf("rate_limit: {burst: 1000, per_minute: 6000, message_burst: %d, messages_per_minute: 1}", burst)
			}
		}
	})
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Carol opens a ticket from a chat she starts.
	resp, err := w.Carol.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{w.StewardID},
		InitialState: []*event.Event{{
			Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dm := resp.RoomID
	if err = w.Carol.WaitForBody(ctx, dm, w.StewardID, "Write what you need", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Carol.State(ctx, dm); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Carol.Say(ctx, dm, "The wiki is down."); err != nil {
		t.Fatal(err)
	}
	welcome, err := w.Carol.WaitForMessage(ctx, dm, w.StewardID, "This is ticket ", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	body := welcome.Content.AsMessage().Body
	ticketID := strings.Trim(strings.Fields(body[strings.Index(body, "This is ticket ")+len("This is ticket "):])[0], "*:")
	t.Cleanup(func() {
		// Closed again, so that carol has no open ticket in the tests after this one.
		_, _ = w.Command(context.WithoutCancel(ctx), w.Alice, w.AdminRoom, "!close "+ticketID+" Done.")
	})
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "The wiki is down.", time.Minute); err != nil {
		t.Fatal(err)
	}

	// A run that dies right after handing a message to the homeserver, before it
	// could record it: the next run's outbox waits a moment after its first sync.
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	w.Steward.Env = []string{"STEWARD_CRASH_AT=message-sent"}
	err = w.Steward.Start(ctx)
	w.Steward.Env = nil
	if err != nil {
		t.Fatal(err)
	}
	// Queued from outside (the idle outbox finds it within its poll), it is the
	// first message this run sends.
	if err = w.Steward.Notify(ctx, "admin", "Steward is being restarted for a test."); err != nil {
		t.Fatal(err)
	}
	if !w.Steward.WaitExit(time.Minute) {
		t.Fatal("Steward did not crash at message-sent")
	}

	// The flood, while Steward is down.
	text := func(i int) string { return fmt.Sprintf("flood-%02d-end", i) }
	var last id.EventID
	for i := range flood {
		if last, err = w.Carol.Say(ctx, dm, text(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Messages of a chat are handled in order: once the last is, every one is. Then
	// Steward dies at once, with what it carried waiting in its outbox.
	if outcome, err := w.WaitInboxDone(ctx, last, time.Minute); err != nil || outcome != state.OutcomeRateLimited {
		t.Fatalf("the flood's last message: outcome %q, %v; want rate_limited", outcome, err)
	}
	if err = w.Steward.Kill(); err != nil {
		t.Fatal(err)
	}
	unsent := countUnsent(t, "flood-")
	if unsent == 0 {
		t.Fatal("the whole flood was delivered before Steward was stopped: nothing to queue the alert behind")
	}
	// The alert is raised while the flood waits: queued after all of it.
	alert := "CRITICAL: disk / is 99% full (raised during a member's flood)"
	if err = w.Steward.Notify(ctx, "admin", alert); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, alert, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, text(burst-1), 2*time.Minute); err != nil {
		t.Fatal(err)
	}

	// The order the admins saw: how many of the flood came before the alert.
	before, after, alertSeen := 0, 0, false
	for _, evt := range w.Alice.Messages(w.AdminRoom) {
		if evt.Sender != w.StewardID {
			continue
		}
		b := evt.Content.AsMessage().Body
		switch {
		case strings.Contains(b, alert):
			alertSeen = true
		case strings.Contains(b, "flood-") && alertSeen:
			after++
		case strings.Contains(b, "flood-"):
			before++
		}
	}
	t.Logf("of the %d carried messages of the flood, %d were still queued when the alert was raised; %d reached the admin room before the alert and %d after it",
		burst, unsent, before, after)
	// One caught mid-send by the kill may have reached the homeserver already.
	if !alertSeen || after == 0 || after < unsent-1 {
		t.Errorf("%d of the flood's messages queued before the alert reached the admin room before it (%d after it): a member's flood delayed the alert", before, after)
	}
	if before+after != burst {
		t.Errorf("the admin room got %d of the flood's messages, want the first %d", before+after, burst)
	}
	// What was not carried was not queued either, and the member and the admins
	// were told, once each.
	if n, err := w.CountOutbox(ctx, w.AdminRoom, text(flood-1)); err != nil || n != 0 {
		t.Errorf("a message over the limit was queued for the admin room %d times (%v)", n, err)
	}
	if err = w.Carol.WaitForBody(ctx, dm, w.StewardID, tickets.TooFastMessage, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := w.Carol.CountBodies(dm, w.StewardID, tickets.TooFastMessage); n != 1 {
		t.Errorf("carol was told %d times that she sends too fast, want once", n)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "is sending messages faster than I pass them on", time.Minute); err != nil {
		t.Fatal(err)
	}
}

// countUnsent counts the messages for the admin room containing text that Steward's
// outbox has not sent, read while Steward is stopped.
func countUnsent(t *testing.T, text string) int {
	t.Helper()
	db, err := state.Open(t.Context(), filepath.Join(w.Config.DataDir, "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err = db.Raw.QueryRow(t.Context(), "SELECT COUNT(*) FROM outbox WHERE room_id=$1 AND state IN ('queued', 'sending') AND instr(content, $2) > 0",
		w.AdminRoom, text).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A member opening private chats faster than rate_limit.message_burst: the first are
// taken and greeted; the first one over the limit is taken too, and says so (Dendrite
// drops the reason of a leave, so a declined chat alone would tell nothing); the rest
// are declined without a word, and Steward greets nobody there. The invitations of
// one sync are handled in any order, so only the counts are checked.
func TestMemberInviteFloodIsDeclined(t *testing.T) {
	ctx := t.Context()
	const burst, chats = 2, 5
	withConfig(t, func(c *testbed.StewardConfig) {
		for i, line := range c.TopLevel {
			if strings.HasPrefix(line, "rate_limit:") {
				c.TopLevel[i] = fmt.Sprintf("rate_limit: {burst: 1000, per_minute: 6000, message_burst: %d, messages_per_minute: 1}", burst)
			}
		}
	})
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var rooms []id.RoomID
	t.Cleanup(func() {
		for _, room := range rooms {
			_, _ = w.Carol.LeaveRoom(context.WithoutCancel(ctx), room)
		}
	})
	for range chats {
		resp, err := w.Carol.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{w.StewardID},
			InitialState: []*event.Event{{
				Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		rooms = append(rooms, resp.RoomID)
	}
	const hello, tooFast = "Hello! Write what you need", "faster than I take them"
	var greeted, told, declined int
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		greeted, told = 0, 0
		for _, room := range rooms {
			switch {
			case w.Carol.CountBodies(room, w.StewardID, hello) > 0:
				greeted++
			case w.Carol.CountBodies(room, w.StewardID, tooFast) > 0:
				told++
			}
		}
		if greeted+told >= burst+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute %d chats were greeted and %d told carol she opens them too fast, want %d and 1", greeted, told, burst)
		}
	}
	for _, room := range rooms {
		if w.Carol.CountBodies(room, w.StewardID, hello) > 0 || w.Carol.CountBodies(room, w.StewardID, tooFast) > 0 {
			continue
		}
		if err := w.Carol.WaitForMembership(ctx, room, w.StewardID, event.MembershipLeave, time.Minute); err != nil {
			t.Errorf("chat %s: %v", room, err)
			continue
		}
		declined++
	}
	if greeted != burst || told != 1 || declined != chats-burst-1 {
		t.Errorf("of %d chats, %d were greeted, %d told carol she opens them too fast and %d declined; want %d, 1 and %d",
			chats, greeted, told, declined, burst, chats-burst-1)
	}
	entries, err := w.FindAudit(ctx, state.AuditFilter{Action: "invite", Actor: w.Carol.UserID, Limit: chats})
	if err != nil {
		t.Fatal(err)
	}
	limited := 0
	for _, e := range entries {
		if e.Outcome == state.OutcomeRateLimited {
			limited++
		}
	}
	if limited != chats-burst-1 {
		t.Errorf("%d of carol's last %d invitations are rate_limited in the decision log, want %d", limited, chats, chats-burst-1)
	}
}
