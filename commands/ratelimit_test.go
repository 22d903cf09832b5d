package commands_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
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
