package commands

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
	"maunium.net/go/mautrix/id"
)

// Limiter gives each sender a token bucket, so one person (or one compromised account)
// cannot keep Steward busy or flood the room with answers.
type Limiter struct {
	mu      sync.Mutex
	burst   int
	every   rate.Limit
	now     func() time.Time
	senders map[id.UserID]*senderLimit
}

type senderLimit struct {
	limiter *rate.Limiter
	// refused is true while the sender is being refused; it makes the refusal
	// message go out once per episode rather than once per command.
	refused bool
}

// NewLimiter allows each sender burst commands at once and perMinute on average.
func NewLimiter(burst int, perMinute float64, now func() time.Time) *Limiter {
	return &Limiter{burst: burst, every: rate.Limit(perMinute / 60), now: now, senders: make(map[id.UserID]*senderLimit)}
}

// Allow takes a token for sender and reports whether there was one.
func (l *Limiter) Allow(sender id.UserID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.senders[sender]
	if s == nil {
		s = &senderLimit{limiter: rate.NewLimiter(l.every, l.burst)}
		l.senders[sender] = s
	}
	if s.limiter.AllowN(l.now(), 1) {
		s.refused = false
		return true
	}
	return false
}

// FirstRefusal reports whether this is the first refusal since sender was last
// allowed, and marks it.
func (l *Limiter) FirstRefusal(sender id.UserID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.senders[sender]
	if s == nil || s.refused {
		return false
	}
	s.refused = true
	return true
}
