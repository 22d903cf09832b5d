package commands_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/state"
)

func TestLimiter(t *testing.T) {
	clock := newClock()
	// Three at once, then one every ten seconds.
	l := commands.NewLimiter(3, 6, clock.Now)
	type step struct {
		advance      time.Duration
		sender       string
		allow        bool
		firstRefusal bool // checked only when refused
	}
	steps := []step{
		{sender: "bob", allow: true},
		{sender: "bob", allow: true},
		{sender: "bob", allow: true},
		{sender: "bob", allow: false, firstRefusal: true},
		{sender: "bob", allow: false, firstRefusal: false},
		{sender: "alice", allow: true},
		{advance: 9 * time.Second, sender: "bob", allow: false, firstRefusal: false},
		{advance: time.Second, sender: "bob", allow: true},
		{sender: "bob", allow: false, firstRefusal: true},
		{sender: "bob", allow: false, firstRefusal: false},
		// A long pause refills the bucket, but never beyond the burst.
		{advance: time.Hour, sender: "bob", allow: true},
		{sender: "bob", allow: true},
		{sender: "bob", allow: true},
		{sender: "bob", allow: false, firstRefusal: true},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		sender := id.UserID("@" + s.sender + ":example.org")
		if got := l.Allow(sender); got != s.allow {
			t.Fatalf("step %d: Allow(%s) = %v, want %v", i+1, s.sender, got, s.allow)
		}
		if !s.allow {
			if got := l.FirstRefusal(sender); got != s.firstRefusal {
				t.Errorf("step %d: FirstRefusal(%s) = %v, want %v", i+1, s.sender, got, s.firstRefusal)
			}
		}
	}
}

func TestLimiterFirstRefusalForUnknownSender(t *testing.T) {
	l := commands.NewLimiter(1, 1, newClock().Now)
	if l.FirstRefusal("@nobody:example.org") {
		t.Error("FirstRefusal is true for a sender who was never refused")
	}
}

// TestLimiterConcurrent checks that commands running at the same time cannot take more
// than the burst between them.
func TestLimiterConcurrent(t *testing.T) {
	const burst = 5
	l := commands.NewLimiter(burst, 1, newClock().Now)
	var allowed, first atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if l.Allow(member) {
				allowed.Add(1)
			} else if l.FirstRefusal(member) {
				first.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != burst || first.Load() != 1 {
		t.Errorf("allowed %d and announced %d refusals; want %d and 1", allowed.Load(), first.Load(), burst)
	}
}

// What did not run, from someone who is not an admin, reaches the decision log cut to
// state.KeptText characters, its command name too; an admin's refused command, and
// what ran, keep their words.
func TestUnheededCommandsAreLoggedShort(t *testing.T) {
	p := &probe{}
	h := newHarness(t, groupCommands(p), func(h *harness) {
		h.limiter = commands.NewLimiter(1, 1, h.clock.Now)
	})
	long := strings.Repeat("word ", 1000)
	steps := []struct {
		sender  id.UserID
		body    string
		outcome string
		kept    int // characters of the arguments kept
	}{
		{member, "!hello " + long, state.OutcomeOK, len(strings.TrimSpace(long))},
		{member, "!hello " + long, state.OutcomeRateLimited, state.KeptText + 1},
		{admin, "!" + strings.Repeat("x", 500) + " " + long, state.OutcomeUnknown, len(strings.TrimSpace(long))},
	}
	for i, s := range steps {
		_, entry := h.send(s.sender, groupRoom, s.body)
		if entry.Outcome != s.outcome {
			t.Fatalf("step %d: outcome %q, want %q", i+1, entry.Outcome, s.outcome)
		}
		if n := len([]rune(entry.Arguments)); n != s.kept {
			t.Errorf("step %d (%s, %s): %d characters of arguments logged, want %d", i+1, s.sender, s.outcome, n, s.kept)
		}
	}
	h.clock.Advance(time.Hour)
	_, entry := h.send(member, groupRoom, "!"+strings.Repeat("x", 500)+" "+long)
	if entry.Outcome != state.OutcomeUnknown || len([]rune(entry.Action)) > state.KeptText+1 || len([]rune(entry.Arguments)) != state.KeptText+1 {
		t.Errorf("a member's long unknown command was logged as %q (%d characters) with %d characters of arguments, want both cut to %d",
			entry.Outcome, len([]rune(entry.Action)), len([]rune(entry.Arguments)), state.KeptText)
	}
}

// Reactions from anyone but an admin take from the members' bucket: past it they are
// not recorded at all (only admins' reactions act), and an admin's always count.
func TestMemberReactionsAreLimited(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, approvalRegistry(&runs), func(h *harness) {
		h.reactions = commands.NewLimiter(2, 1, h.clock.Now)
	})
	before := h.audit.count()
	var outcomes []string
	for range 4 {
		outcomes = append(outcomes, h.proc.HandleReaction(t.Context(), h.input(member, groupRoom, "✅"), "$anything"))
	}
	if outcomes[2] != state.OutcomeRateLimited || outcomes[3] != state.OutcomeRateLimited || outcomes[1] == state.OutcomeRateLimited {
		t.Errorf("a member's reactions: %q, want the third and fourth rate-limited", outcomes)
	}
	if got := h.audit.count() - before; got > 2 {
		t.Errorf("%d decision log entries for a member's four reactions, want at most the two let through", got)
	}
	for range 4 {
		if got := h.proc.HandleReaction(t.Context(), h.input(admin, adminRoom, "✅"), "$anything"); got == state.OutcomeRateLimited {
			t.Fatal("an admin's reaction was rate-limited")
		}
	}
}
