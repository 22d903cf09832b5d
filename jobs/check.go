package jobs

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// CheckName is the name the jobs' alerts are filed under.
const CheckName = "jobs"

// The bounds of the time between two rounds of the check: it wakes when the next job
// becomes late (and at each ping), but at least every maxInterval, and not more often
// than every minInterval.
const (
	minInterval = time.Second
	maxInterval = 30 * time.Second
)

// Check is the alert engine's check of the jobs: a job that reported a failure, one
// whose success is late, one that started and has not finished. It holds nothing but
// when to look next: what it knows is in the database, so a reload, which makes the
// checks afresh, loses nothing.
type Check struct {
	t *Tracker
	// wait is the time to the next round, from the last one (nanoseconds).
	wait atomic.Int64
}

var (
	_ monitor.Check   = (*Check)(nil)
	_ monitor.Watcher = (*Check)(nil)
)

// Check makes the check of the jobs (at each start of the monitor).
func (t *Tracker) Check() *Check { return &Check{t: t} }

// Name implements monitor.Check.
func (c *Check) Name() string { return CheckName }

// Interval implements monitor.Check: the time until the next job becomes late, as
// the last round found.
func (c *Check) Interval() time.Duration {
	if d := time.Duration(c.wait.Load()); d > 0 {
		return d
	}
	return maxInterval
}

// Watch implements monitor.Watcher: each recorded ping starts a round, so that a
// failure alerts at once and a success resolves at once.
func (c *Check) Watch(ctx context.Context, wake func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.t.pinged:
			wake()
		}
	}
}

// Observe implements monitor.Check. A job Steward did not know yet is recorded as
// known from now: one that never pings alerts a period and its grace later.
func (c *Check) Observe(ctx context.Context) ([]monitor.Observation, error) {
	now := c.t.now()
	known, err := c.t.store.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the jobs' pings: %w", err)
	}
	byName := make(map[string]*state.Job, len(known))
	for _, j := range known {
		byName[j.Name] = j
	}
	var fresh []string
	var obs []monitor.Observation
	next := now.Add(maxInterval)
	for _, s := range c.t.specs {
		j := byName[s.Name]
		if j == nil {
			fresh = append(fresh, s.Name)
			j = &state.Job{Name: s.Name, FirstSeen: now}
		}
		o, change := observe(s, j, now)
		obs = append(obs, o...)
		if !change.IsZero() && change.Before(next) {
			next = change
		}
	}
	if len(fresh) > 0 {
		if err = c.t.store.Know(ctx, fresh, now); err != nil {
			return nil, fmt.Errorf("record the jobs first known now: %w", err)
		}
	}
	c.wait.Store(int64(min(max(next.Sub(now), minInterval), maxInterval)))
	return obs, nil
}

// observe says what is wrong with job j of spec s at now, and when that will next
// change by itself (zero for not until a ping): when its success becomes late, or a
// run under way takes too long.
func observe(s Spec, j *state.Job, now time.Time) (obs []monitor.Observation, change time.Time) {
	base := monitor.Observation{Subject: "job " + s.Name, Hint: s.Hint, Severity: state.SeverityCritical}
	fp := "job:" + s.Name + ":"
	if j.Failed() {
		failed := base
		failed.Fingerprint = fp + "failed"
		failed.Summary = fmt.Sprintf("Job %s failed", s.Name)
		if j.ExitCode != state.NoExitCode {
			failed.Summary += fmt.Sprintf(" with exit code %d", j.ExitCode)
		}
		failed.Value = "failed at " + stamp(j.LastFailure) + "; " + lastSuccess(j)
		failed.Detail = j.Output
		obs = append(obs, failed)
	} else if late := Late(s, j); !now.Before(late) {
		missing := base
		missing.Fingerprint = fp + "missing"
		if j.LastSuccess.IsZero() {
			missing.Summary = fmt.Sprintf("Job %s has not reported success since Steward began watching it at %s", s.Name, stamp(j.FirstSeen))
		} else {
			missing.Summary = fmt.Sprintf("Job %s has not reported success since %s", s.Name, stamp(j.LastSuccess))
		}
		missing.Value = fmt.Sprintf("expected every %s, with %s of grace", render.Duration(s.Every), render.Duration(s.Grace))
		obs = append(obs, missing)
	} else {
		change = late
	}
	if j.Running() {
		if stuck := j.LastStart.Add(s.Grace); !now.Before(stuck) {
			running := base
			running.Fingerprint, running.Severity = fp+"running", state.SeverityWarning
			running.Summary = fmt.Sprintf("Job %s started at %s and has not finished", s.Name, stamp(j.LastStart))
			running.Value = fmt.Sprintf("a run may take %s (its grace)", render.Duration(s.Grace))
			obs = append(obs, running)
		} else if change.IsZero() || stuck.Before(change) {
			change = stuck
		}
	}
	return obs, change
}

// Due is when job j of spec s should next report success: a period after its last
// success, or after Steward first knew it.
func Due(s Spec, j *state.Job) time.Time {
	if j.LastSuccess.IsZero() {
		return j.FirstSeen.Add(s.Every)
	}
	return j.LastSuccess.Add(s.Every)
}

// Late is when job j alerts for want of a success: its grace after Due.
func Late(s Spec, j *state.Job) time.Time { return Due(s, j).Add(s.Grace) }

// lastSuccess says when the job last succeeded, for a failure's alert.
func lastSuccess(j *state.Job) string {
	if j.LastSuccess.IsZero() {
		return "no success since Steward began watching it"
	}
	return "last success at " + stamp(j.LastSuccess)
}

// stamp writes a moment in an alert. It does not depend on when the alert is read
// (as render.Clock does), so that the same news reads the same in every round and
// a round that learnt nothing new writes nothing.
func stamp(t time.Time) string { return t.UTC().Format("Mon 2 Jan 15:04 UTC") }
