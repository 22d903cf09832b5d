// Package health is how Steward is watched from outside and watches itself: whether it
// is ready (/readyz, the systemd watchdog), the heartbeat to a watcher on another
// machine that alerts when it stops, the one plain-text notice when the homeserver
// can't be reached, and the alarms about its own faults, raised through the alert
// engine like any other.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/steward-bot/steward/render"
)

// Sync is the sync loop's progress as health reads it (bot.SyncStatus).
type Sync struct {
	// Done is set once the first sync of this run has been handled.
	Done bool
	// LastSuccess is when a sync was last handled.
	LastSuccess time.Time
	// FailingSince is when the syncs began to fail; zero while they succeed.
	FailingSince time.Time
	// UnreachableSince is when the homeserver stopped answering; zero while it
	// answers, even with errors.
	UnreachableSince time.Time
	// LastError is the latest failure's text.
	LastError string
	// PollingSince is when the long poll waiting on the homeserver began (zero for
	// none), which returns at the latest after PollTimeout.
	PollingSince time.Time
	PollTimeout  time.Duration
	// HandlingSince is when the batch being handled arrived (zero for none).
	HandlingSince time.Time
	// Progress is when the loop last began or ended a step.
	Progress time.Time
}

// SyncSource reports the sync loop's progress.
type SyncSource interface {
	Sync() Sync
}

// pollSlack is how much longer than its timeout a long poll may take before it
// counts as late (mautrix's own "took unusually long" margin).
const pollSlack = 10 * time.Second

// CurrentAt is the time up to which Steward has seen everything the homeserver had:
// now while a long poll waits within its time (the homeserver would have answered at
// once with anything new), when the batch being handled arrived, else the last sync
// handled.
func (s Sync) CurrentAt(now time.Time) time.Time {
	switch {
	case !s.PollingSince.IsZero() && now.Sub(s.PollingSince) <= s.PollTimeout+pollSlack:
		return now
	case s.HandlingSince.After(s.LastSuccess):
		return s.HandlingSince
	}
	return s.LastSuccess
}

// Writer is where the write probe writes (state.KV).
type Writer interface {
	Set(ctx context.Context, key, value string) error
}

// Outbox tells how far behind the sending is (state.Outbox).
type Outbox interface {
	Backlog(ctx context.Context) (n int, oldest time.Time, err error)
}

// The limits of readiness, besides the sync's (http.ready_sync_age).
const (
	// OutboxLimit is how long the oldest unsent message may have waited.
	OutboxLimit = 5 * time.Minute
	// probeTimeout bounds the database write: a database that takes longer is not
	// taking writes, whatever it says later.
	probeTimeout = 2 * time.Second
	// reportFor is how long one report answers every asker: /readyz needs no token,
	// so a flood of requests must not become a flood of database writes.
	reportFor = time.Second
	// stuckAfter is how long the sync loop may stay in one step (a request, whose
	// client gives up after 3 minutes, or a batch) before it counts as stuck.
	stuckAfter = 5 * time.Minute
)

// probeKey is the kv entry the write probe rewrites.
const probeKey = "health.write_probe"

// Part is one of readiness's conditions.
type Part struct {
	OK bool `json:"ok"`
	// Problem says what is wrong, shortly, when it is not OK.
	Problem string `json:"problem,omitempty"`
}

// Report is readiness at one moment, as /readyz shows it.
type Report struct {
	Ready    bool `json:"ready"`
	Sync     Part `json:"sync"`
	Database Part `json:"database"`
	Outbox   Part `json:"outbox"`
	// databaseStuck is set when the write probe did not end within its time, as a
	// database locked by a stuck writer does; a database that refuses writes (a full
	// disk) answers at once.
	databaseStuck bool
	// syncStuck is set when the sync loop stayed in one step too long.
	syncStuck bool
}

// Readiness decides whether Steward is ready: a sync succeeded within SyncAge (or
// a long poll waits within its time), the database takes a write, and the outbox's
// oldest unsent message is younger than OutboxLimit.
type Readiness struct {
	Sync    SyncSource
	KV      Writer
	Outbox  Outbox
	SyncAge time.Duration
	Now     func() time.Time

	mu     sync.Mutex
	last   Report
	lastAt time.Time
}

// Check returns readiness now; reports are reused for a second, so however many ask
// (the listener, the heartbeat, the watchdog), the database gets one probe a second
// at most. Since the report answers them all, it is made whether or not the one who
// asked first stays for it: only the probe's own time ends its reads.
func (r *Readiness) Check(ctx context.Context) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Now()
	if !r.lastAt.IsZero() && now.Sub(r.lastAt) < reportFor && now.Sub(r.lastAt) >= 0 {
		return r.last
	}
	r.last, r.lastAt = r.check(context.WithoutCancel(ctx), now), now
	return r.last
}

func (r *Readiness) check(ctx context.Context, now time.Time) Report {
	rep := Report{Sync: Part{OK: true}, Database: Part{OK: true}, Outbox: Part{OK: true}}
	s := r.Sync.Sync()
	switch behind := now.Sub(s.CurrentAt(now)); {
	case !s.Done:
		rep.Sync = Part{Problem: "the first sync with the homeserver has not succeeded yet"}
	case behind > r.SyncAge:
		rep.Sync = Part{Problem: "no successful sync for " + render.Duration(behind)}
		if !s.UnreachableSince.IsZero() {
			rep.Sync.Problem += " (the homeserver can't be reached)"
		}
	}
	rep.syncStuck = !s.Progress.IsZero() && now.Sub(s.Progress) > stuckAfter

	probeCtx, cancel := context.WithTimeout(ctx, probeTimeout)
	err := r.KV.Set(probeCtx, probeKey, now.UTC().Format(time.RFC3339))
	timedOut := errors.Is(probeCtx.Err(), context.DeadlineExceeded)
	cancel()
	if err != nil {
		rep.Database = Part{Problem: "a write failed: " + err.Error()}
		rep.databaseStuck = timedOut
		if timedOut {
			rep.Database.Problem = fmt.Sprintf("a write took longer than %s", probeTimeout)
		}
	}

	readCtx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if _, oldest, err := r.Outbox.Backlog(readCtx); err != nil {
		rep.Outbox = Part{Problem: "can't read the outbox: " + err.Error()}
	} else if !oldest.IsZero() && now.Sub(oldest) >= OutboxLimit {
		rep.Outbox = Part{Problem: "the oldest unsent message has waited " + render.Duration(now.Sub(oldest))}
	}
	rep.Ready = rep.Sync.OK && rep.Database.OK && rep.Outbox.OK
	return rep
}

// Alive reports whether Steward is running rather than stuck, for the systemd
// watchdog: its sync loop moves on (failing included) and its database answers
// within its time. A homeserver outage is not being stuck: a restart would not end
// it, and would cut short the outage's notice and alarm.
func (r *Readiness) Alive(ctx context.Context) bool {
	rep := r.Check(ctx)
	return !rep.databaseStuck && !rep.syncStuck
}

// Healthz answers 200 while the process serves.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
	})
}

// Readyz answers 200 when Steward is ready and 503 when not, with the report as
// JSON saying which condition failed.
func (r *Readiness) Readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rep := r.Check(req.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !rep.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(rep)
	})
}
