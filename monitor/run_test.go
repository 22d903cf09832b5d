package monitor

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// startRun runs the engine with checks until the test ends, and returns the function
// that stops it and waits for it to return.
func startRun(t *testing.T, h *harness, checks ...Check) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		escalated := make(chan struct{})
		go func() {
			defer close(escalated)
			h.eng.Escalate(ctx)
		}()
		h.eng.Run(ctx, checks)
		<-escalated
	}()
	return func() {
		cancel()
		<-done
	}
}

func TestForDuration(t *testing.T) {
	const never = -1
	tests := []struct {
		name string
		for_ time.Duration
		// problemRounds is how many rounds (one a minute) report the problem; never
		// for all of them.
		problemRounds int
		// firesAt is when the alert fires (and is posted a group wait later).
		firesAt time.Duration
	}{
		{"shorter than for posts nothing", 5 * time.Minute, 5, never},
		{"lasting for fires once", 5 * time.Minute, never, 5 * time.Minute},
		{"for 0 fires at the first round", 0, never, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness()
				check := &scriptedCheck{name: "disk", every: time.Minute, script: func(round int) ([]Observation, error) {
					if tt.problemRounds == never || round < tt.problemRounds {
						return []Observation{diskAt("/var", 90, tt.for_)}, nil
					}
					return []Observation{diskAt("/var", 50, tt.for_)}, nil
				}}
				stop := startRun(t, h, check)
				defer stop()

				if tt.firesAt != never {
					time.Sleep(tt.firesAt + groupWait - time.Second)
					synctest.Wait()
					if posts := h.msgr.Posts(); len(posts) != 0 {
						t.Fatalf("posted a second before due: %v", posts)
					}
					time.Sleep(2 * time.Second)
					synctest.Wait()
					if posts := h.msgr.Posts(); len(posts) != 1 {
						t.Fatalf("posted %d messages a second after due, want 1", len(posts))
					}
				}
				time.Sleep(30 * time.Minute)
				synctest.Wait()
				posts := h.msgr.Posts()
				alerts := h.store.all()
				if tt.firesAt == never {
					if len(posts) != 0 || len(alerts) != 0 {
						t.Errorf("a problem shorter than its for left posts %v and alerts %v; want none", posts, alerts)
					}
					return
				}
				if len(posts) != 1 || len(alerts) != 1 {
					t.Errorf("after 30 minutes: %d messages and %d alerts, want 1 of each", len(posts), len(alerts))
				}
			})
		})
	}
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		// An alert of a check since removed from the config, posted before a restart.
		h.apply(t, "http:removed", down("removed"))
		time.Sleep(groupWait)
		h.flush(t)

		web := &scriptedCheck{name: "http:web", every: 30 * time.Second, script: func(round int) ([]Observation, error) {
			if round >= 2 {
				return []Observation{down("web")}, nil
			}
			return nil, nil
		}}
		disk := &scriptedCheck{name: "disk", every: time.Minute, script: func(int) ([]Observation, error) {
			return []Observation{diskAt("/var", 50, 0)}, nil
		}}
		stop := startRun(t, h, web, disk)
		synctest.Wait()
		if f := h.msgr.FollowUps(); len(f) != 1 || !strings.HasPrefix(f[0].Text, "✅ Resolved: removed does not answer") {
			t.Errorf("follow-ups at start = %+v, want the removed check's alert resolved", f)
		}

		// web goes down in its third round (60s in) and is posted a group wait later.
		time.Sleep(89 * time.Second)
		synctest.Wait()
		if posts := h.msgr.Posts(); len(posts) != 1 {
			t.Fatalf("%d messages before the group wait was over, want only the earlier one", len(posts))
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		posts := h.msgr.Posts()
		if len(posts) != 2 || !strings.HasPrefix(posts[1].Text, "🔴 Critical: web does not answer (#2)") {
			t.Fatalf("messages = %v, want web's alert posted", posts)
		}

		stop()
		rounds := web.rounds.Load() + disk.rounds.Load()
		time.Sleep(10 * time.Minute)
		if n := web.rounds.Load() + disk.rounds.Load(); n != rounds {
			t.Errorf("checks ran %d more rounds after Run returned", n-rounds)
		}
	})
}
