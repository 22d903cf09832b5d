package e2e

import (
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
)

func TestAdminPingGetsEncryptedReply(t *testing.T) {
	reply := command(t, w.Alice, w.AdminRoom, "!ping")
	if !reply.Mautrix.WasEncrypted {
		t.Error("the reply was not encrypted")
	}
	content := reply.Content.AsMessage()
	if content.MsgType != event.MsgNotice || !strings.HasPrefix(content.Body, "Pong! Your message took ") {
		t.Errorf("unexpected reply %s %q", content.MsgType, content.Body)
	}
	if !strings.Contains(content.FormattedBody, "<strong>") {
		t.Errorf("reply has no HTML body: %q", content.FormattedBody)
	}
}

func TestHelpListsWhatTheAskerMayUse(t *testing.T) {
	admin := command(t, w.Alice, w.AdminRoom, "!help").Content.AsMessage().Body
	member := command(t, w.Carol, w.GroupRoom, "!help").Content.AsMessage().Body
	if !strings.Contains(admin, "!status") || !strings.Contains(admin, "!ping") {
		t.Errorf("admin help lacks commands:\n%s", admin)
	}
	if strings.Contains(member, "!status") || !strings.Contains(member, "!whoami") {
		t.Errorf("member help should list !whoami but not !status:\n%s", member)
	}
}

func TestMemberStatusIsRefused(t *testing.T) {
	body := command(t, w.Carol, w.GroupRoom, "!status").Content.AsMessage().Body
	if !strings.Contains(body, "Only admins can use `!status`") {
		t.Errorf("member's !status was not refused: %q", body)
	}
}

func TestAdminStatusShowsRealFigures(t *testing.T) {
	body := command(t, w.Alice, w.AdminRoom, "!status").Content.AsMessage().Body
	for _, want := range []string{"up ", "load ", "Memory: ", "Disk", "Inodes"} {
		if !strings.Contains(body, want) {
			t.Errorf("status lacks %q:\n%s", want, body)
		}
	}
}

func TestWhoamiSaysRoleAndVerification(t *testing.T) {
	body := command(t, w.Bob, w.AdminRoom, "!whoami").Content.AsMessage().Body
	if !strings.Contains(body, "admin") || !strings.Contains(body, "is verified") || !strings.Contains(body, string(w.Bob.DeviceID)) {
		t.Errorf("whoami: %q", body)
	}
	body = command(t, w.Carol, w.GroupRoom, "!whoami").Content.AsMessage().Body
	if !strings.Contains(body, "member") {
		t.Errorf("whoami for a member: %q", body)
	}
}

func TestAdminCommandInGroupRoomIsRefused(t *testing.T) {
	body := command(t, w.Alice, w.GroupRoom, "!status").Content.AsMessage().Body
	if !strings.Contains(body, "in the admin room") {
		t.Errorf("admin's !status in the group room: %q", body)
	}
}

func TestStrangerInviteIsRejected(t *testing.T) {
	ctx := t.Context()
	room, err := w.Mallory.CreateRoom(ctx, "Trap", true, w.StewardID)
	if err != nil {
		t.Fatal(err)
	}
	if err = w.Mallory.WaitForMembership(ctx, room, w.StewardID, event.MembershipLeave, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// An admin's invite to a room that is not configured is refused too.
	other, err := w.Alice.CreateRoom(ctx, "Elsewhere", true, w.StewardID)
	if err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForMembership(ctx, other, w.StewardID, event.MembershipLeave, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestBotDeviceIsCrossSigned(t *testing.T) {
	assertStewardCrossSigned(t, w.Bob)
}

// assertStewardCrossSigned checks, from c's client, that the device Steward answers
// from is cross-signed by Steward's own identity, and returns that device's ID.
func assertStewardCrossSigned(t *testing.T, c *testbed.Client) id.DeviceID {
	t.Helper()
	reply := command(t, c, w.AdminRoom, "!ping")
	if reply.Mautrix.TrustSource == nil {
		t.Fatal("the reply carries no sending device")
	}
	if reply.Mautrix.TrustState < id.TrustStateCrossSignedTOFU {
		t.Errorf("reply decrypted with trust %s, want cross-signed", reply.Mautrix.TrustState)
	}
	deviceID := reply.Mautrix.TrustSource.DeviceID
	trust, err := c.DeviceTrust(t.Context(), w.StewardID, deviceID)
	if err != nil {
		t.Fatal(err)
	}
	if trust < id.TrustStateCrossSignedTOFU {
		t.Errorf("Steward's device %s has trust %s as seen by %s, want cross-signed", deviceID, trust, c.UserID)
	}
	return deviceID
}

// TestCommandInThreadIsAnsweredInThread checks that a command sent inside a thread is
// answered in that thread, as a reply to the command.
func TestCommandInThreadIsAnsweredInThread(t *testing.T) {
	ctx := t.Context()
	root, err := w.Alice.Say(ctx, w.AdminRoom, "Planning the weekend maintenance")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := w.Alice.SendMessageEvent(ctx, w.AdminRoom, event.EventMessage, &event.MessageEventContent{
		MsgType:   event.MsgText,
		Body:      "!ping",
		RelatesTo: (&event.RelatesTo{}).SetThread(root, root),
	})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, resp.EventID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rel := reply.Content.AsMessage().RelatesTo
	if rel.GetThreadParent() != root || rel.GetNonFallbackReplyTo() != resp.EventID {
		t.Errorf("reply relates to %+v, want thread %s and a reply to %s", rel, root, resp.EventID)
	}
}

// TestLogShowsWhatWasDecided reads the decision log back into the admin room.
func TestLogShowsWhatWasDecided(t *testing.T) {
	command(t, w.Carol, w.GroupRoom, "!status") // a refusal to find
	body := command(t, w.Alice, w.AdminRoom, "!log 5 --action status").Content.AsMessage().Body
	if !strings.Contains(body, string(w.Carol.UserID)) || !strings.Contains(body, "refused") {
		t.Errorf("!log does not show carol's refused !status:\n%s", body)
	}
}
