package e2e

import (
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/e2e/testbed"
	"github.com/steward-bot/steward/state"
)

// TestSecondUnverifiedDeviceCannotChangeAnything logs in to an admin's account from a
// new session nobody cross-signed, as a stolen password would give: every command
// that changes something is refused and the admin reads why (on a verified session:
// Steward shares no keys with the new one), while a command that only reads runs.
func TestSecondUnverifiedDeviceCannotChangeAnything(t *testing.T) {
	ctx := t.Context()
	thief, err := testbed.NewUnverifiedClient(ctx, w.HS.URL, "alice", testbed.Password, t.TempDir(), w.Alice.Log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = thief.Logout(ctx)
		thief.Close()
	})
	// The new session must know the room's members (Steward among them) before it
	// encrypts, or Steward never gets the key to its messages.
	if err = thief.WaitForMembership(ctx, w.AdminRoom, w.StewardID, event.MembershipJoin, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	for _, body := range []string{
		"!maintenance 30d nothing to see",
		"!silence disk:* 1h quiet",
		"!oncall take",
		"!reload",
		"!backup nightly",
		"!restore nightly /srv",
		"!close T1 done",
		"!approve A1",
	} {
		eventID, err := thief.Say(ctx, w.AdminRoom, body)
		if err != nil {
			t.Fatal(err)
		}
		outcome, err := w.WaitHandled(ctx, eventID, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if outcome != state.OutcomeRefused {
			t.Errorf("%q from an unverified session: outcome %q, want refused", body, outcome)
			continue
		}
		reply, err := w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, eventID, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		name, _, _ := strings.Cut(body, " ")
		got := reply.Content.AsMessage().Body
		for _, want := range []string{"`" + name + "` changes something, so it must come from a device you have verified", "is not cross-signed: verify it"} {
			if !strings.Contains(got, want) {
				t.Errorf("answer to %q from an unverified session: %q, want it to say %q", body, got, want)
			}
		}
	}

	eventID, err := thief.Say(ctx, w.AdminRoom, "!oncall")
	if err != nil {
		t.Fatal(err)
	}
	if outcome, err := w.WaitHandled(ctx, eventID, time.Minute); err != nil || outcome != state.OutcomeOK {
		t.Errorf("!oncall, which only reads, from an unverified session: outcome %q, %v; want ok", outcome, err)
	}
}
