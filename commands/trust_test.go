package commands_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/state"
)

// Master keys as the homeserver serves them: alice's first identity, the one she
// made when she reset it, and a third that replaces it while a request waits.
const (
	oldKey   id.Ed25519 = "OLDoldOLDoldOLDoldOLDoldOLDoldOLDoldOLDoldo"
	newKey   id.Ed25519 = "NEWnewNEWnewNEWnewNEWnewNEWnewNEWnewNEWnewn"
	thirdKey id.Ed25519 = "3rd3rd3rd3rd3rd3rd3rd3rd3rd3rd3rd3rd3rd3rd3"
)

// fakeIdentities is the crypto store's view of users' identities, with the
// signatures Steward made.
type fakeIdentities struct {
	mu      sync.Mutex
	current map[id.UserID]id.Ed25519
	before  map[id.UserID]id.Ed25519
	trusted map[id.UserID]bool
	fail    error
	signed  []string
	// ineffective signatures trust nothing, as when Steward's own keys are not
	// trusted.
	ineffective bool
}

var _ commands.Identities = (*fakeIdentities)(nil)

func (f *fakeIdentities) MasterKey(_ context.Context, user id.UserID) (id.Ed25519, id.Ed25519, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", "", false, f.fail
	}
	return f.current[user], f.before[user], f.trusted[user], nil
}

func (f *fakeIdentities) TrustMasterKey(_ context.Context, user id.UserID, key id.Ed25519) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signed = append(f.signed, user.String()+" "+key.String())
	if f.current[user] == key && !f.ineffective {
		f.trusted[user] = true
	}
	return nil
}

// resetAlice is the state after alice reset her identity: Steward still trusts the
// first one, and every other admin's is the first it saw.
func resetAlice() *fakeIdentities {
	return &fakeIdentities{
		current: map[id.UserID]id.Ed25519{admin: newKey, carol: oldKey, member: oldKey},
		before:  map[id.UserID]id.Ed25519{admin: oldKey, carol: oldKey, member: oldKey},
		trusted: map[id.UserID]bool{carol: true, member: true},
	}
}

func trustHarness(t *testing.T, ids *fakeIdentities, admins ...id.UserID) *harness {
	reg := commands.Builtin(commands.Features{Identities: ids})
	return newHarness(t, pick(reg, "trust", "approve", "deny", "cancel", "pending"), withAdmins(admins...))
}

// fromResetDevice is body from a device alice's new identity signed, which Steward
// does not trust yet.
func fromResetDevice(h *harness, sender id.UserID, body string) *commands.Input {
	in := h.input(sender, adminRoom, body)
	in.Trust = id.TrustStateCrossSignedUntrusted
	return in
}

func TestFingerprintIsReadableInGroups(t *testing.T) {
	if got, want := commands.Fingerprint("abcdEFGHijkl+/01xyz"), "abcd EFGH ijkl +/01 xyz"; got != want {
		t.Errorf("Fingerprint = %q, want %q", got, want)
	}
	if got := commands.Fingerprint(""); got != "(none)" {
		t.Errorf("Fingerprint of no key = %q", got)
	}
}

// TestTrustRefusesWhatItCannotDo: a missing or malformed user, Steward itself,
// someone Steward does not deal with, an identity already trusted, a user without
// cross-signing keys and a homeserver that doesn't answer are each answered plainly,
// and nothing is asked or signed.
func TestTrustRefusesWhatItCannotDo(t *testing.T) {
	tests := []struct {
		name, body string
		change     func(*fakeIdentities)
		want       string
	}{
		{"no user", "!trust", nil, "Whose identity? Give their Matrix ID, like !trust @alice:example.org."},
		{"two users", "!trust @alice:example.org @carol:example.org", nil, "Whose identity?"},
		{"not an ID", "!trust alice", nil, `"alice" is not a Matrix ID`},
		{"Steward", "!trust @steward:example.org", nil, "That's me"},
		{"stranger", "!trust " + stranger.String(), nil, stranger.String() + " is neither an admin nor a member"},
		{"already trusted", "!trust " + carol.String(), nil, "I already trust @carol:example.org's identity (master key OLDo ldOL"},
		{"member already trusted", "!trust " + member.String(), nil, "I already trust @bob:example.org's identity"},
		{"no keys", "!trust " + carol.String(), func(f *fakeIdentities) { f.current[carol] = "" }, "@carol:example.org has no cross-signing identity"},
		{"homeserver away", "!trust " + carol.String(), func(f *fakeIdentities) { f.fail = errors.New("connection refused") },
			"I couldn't fetch @carol:example.org's keys from the homeserver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := resetAlice()
			if tt.change != nil {
				tt.change(ids)
			}
			h := trustHarness(t, ids, admin, carol, dave)
			replies, entry := h.send(dave, adminRoom, tt.body)
			if entry.Outcome != state.OutcomeBadInput {
				t.Errorf("outcome %q, want %q", entry.Outcome, state.OutcomeBadInput)
			}
			if got := onlyReply(t, replies).Plain; !strings.Contains(got, tt.want) {
				t.Errorf("reply %q, want it to say %q", got, tt.want)
			}
			if open := orFatal(h.db.Approvals.InState(t.Context(), state.ApprovalOpen))(t); len(open) != 0 {
				t.Errorf("%d requests opened, want none", len(open))
			}
			if strings.Contains(replies[0].Plain, "connection refused") {
				t.Errorf("the error's text reached the room: %q", replies[0].Plain)
			}
			if len(ids.signed) != 0 {
				t.Errorf("signed %v, want nothing", ids.signed)
			}
		})
	}
}

