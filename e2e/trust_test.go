package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/e2e/testbed"
	"github.com/steward-bot/steward/state"
)

var approvalNeeded = regexp.MustCompile(`Approval needed: ([A-Z0-9]+)`)

// TestTrustAfterIdentityReset: frank, one of two admins, resets his cross-signing
// identity (new master key, a new session signed by it). Steward keeps trusting the
// identity it first saw, so his change is refused, with why. He asks for his new
// identity with !trust from the new session; alice, the other admin, reads both
// fingerprints in the request and approves; Steward signs the new master key, and
// frank's change from his new session runs, across a restart of Steward while the
// request waits. It uses a Steward and an admin of its
// own: resetting alice's or bob's identity would leave every other test's Steward
// refusing them.
func TestTrustAfterIdentityReset(t *testing.T) {
	ctx := t.Context()
	if err := testbed.Register(ctx, w.HS.URL, "frank", testbed.Password); err != nil {
		t.Fatal(err)
	}
	frankID := id.NewUserID("frank", testbed.ServerName)
	frank, err := testbed.NewClient(ctx, w.HS.URL, "frank", testbed.Password, t.TempDir(), w.Alice.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer frank.Close()
	s, cfg, err := w.NewStewardWith(ctx, "steward-trust", func(c *testbed.StewardConfig) {
		c.Admins = []id.UserID{w.Alice.UserID, frankID}
	})
	if s != nil {
		t.Cleanup(func() { _ = s.Stop() })
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.InviteUser(ctx, cfg.AdminRoom, &mautrix.ReqInviteUser{UserID: frankID}); err != nil {
		t.Fatal(err)
	}
	if _, err = frank.JoinRoomByID(ctx, cfg.AdminRoom); err != nil {
		t.Fatal(err)
	}
	if err = frank.WaitForMembership(ctx, cfg.AdminRoom, cfg.UserID, event.MembershipJoin, time.Minute); err != nil {
		t.Fatal(err)
	}
	// say sends body from c and waits until Steward has decided about it.
	say := func(c *testbed.Client, body string) (id.EventID, string) {
		t.Helper()
		eventID, err := c.Say(ctx, cfg.AdminRoom, body)
		if err != nil {
			t.Fatal(err)
		}
		outcome, err := testbed.WaitHandledIn(ctx, cfg.DataDir, eventID, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return eventID, outcome
	}

	// Steward meets frank's first identity: his change runs.
	if _, outcome := say(frank, "!silence disk:* 1h before the reset"); outcome != state.OutcomeOK {
		t.Fatalf("frank's !silence before the reset: outcome %q, want ok", outcome)
	}
	oldKey, err := frank.MasterKey(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// He loses his recovery key and starts over in a new session.
	reset, err := testbed.NewUnverifiedClient(ctx, w.HS.URL, "frank", testbed.Password, t.TempDir(), w.Alice.Log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = reset.Logout(ctx)
		reset.Close()
	})
	if err = reset.ResetCrossSigning(ctx, testbed.Password); err != nil {
		t.Fatal(err)
	}
	newKey, err := reset.MasterKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if newKey == oldKey {
		t.Fatal("the reset kept the master key")
	}
	if err = reset.WaitForMembership(ctx, cfg.AdminRoom, cfg.UserID, event.MembershipJoin, time.Minute); err != nil {
		t.Fatal(err)
	}

	// His new session is cross-signed, but by an identity Steward does not trust.
	eventID, outcome := say(reset, "!silence disk:* 1h after the reset")
	if outcome != state.OutcomeRefused {
		t.Fatalf("frank's !silence from his reset identity: outcome %q, want refused", outcome)
	}
	// Steward shares no room keys with that session, so alice reads the answer.
	reply, err := w.Alice.WaitForReply(ctx, cfg.UserID, cfg.AdminRoom, eventID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"is signed by a cross-signing identity of yours that is not the one I first saw", "send `!trust " + frankID.String() + "` from it"} {
		if got := reply.Content.AsMessage().Body; !strings.Contains(got, want) {
			t.Errorf("refusal %q, want it to say %q", got, want)
		}
	}

	// He asks for his new identity; alice compares and approves.
	// (The request is its answer; a refusal would be one too.)
	if eventID, err = reset.Say(ctx, cfg.AdminRoom, "!trust "+frankID.String()); err != nil {
		t.Fatal(err)
	}
	request, err := w.Alice.WaitForReply(ctx, cfg.UserID, cfg.AdminRoom, eventID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	text := request.Content.AsMessage().Body
	for _, want := range []string{"master key " + commands.Fingerprint(newKey) + " as the homeserver serves it now", "instead of " + commands.Fingerprint(oldKey)} {
		if !strings.Contains(text, want) {
			t.Errorf("the request reads %q, want it to say %q", text, want)
		}
	}
	m := approvalNeeded.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no request ID in %q", text)
	}
	// A restart finds Steward's device verified and loads no cross-signing private
	// keys: the approval must read its user-signing key back with the recovery key.
	if err = s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err = s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	approve, err := w.Alice.Say(ctx, cfg.AdminRoom, "!approve "+m[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err = testbed.WaitHandledIn(ctx, cfg.DataDir, approve, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.WaitForReplySaying(ctx, cfg.UserID, cfg.AdminRoom, eventID, "I now trust "+frankID.String(), time.Minute); err != nil {
		t.Fatal(err)
	}
	// Steward shares its room keys with his new session from then on: he reads it too.
	if _, err = reset.WaitForReplySaying(ctx, cfg.UserID, cfg.AdminRoom, eventID, "I now trust "+frankID.String(), time.Minute); err != nil {
		t.Errorf("frank's new session can't read Steward's answer: %v", err)
	}

	// His change from the new session now runs.
	if _, outcome := say(reset, "!silence disk:* 1h after the trust"); outcome != state.OutcomeOK {
		t.Errorf("frank's !silence after !trust: outcome %q, want ok", outcome)
	}

	db, err := state.Open(ctx, filepath.Join(cfg.DataDir, "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := db.Audit.Find(ctx, state.AuditFilter{Limit: 10, Action: "trust"})
	if err != nil {
		t.Fatal(err)
	}
	var ran *state.AuditEntry
	for _, e := range entries {
		if e.Outcome == state.OutcomeOK && e.ParentID != 0 {
			ran = e
		}
	}
	if ran == nil {
		t.Fatalf("no decision log entry of the trust being done among %+v", entries)
	}
	for _, want := range []string{"trusted " + frankID.String(), commands.Fingerprint(newKey), "before " + commands.Fingerprint(oldKey), "approved by " + w.Alice.UserID.String()} {
		if !strings.Contains(ran.Detail, want) {
			t.Errorf("decision log entry %q, want it to say %q", ran.Detail, want)
		}
	}
	if ran.Actor != frankID {
		t.Errorf("decision log entry by %s, want frank, who asked", ran.Actor)
	}
}
