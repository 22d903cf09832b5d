package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
)

// A member's report, with real clients: !report in the group room opens a private,
// encrypted chat with the member and a thread in the admin room (the text is not
// repeated in the group room, and Steward does not answer there: it lacks the power to
// remove the report, so the member is told in their chat it is still visible, and the
// admins why); an admin's answer in the thread reaches the member, the
// member's next words reach the thread; messages sent while Steward is stopped cross
// after it starts again; the deadline's call comes; the decision reaches the member.
func TestTickets(t *testing.T) {
	ctx := t.Context()
	withConfig(t, func(c *testbed.StewardConfig) {
		c.TopLevel = append(c.TopLevel, "tickets: {abuse_deadline: 1m, remind_before: 0s}")
	})
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Mallory joins the group room and posts an ad; carol reports it by replying to it.
	if _, err := w.Alice.InviteUser(ctx, w.GroupRoom, &mautrix.ReqInviteUser{UserID: w.Mallory.UserID}); err != nil {
		t.Fatal(err)
	}
	if err := w.Mallory.WaitForMembership(ctx, w.GroupRoom, w.Mallory.UserID, event.MembershipInvite, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Mallory.JoinRoomByID(ctx, w.GroupRoom); err != nil {
		t.Fatal(err)
	}
	// Load the room's members before sending, so the message's key reaches them.
	if _, err := w.Mallory.State(ctx, w.GroupRoom); err != nil {
		t.Fatal(err)
	}
	ad, err := w.Mallory.Say(ctx, w.GroupRoom, "Cheap pills at pills.example, DM me!")
	if err != nil {
		t.Fatal(err)
	}
	known := w.Carol.Invites()
	secret := "mallory posts <b>ads</b> for pills every hour"
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: "!report spam " + secret}
	content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(ad)
	sent, err := w.Carol.SendMessageEvent(ctx, w.GroupRoom, event.EventMessage, content)
	if err != nil {
		t.Fatal(err)
	}
	dm, ticketID, welcome := joinTicketChat(t, w.Carol, known)
	if !welcome.Mautrix.WasEncrypted {
		t.Error("the private chat is not encrypted")
	}
	if body := welcome.Content.AsMessage().Body; !strings.Contains(body, "the admins have your report") || !strings.Contains(body, "still visible to everyone there") {
		t.Errorf("the member's chat was opened with %q", body)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "messages stay visible to everyone in the group room", time.Minute); err != nil {
		t.Error(err)
	}

	start, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "Abuse report "+ticketID+" (spam)", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// By now anything Steward queued with the ticket has been sent (the outbox
	// sends in order): nothing of it went to the group room.
	for _, evt := range w.Carol.Messages(w.GroupRoom) {
		// Other tests share the group room (a !help there lists !tickets), so what
		// counts is an answer to the report or a message that names it.
		msg := evt.Content.AsMessage()
		body := msg.Body
		if evt.Sender == w.StewardID && (strings.Contains(body, "pills") || strings.Contains(body, ticketID) || msg.RelatesTo.GetReplyTo() == sent.EventID) {
			t.Errorf("the report was answered or repeated in the group room: %s", body)
		}
	}
	if w.Bob.Redacted(sent.EventID) {
		t.Error("the report was redacted, though Steward lacks the power to")
	}
	if body := start.Content.AsMessage(); !strings.Contains(body.Body, secret) || strings.Contains(body.FormattedBody, "<b>ads") {
		t.Errorf("the thread's start does not quote the report (escaped):\n%s\n%s", body.Body, body.FormattedBody)
	}
	if body := start.Content.AsMessage().Body; !strings.Contains(body, "The reported message, by "+w.Mallory.UserID.String()) || !strings.Contains(body, "Cheap pills at pills.example") {
		t.Errorf("the thread's start does not quote the reported message:\n%s", body)
	}

	// An answer in the thread reaches the member, as Steward's.
	if _, err = w.Bob.SayInThread(ctx, w.AdminRoom, start.ID, "Thanks, we are looking at dave's messages."); err != nil {
		t.Fatal(err)
	}
	answer, err := w.Carol.WaitForMessage(ctx, dm, w.StewardID, "we are looking at dave's messages", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(answer.Content.AsMessage().Body, w.Bob.UserID.String()) {
		t.Errorf("the answer names the admin: %s", answer.Content.AsMessage().Body)
	}
	// An admin may sign an answer.
	if signed := sayInThread(t, w.Alice, start.ID, "!sign I'm Alice; I'll look at it tonight."); !strings.Contains(signed, "signed") {
		t.Errorf("!sign was answered %q", signed)
	}
	if err = w.Carol.WaitForBody(ctx, dm, w.StewardID, w.Alice.UserID.String()+" (an admin)", time.Minute); err != nil {
		t.Fatal(err)
	}
	// The member's next words reach the thread.
	if _, err = w.Carol.Say(ctx, dm, "He also sent me a private message."); err != nil {
		t.Fatal(err)
	}
	relayed, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "He also sent me a private message.", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if relayed.Content.AsMessage().RelatesTo.GetThreadParent() != start.ID {
		t.Errorf("the member's message is not in the ticket's thread: %+v", relayed.Content.AsMessage().RelatesTo)
	}
	// Nobody else is in the private chat.
	for _, evt := range w.Carol.Messages(dm) {
		if evt.Sender != w.StewardID && evt.Sender != w.Carol.UserID {
			t.Errorf("%s wrote in carol's private chat", evt.Sender)
		}
	}
	// Nobody else is invited either: the room's members, as carol (who is in it)
	// reads them from the homeserver, are Steward and carol.
	dmState, err := w.Carol.State(ctx, dm)
	if err != nil {
		t.Fatal(err)
	}
	for userID, member := range dmState[event.StateMember] {
		if id.UserID(userID) != w.StewardID && id.UserID(userID) != w.Carol.UserID {
			t.Errorf("%s is %s in carol's private chat", userID, member.Content.AsMember().Membership)
		}
	}
	if len(dmState[event.StateMember]) != 2 {
		t.Errorf("carol's private chat has %d members, want Steward and carol", len(dmState[event.StateMember]))
	}

	// While Steward is stopped, both sides write; nothing is lost.
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Carol.Say(ctx, dm, "Written while you were away."); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Bob.SayInThread(ctx, w.AdminRoom, start.ID, "Answered while Steward was away."); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Written while you were away.", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err = w.Carol.WaitForBody(ctx, dm, w.StewardID, "Answered while Steward was away.", time.Minute); err != nil {
		t.Fatal(err)
	}

	// The deadline passes: every admin is called, once.
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "The deadline of abuse report "+ticketID+" has passed", 3*time.Minute); err != nil {
		t.Fatal(err)
	}

	// An approved ban of the reported account, asked in the ticket's thread: done once,
	// logged, and the member told. Steward needs the power to ban first.
	if reply := sayInThread(t, w.Alice, start.ID, "!ban @mallory:localhost spamming"); !strings.Contains(reply, "I can't ban in the group room") {
		t.Errorf("!ban without the power level was answered %q", reply)
	}
	setStewardLevel(t, 50)
	// The reported message is removed, after approval.
	removal := sayInThread(t, w.Alice, start.ID, "!remove spam")
	rm := requestIDPattern.FindStringSubmatch(removal)
	if rm == nil {
		t.Fatalf("!remove did not ask for approval: %s", removal)
	}
	command(t, w.Bob, w.AdminRoom, "!approve "+rm[1])
	if err = w.Carol.WaitForBody(ctx, dm, w.StewardID, "The admins removed the message you reported.", time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Carol.GetEvent(ctx, w.GroupRoom, ad); err != nil || got.Unsigned.RedactedBecause == nil {
		t.Errorf("the reported message was not redacted: %v, %+v", err, got)
	}

	// A warning to the reported account, after approval, in a private chat.
	malloryInvites := w.Mallory.Invites()
	warning := sayInThread(t, w.Alice, start.ID, "!warn No ads in the group, please.")
	wm := requestIDPattern.FindStringSubmatch(warning)
	if wm == nil || !strings.Contains(warning, "sends "+w.Mallory.UserID.String()) {
		t.Fatalf("!warn did not ask for approval about mallory: %s", warning)
	}
	command(t, w.Bob, w.AdminRoom, "!approve "+wm[1])
	warned, err := w.Mallory.WaitForInvite(ctx, malloryInvites, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = w.Mallory.JoinRoomByID(ctx, warned); err != nil {
		t.Fatal(err)
	}
	if err = w.Mallory.WaitForBody(ctx, warned, w.StewardID, "No ads in the group, please.", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err = w.Carol.WaitForBody(ctx, dm, w.StewardID, "The admins warned the account you reported.", time.Minute); err != nil {
		t.Fatal(err)
	}

	request := sayInThread(t, w.Alice, start.ID, "!ban @mallory:localhost spamming the group")
	am := requestIDPattern.FindStringSubmatch(request)
	if am == nil || !strings.Contains(request, "the member who opened ticket "+ticketID+" is told") {
		t.Fatalf("!ban did not ask for approval as expected: %s", request)
	}
	command(t, w.Bob, w.AdminRoom, "!approve "+am[1])
	if err = w.Carol.WaitForBody(ctx, dm, w.StewardID, "The admins banned the account you reported, @mallory:localhost", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err = w.Carol.WaitForMembership(ctx, w.GroupRoom, w.Mallory.UserID, event.MembershipBan, time.Minute); err != nil {
		t.Error(err)
	}
	if again := command(t, w.Bob, w.AdminRoom, "!approve "+am[1]).Content.AsMessage().Body; strings.Contains(again, "Counted") {
		t.Errorf("a second approval was counted: %s", again)
	}

	// The decision reaches the member; the ticket is closed once.
	command(t, w.Bob, w.AdminRoom, "!take "+ticketID)
	command(t, w.Bob, w.AdminRoom, "!close "+ticketID+" Dave was warned and his ads removed.")
	if err = w.Carol.WaitForBody(ctx, dm, w.StewardID, "Dave was warned and his ads removed.", time.Minute); err != nil {
		t.Fatal(err)
	}
	if again := command(t, w.Alice, w.AdminRoom, "!close "+ticketID+" banned").Content.AsMessage().Body; !strings.Contains(again, "is closed already") {
		t.Errorf("a second close was answered %q", again)
	}
	if mine := command(t, w.Carol, dm, "!tickets").Content.AsMessage().Body; !strings.Contains(mine, "No tickets") {
		t.Errorf("carol's open tickets after the close: %s", mine)
	}
	if listed := command(t, w.Carol, w.GroupRoom, "!tickets").Content.AsMessage().Body; !strings.Contains(listed, "private chat") {
		t.Errorf("!tickets in the group room: %s", listed)
	}
	if counted := w.Alice.CountBodies(w.AdminRoom, w.StewardID, "has passed"); counted != 1 {
		t.Errorf("the deadline call came %d times, want once", counted)
	}

	// The report's words stay with the ticket: not in the decision log, not in the
	// inbox.
	dbPath := filepath.Join(w.Config.DataDir, "steward.db")
	for _, query := range []string{
		"SELECT count(*) FROM audit WHERE arguments LIKE '%pills%' OR detail LIKE '%pills%'",
		"SELECT count(*) FROM inbox WHERE body LIKE '%pills%' OR body LIKE '%private message%'",
	} {
		out, err := exec.CommandContext(ctx, "sqlite3", dbPath, query).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "0" {
			t.Errorf("%s: %s (%v), want 0", query, out, err)
		}
	}
	// The ban ran once, and the decision log says so, with the ticket.
	out, err := exec.CommandContext(ctx, "sqlite3", dbPath,
		"SELECT count(*) FROM audit WHERE action='command.ban' AND outcome='ok' AND detail LIKE '%ticket "+ticketID+"%'").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Errorf("logged bans: %s (%v), want 1", out, err)
	}
}

// sayInThread sends text in the admin room's thread at root, as who, and returns
// Steward's answer.
func sayInThread(t *testing.T, who *testbed.Client, root id.EventID, text string) string {
	t.Helper()
	eventID, err := who.SayInThread(t.Context(), w.AdminRoom, root, text)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := who.WaitForReply(t.Context(), w.StewardID, w.AdminRoom, eventID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return reply.Content.AsMessage().Body
}

// A member starts a private chat with Steward: it joins, greets, and the member's
// first message becomes a ticket in that chat, with its thread in the admin room.
func TestTicketFromMembersChat(t *testing.T) {
	ctx := t.Context()
	resp, err := w.Carol.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{w.StewardID},
		InitialState: []*event.Event{{
			Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	if err = w.Carol.WaitForMembership(ctx, room, w.StewardID, event.MembershipJoin, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err = w.Carol.WaitForBody(ctx, room, w.StewardID, "Write what you need", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Carol.State(ctx, room); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Carol.Say(ctx, room, "I lost the password of my mail account."); err != nil {
		t.Fatal(err)
	}
	welcome, err := w.Carol.WaitForMessage(ctx, room, w.StewardID, "This is ticket ", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	body := welcome.Content.AsMessage().Body
	ticketID := strings.Fields(body[strings.Index(body, "This is ticket ")+len("This is ticket "):])[0]
	ticketID = strings.Trim(ticketID, "*:")
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Request "+ticketID, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "I lost the password of my mail account.", time.Minute); err != nil {
		t.Fatal(err)
	}
	// Closed again, so that carol has no open ticket in the tests after this one.
	if closed := command(t, w.Alice, w.AdminRoom, "!close "+ticketID+" Reset by the admins.").Content.AsMessage().Body; !strings.Contains(closed, "Closed ticket "+ticketID) {
		t.Errorf("!close %s was answered %q", ticketID, closed)
	}
}

// joinTicketChat waits for Steward to invite c to a ticket's chat (a room not in
// known), joins it, and returns it with the ticket's ID and its first message.
func joinTicketChat(t *testing.T, c *testbed.Client, known map[id.RoomID]bool) (id.RoomID, string, *event.Event) {
	t.Helper()
	ctx := t.Context()
	dm, err := c.WaitForInvite(ctx, known, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = c.JoinRoomByID(ctx, dm); err != nil {
		t.Fatal(err)
	}
	welcome, err := c.WaitForMessage(ctx, dm, w.StewardID, "This is ticket ", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	body := welcome.Content.AsMessage().Body
	ticketID := strings.Trim(strings.Fields(body[strings.Index(body, "This is ticket ")+len("This is ticket "):])[0], "*:")
	return dm, ticketID, welcome
}

// setStewardLevel gives Steward power level level in the group room, until the test
// ends.
func setStewardLevel(t *testing.T, level int) {
	t.Helper()
	ctx := t.Context()
	var pl event.PowerLevelsEventContent
	if err := w.Alice.StateEvent(ctx, w.GroupRoom, event.StatePowerLevels, "", &pl); err != nil {
		t.Fatal(err)
	}
	before := pl.GetUserLevel(w.StewardID)
	set := func(ctx context.Context, level int) error {
		var pl event.PowerLevelsEventContent
		if err := w.Alice.StateEvent(ctx, w.GroupRoom, event.StatePowerLevels, "", &pl); err != nil {
			return err
		}
		pl.SetUserLevel(w.StewardID, level)
		_, err := w.Alice.SendStateEvent(ctx, w.GroupRoom, event.StatePowerLevels, "", &pl)
		return err
	}
	if err := set(ctx, level); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := set(context.WithoutCancel(ctx), before); err != nil {
			t.Errorf("restore Steward's power level: %v", err)
		}
	})
}

// A member's !request typed in the group room is removed from there once the ticket
// is open, when Steward has the power to redact: the other members see it redacted,
// the member is told so in the ticket's chat, and the ticket is open for the admins.
// With Steward's power lowered below redact, the report stays, the member is told it
// is still visible, and the admins are told why.
func TestReportRemovedFromGroupRoom(t *testing.T) {
	ctx := t.Context()
	setStewardLevel(t, 50)
	known := w.Carol.Invites()
	sent, err := w.Carol.Say(ctx, w.GroupRoom, "!request my mailbox is full, can someone help?")
	if err != nil {
		t.Fatal(err)
	}
	dm, ticketID, welcome := joinTicketChat(t, w.Carol, known)
	if body := welcome.Content.AsMessage().Body; !strings.Contains(body, "Your message in the group room is removed from there") {
		t.Errorf("the member's chat was opened with %q", body)
	}
	redaction, err := w.Bob.WaitForRedaction(ctx, w.GroupRoom, sent, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if redaction.Sender != w.StewardID || redaction.Content.AsRedaction().Reason != "moved to a private ticket" {
		t.Errorf("the request was redacted by %s, for %q", redaction.Sender, redaction.Content.AsRedaction().Reason)
	}
	if got, err := w.Bob.GetEvent(ctx, w.GroupRoom, sent); err != nil || got.Unsigned.RedactedBecause == nil {
		t.Errorf("bob still reads the request in the group room: %v, %+v", err, got)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Request "+ticketID, time.Minute); err != nil {
		t.Fatal(err)
	}
	if listed := command(t, w.Alice, w.AdminRoom, "!tickets").Content.AsMessage().Body; !strings.Contains(listed, ticketID) {
		t.Errorf("ticket %s is not open: %s", ticketID, listed)
	}
	if replies := w.Carol.RepliesTo(w.StewardID, w.GroupRoom, sent); len(replies) != 0 {
		t.Errorf("Steward answered the request in the group room: %s", replies[0].Content.AsMessage().Body)
	}
	if _, err = w.Carol.Say(ctx, dm, "It is the one at mail.example."); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "It is the one at mail.example.", time.Minute); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!close "+ticketID+" Mailbox cleaned up.")

	// Lowered below redact: the request stays, and everyone concerned is told.
	setStewardLevel(t, 0)
	known = w.Carol.Invites()
	kept, err := w.Carol.Say(ctx, w.GroupRoom, "!request and my calendar is gone")
	if err != nil {
		t.Fatal(err)
	}
	_, keptID, welcome := joinTicketChat(t, w.Carol, known)
	if body := welcome.Content.AsMessage().Body; !strings.Contains(body, "still visible to everyone there") || !strings.Contains(body, "you may delete it yourself") {
		t.Errorf("the member's chat was opened with %q", body)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "messages stay visible to everyone in the group room", time.Minute); err != nil {
		t.Error(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Request "+keptID, time.Minute); err != nil {
		t.Fatal(err)
	}
	// The removal would have been sent before the ticket's first messages.
	if got, err := w.Bob.GetEvent(ctx, w.GroupRoom, kept); err != nil || got.Unsigned.RedactedBecause != nil || w.Bob.Redacted(kept) {
		t.Errorf("the request was redacted without the power to: %v, %+v", err, got)
	}
	if n := w.Alice.CountBodies(w.AdminRoom, w.StewardID, "messages stay visible to everyone in the group room"); n != 1 {
		t.Errorf("the admins were told %d times that Steward can't remove requests, want once", n)
	}
	command(t, w.Alice, w.AdminRoom, "!close "+keptID+" Calendar restored.")
}

// A member starts a direct chat as Element does when the first message creates the
// room: the room, the invite and the first (encrypted) message all come before
// Steward has joined. Steward still answers that message, once. Steward is stopped
// meanwhile, so that it joins after the message whatever the machine's speed: a
// Steward running joins within a moment, and the message, whose sending waits for
// the room key to reach Steward's device, usually comes after.
func TestFirstMessageBeforeStewardJoins(t *testing.T) {
	ctx := t.Context()
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	started := false
	t.Cleanup(func() {
		if !started {
			if err := w.Steward.Start(context.WithoutCancel(ctx)); err != nil {
				t.Error(err)
			}
		}
	})
	resp, err := w.Carol.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{w.StewardID},
		InitialState: []*event.Event{{
			Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	// At once, without waiting for Steward to join.
	first, err := w.Carol.Say(ctx, room, "!help")
	if err != nil {
		t.Fatal(err)
	}
	started = true
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.Carol.WaitForMembership(ctx, room, w.StewardID, event.MembershipJoin, time.Minute); err != nil {
		t.Fatal(err)
	}
	reply, err := w.Carol.WaitForReply(ctx, w.StewardID, room, first, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Answered at all means it came encrypted: in an encrypted room, Steward
	// does not answer a message in clear text.
	if body := reply.Content.AsMessage().Body; !strings.Contains(body, "!request") {
		t.Errorf("!help was answered %q", body)
	}
	if outcome, err := w.WaitInboxDone(ctx, first, time.Minute); err != nil || outcome != "ok" {
		t.Errorf("the first message was handled with %q (%v)", outcome, err)
	}
	// Once: the greeting comes after the join, and a second answer never does. A
	// later message is answered after the first's, which shows nothing more was
	// queued for the first.
	second, err := w.Carol.Say(ctx, room, "!help")
	if err != nil {
		t.Fatal(err)
	}
	if _, err = w.Carol.WaitForReply(ctx, w.StewardID, room, second, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := len(w.Carol.RepliesTo(w.StewardID, room, first)); n != 1 {
		t.Errorf("the first message was answered %d times, want once", n)
	}
	if _, err = w.Carol.LeaveRoom(ctx, room); err != nil {
		t.Error(err)
	}
}

// The same first message, whose room key reaches Steward only after it joined and
// was killed while it waited for the key: after the restart the key comes, and the
// message is still answered.
func TestFirstMessageBeforeStewardJoinsKeyLate(t *testing.T) {
	ctx := t.Context()
	device, err := w.Steward.DeviceID()
	if err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	running := false
	t.Cleanup(func() {
		if !running {
			if err := w.Steward.Start(context.WithoutCancel(ctx)); err != nil {
				t.Error(err)
			}
		}
	})
	resp, err := w.Carol.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{w.StewardID},
		InitialState: []*event.Event{{
			Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	first, deliverKey, err := w.Carol.SayWithLateKey(ctx, room, "!help", w.StewardID, device)
	if err != nil {
		t.Fatal(err)
	}
	running = true
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.WaitKept(ctx, first, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Kill(); err != nil {
		t.Fatal(err)
	}
	running = false
	if err = deliverKey(ctx); err != nil {
		t.Fatal(err)
	}
	running = true
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	reply, err := w.Carol.WaitForReply(ctx, w.StewardID, room, first, time.Minute)
	if err != nil {
		t.Fatalf("a member's first message whose key came after a crash was never answered: %v", err)
	}
	if body := reply.Content.AsMessage().Body; !strings.Contains(body, "!request") {
		t.Errorf("!help was answered %q", body)
	}
	if _, err = w.Carol.LeaveRoom(ctx, room); err != nil {
		t.Error(err)
	}
}