// TestTrustIsApprovedByAnotherAdmin: alice, whose devices Steward no longer trusts,
// asks for her new identity from a device it signs; the request shows the new key
// and the one trusted before; another admin's approval signs exactly the key shown,
// and the decision log says who asked, who approved, and both keys.
func TestTrustIsApprovedByAnotherAdmin(t *testing.T) {
	ids := resetAlice()
	h := trustHarness(t, ids, admin, carol)

	// Her other changing commands are still refused from that device, saying how
	// to get trusted again.
	replies, entry := h.handle(fromResetDevice(h, admin, "!approve ABCD"))
	if entry.Outcome != state.OutcomeRefused {
		t.Errorf("!approve from a reset identity: outcome %q, want refused", entry.Outcome)
	}
	wantReplies(t, replies, "is signed by a cross-signing identity of yours that is not the one I first saw (was it reset?)")
	if !strings.Contains(replies[0].Plain, "send `!trust @alice:example.org` from it") {
		t.Errorf("the refusal does not say how to get trusted again: %q", replies[0].Plain)
	}

	in := fromResetDevice(h, admin, "!trust "+admin.String())
	if outcome := h.proc.Handle(t.Context(), in); outcome != state.OutcomeAwaitingApproval {
		t.Fatalf("!trust of herself from her new identity: outcome %q, want %q; replies %+v", outcome, state.OutcomeAwaitingApproval, h.replier.take())
	}
	a := orFatal(h.db.Approvals.InState(t.Context(), state.ApprovalOpen))(t)[0]
	if a.Pin != string(newKey) {
		t.Errorf("the request pins %q, want the new master key", a.Pin)
	}
	wantPost(t, h, a, "master key NEWn ewNE Wnew NEWn", "instead of OLDo ldOL",
		"Approve only if @alice:example.org reads the same key in their own client", "Needs the approval of one admin other than")
	h.replier.take()

	// Her own yes does not count.
	answer(h, admin, "!approve "+a.ID)
	if len(ids.signed) != 0 {
		t.Fatalf("the requester's own approval signed %v", ids.signed)
	}

	before := h.audit.count()
	outcome, replies := answer(h, carol, "!approve "+a.ID)
	if outcome != state.OutcomeOK {
		t.Errorf("carol's approval: outcome %q", outcome)
	}
	if want := []string{admin.String() + " " + newKey.String()}; !equalStrings(ids.signed, want) {
		t.Fatalf("signed %v, want %v", ids.signed, want)
	}
	if !strings.Contains(strings.Join(replyTexts(replies), "\n"), "I now trust @alice:example.org's identity with master key `NEWn ewNE") {
		t.Errorf("replies %q, want the trust confirmed", replyTexts(replies))
	}
	ran := findAudit(auditSince(h, before), "command.trust")
	if len(ran) != 1 {
		t.Fatalf("%d command.trust entries, want 1", len(ran))
	}
	for _, want := range []string{"trusted @alice:example.org", "master key NEWn ewNE", "before OLDo ldOL", "asked by @alice:example.org", "approved by @carol:example.org"} {
		if !strings.Contains(ran[0].Detail, want) {
			t.Errorf("decision log detail %q, want it to say %q", ran[0].Detail, want)
		}
	}
	if ran[0].Outcome != state.OutcomeOK || ran[0].Actor != admin {
		t.Errorf("command.trust entry %s by %s, want ok by %s", ran[0].Outcome, ran[0].Actor, admin)
	}
}

// TestTrustRunsOnlyForThePinnedKey: when the user's identity changes again while the
// request waits, the approval trusts nothing and says why.
func TestTrustRunsOnlyForThePinnedKey(t *testing.T) {
	ids := resetAlice()
	h := trustHarness(t, ids, admin, carol, dave)
	a := ask(t, h, dave, "!trust "+admin.String())

	ids.mu.Lock()
	ids.current[admin] = thirdKey
	ids.mu.Unlock()
	_, replies := answer(h, carol, "!approve "+a.ID)
	if len(ids.signed) != 0 {
		t.Fatalf("signed %v after the key changed, want nothing", ids.signed)
	}
	if got := strings.Join(replyTexts(replies), "\n"); !strings.Contains(got, "@alice:example.org's master key changed since the request (it was NEWn") ||
		!strings.Contains(got, "it is now 3rd3") {
		t.Errorf("replies %q, want them to say the key changed", got)
	}
	if got := reload(t, h, a); got.Outcome != state.OutcomeBadInput {
		t.Errorf("the request ended %q, want %q", got.Outcome, state.OutcomeBadInput)
	}
}

