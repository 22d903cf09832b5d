package e2e

import (
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/e2e/testbed"
)

// TestRepliesAreNotReadableOnUnverifiedDevices: a member whose session nobody verified
// (as a stolen password would give) can talk to Steward, but Steward does not share its
// room keys with that session, so the answer cannot be read there, while the verified
// members in the room read it.
func TestRepliesAreNotReadableOnUnverifiedDevices(t *testing.T) {
	ctx := t.Context()
	if err := testbed.Register(ctx, w.HS.URL, "erin", testbed.Password); err != nil {
		t.Fatal(err)
	}
	erin, err := testbed.NewUnverifiedClient(ctx, w.HS.URL, "erin", testbed.Password, w.Dir, w.Alice.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer erin.Close()
	if _, err = w.Alice.InviteUser(ctx, w.GroupRoom, &mautrix.ReqInviteUser{UserID: erin.UserID}); err != nil {
		t.Fatal(err)
	}
	if _, err = erin.JoinRoomByID(ctx, w.GroupRoom); err != nil {
		t.Fatal(err)
	}
	if err = w.Carol.WaitForMembership(ctx, w.GroupRoom, erin.UserID, event.MembershipJoin, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// Erin's client must know the room's members (Steward among them) before it
	// encrypts, or Steward never gets the key to her message.
	if err = erin.WaitForMembership(ctx, w.GroupRoom, w.StewardID, event.MembershipJoin, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	eventID, err := erin.Say(ctx, w.GroupRoom, "!ping")
	if err != nil {
		t.Fatal(err)
	}
	// Carol, verified and in the same room, reads the answer...
	reply, err := w.Carol.WaitForReply(ctx, w.StewardID, w.GroupRoom, eventID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(reply.Content.AsMessage().Body, "Pong!") {
		t.Errorf("answer to erin: %q", reply.Content.AsMessage().Body)
	}
	// ...erin's unverified session cannot (it gets the event, but no key for it).
	if _, err = erin.WaitForReply(ctx, w.StewardID, w.GroupRoom, eventID, 5*time.Second); err == nil {
		t.Error("Steward's answer was readable on a session nobody verified")
	}
}
