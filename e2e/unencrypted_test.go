package e2e

import (
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/e2e/testbed"
)

// TestUnencryptedAdminRoomIsRefused points Steward at an admin room without
// encryption: it joins on the admin's invite but refuses to run commands there, says
// why once, and then stays quiet.
func TestUnencryptedAdminRoomIsRefused(t *testing.T) {
	ctx := t.Context()
	plain, err := w.Alice.CreateRoom(ctx, "Admins without encryption", false)
	if err != nil {
		t.Fatal(err)
	}
	withConfig(t, func(c *testbed.StewardConfig) { c.AdminRoom = plain })
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.InviteUser(ctx, plain, &mautrix.ReqInviteUser{UserID: w.StewardID}); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForMembership(ctx, plain, w.StewardID, event.MembershipJoin, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	first := command(t, w.Alice, plain, "!status").Content.AsMessage().Body
	if !strings.Contains(first, "not end-to-end encrypted") || strings.Contains(first, "Memory") {
		t.Errorf("first command in the unencrypted admin room: %q", first)
	}
	second, err := w.Alice.Say(ctx, plain, "!ping")
	if err != nil {
		t.Fatal(err)
	}
	outcome, err := w.WaitHandled(ctx, second, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if outcome != "refused" {
		t.Errorf("second command's outcome %q, want refused", outcome)
	}
	// Its answer, had there been one, was queued before the outcome was recorded; a
	// reply to a later command in the same room shows the outbox got past it.
	command(t, w.Carol, w.GroupRoom, "!ping")
	if n := len(w.Alice.RepliesTo(w.StewardID, plain, second)); n != 0 {
		t.Errorf("second command in the unencrypted admin room got %d replies, want none", n)
	}
}