// TestTrustFromAnUntrustedDevice: only !trust of oneself is open to a device signed
// by one's own new identity; a device nobody cross-signed, or a clear-text message,
// is refused as for any change.
func TestTrustFromAnUntrustedDevice(t *testing.T) {
	ids := resetAlice()
	h := trustHarness(t, ids, admin, carol, dave)

	replies, entry := h.handle(fromResetDevice(h, admin, "!trust "+carol.String()))
	if entry.Outcome != state.OutcomeRefused {
		t.Errorf("!trust of someone else from a reset identity: outcome %q, want refused", entry.Outcome)
	}
	wantReplies(t, replies, "`!trust` changes something, so it must come from a device you have verified")

	unsigned := h.input(admin, adminRoom, "!trust "+admin.String())
	unsigned.Trust = id.TrustStateUnset
	replies, entry = h.handle(unsigned)
	if entry.Outcome != state.OutcomeRefused {
		t.Errorf("!trust of herself from a device nobody cross-signed: outcome %q, want refused", entry.Outcome)
	}
	wantReplies(t, replies, "is not cross-signed: verify it")

	clear := fromResetDevice(h, admin, "!trust "+admin.String())
	clear.Encrypted = false
	h.rooms.unencrypted[adminRoom] = true
	h.settings.AllowUnencrypted = true
	h.restart()
	if _, entry = h.handle(clear); entry.Outcome != state.OutcomeRefused {
		t.Errorf("!trust of herself in clear text: outcome %q, want refused", entry.Outcome)
	}
	if len(ids.signed) != 0 {
		t.Errorf("signed %v, want nothing", ids.signed)
	}
}

// TestTrustNeedsSomeoneToApprove: with two admins, the one whose identity is not
// trusted cannot approve the other's request for it, so the request is refused at
// once with what works instead.
func TestTrustNeedsSomeoneToApprove(t *testing.T) {
	ids := resetAlice()
	h := trustHarness(t, ids, admin, carol)
	replies, entry := h.send(carol, adminRoom, "!trust "+admin.String())
	if entry.Outcome != state.OutcomeBadInput {
		t.Errorf("outcome %q, want %q", entry.Outcome, state.OutcomeBadInput)
	}
	wantReplies(t, replies, "Only @alice:example.org could approve that, and no device of theirs counts as verified now. Ask @alice:example.org to send !trust @alice:example.org from their new session")
}

// TestTrustAloneIsRefused: a single admin (with policy.allow_single_admin) who reset
// their identity cannot vouch for it themselves.
func TestTrustAloneIsRefused(t *testing.T) {
	ids := resetAlice()
	reg := commands.Builtin(commands.Features{Identities: ids})
	h := newHarness(t, pick(reg, "trust", "approve"), func(h *harness) { h.allowSingleAdmin = true })
	replies, entry := h.handle(fromResetDevice(h, admin, "!trust "+admin.String()))
	if entry.Outcome != state.OutcomeBadInput {
		t.Errorf("outcome %q, want %q", entry.Outcome, state.OutcomeBadInput)
	}
	wantReplies(t, replies, "You are the only admin, so nobody can approve trusting your new identity")
	if len(ids.signed) != 0 {
		t.Errorf("signed %v, want nothing", ids.signed)
	}
}

// TestTrustThatDoesNotHoldIsAnError: a signature that leaves the identity untrusted
// (Steward's own keys not trusted) is not reported as done.
func TestTrustThatDoesNotHoldIsAnError(t *testing.T) {
	ids := resetAlice()
	ids.ineffective = true
	h := trustHarness(t, ids, admin, carol, dave)
	a := ask(t, h, dave, "!trust "+admin.String())
	_, replies := answer(h, carol, "!approve "+a.ID)
	if got := strings.Join(replyTexts(replies), "\n"); strings.Contains(got, "I now trust") || !strings.Contains(got, "Something went wrong while running") {
		t.Errorf("replies %q, want a failure and no confirmation", got)
	}
	if got := reload(t, h, a); got.Outcome != state.OutcomeError {
		t.Errorf("the request ended %q, want %q", got.Outcome, state.OutcomeError)
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

// TestTrustOfAMemberByALoneAdmin: a single admin (with policy.allow_single_admin)
// confirms trusting a member's new identity alone, as they confirm any destructive
// command; the member, who can't use !trust, is not named as the one to approve.
func TestTrustOfAMemberByALoneAdmin(t *testing.T) {
	ids := resetAlice()
	ids.current[member], ids.trusted[member] = newKey, false
	reg := commands.Builtin(commands.Features{Identities: ids})
	h := newHarness(t, pick(reg, "trust", "approve"), func(h *harness) { h.allowSingleAdmin = true })
	a := ask(t, h, admin, "!trust "+member.String())
	answer(h, admin, "!approve "+a.ID)
	if want := []string{member.String() + " " + newKey.String()}; !equalStrings(ids.signed, want) {
		t.Errorf("signed %v, want %v", ids.signed, want)
	}
}
