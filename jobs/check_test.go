package jobs_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/jobs"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/state"
)

// observe runs one round of a fresh check, as the monitor does after a start or a
// reload, and returns its observations by fingerprint.
func observe(t *testing.T, tracker *jobs.Tracker) map[string]monitor.Observation {
	t.Helper()
	obs, err := tracker.Check().Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byFP := make(map[string]monitor.Observation, len(obs))
	for _, o := range obs {
		byFP[o.Fingerprint] = o
	}
	return byFP
}

func fingerprints(obs map[string]monitor.Observation) []string {
	var fps []string
	for fp := range obs {
		fps = append(fps, fp)
	}
	slices.Sort(fps)
	return fps
}

func wantAlerts(t *testing.T, obs map[string]monitor.Observation, want ...string) {
	t.Helper()
	if got := fingerprints(obs); !slices.Equal(got, want) {
		t.Fatalf("the check reports %v, want %v", got, want)
	}
}

// A job that never pings alerts its period and grace after Steward first knew it,
// also across a restart; one whose success is late alerts its grace after it was due;
// a success resolves it.
func TestMissingPingAlertsAfterGrace(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	start := clk.Now()
	tracker := jobs.NewTracker(specs[1:], db.Jobs, clk.Now) // borg: every hour, 15 minutes' grace
	wantAlerts(t, observe(t, tracker))

	clk.Advance(75*time.Minute - time.Second)
	wantAlerts(t, observe(t, tracker))
	// A restart: a new tracker over the same database still counts from the first
	// sighting.
	tracker = jobs.NewTracker(specs[1:], db.Jobs, clk.Now)
	clk.Advance(time.Second)
	obs := observe(t, tracker)
	wantAlerts(t, obs, "job:borg:missing")
	missing := obs["job:borg:missing"]
	if missing.Severity != state.SeverityCritical || missing.Summary != "Job borg has not reported success since Steward began watching it at Tue 3 Jun 03:00 UTC" ||
		missing.Value != "expected every 1 hour, with 15 minutes of grace" || missing.Subject != "job borg" {
		t.Errorf("the missing job's alert reads %+v", missing)
	}

	// A success resolves it.
	tracker = jobs.NewTracker(specs[1:], db.Jobs, clk.Now)
	l := serve(t, tracker)
	if code, _ := l.do(t, "GET", "/ping/"+token+"/borg", ""); code != 200 {
		t.Fatalf("the success ping answered %d", code)
	}
	succeeded := clk.Now()
	wantAlerts(t, observe(t, tracker))
	clk.Advance(75*time.Minute - time.Second)
	wantAlerts(t, observe(t, tracker))
	clk.Advance(time.Second)
	obs = observe(t, tracker)
	wantAlerts(t, obs, "job:borg:missing")
	if want := "Job borg has not reported success since " + succeeded.Format("Mon 2 Jan 15:04 UTC"); obs["job:borg:missing"].Summary != want {
		t.Errorf("the late job's alert says %q, want %q", obs["job:borg:missing"].Summary, want)
	}
	if first := jobNamed(t, db, "borg").FirstSeen; !first.Equal(start) {
		t.Errorf("borg first seen %s, want %s", first, start)
	}
}

// A run that started and did not finish within its grace warns; its success resolves
// the warning, and records how long it took.
func TestStartWithoutFinishWarns(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	tracker := jobs.NewTracker(specs[:1], db.Jobs, clk.Now) // pgdump: daily, 6 hours' grace
	l := serve(t, tracker)
	l.do(t, "GET", "/ping/"+token+"/pgdump", "")
	clk.Advance(24 * time.Hour)
	if code, _ := l.do(t, "POST", "/ping/"+token+"/pgdump/start", ""); code != 200 {
		t.Fatalf("the start ping answered %d", code)
	}
	clk.Advance(6*time.Hour - time.Second)
	wantAlerts(t, observe(t, tracker))
	clk.Advance(time.Second)
	obs := observe(t, tracker)
	wantAlerts(t, obs, "job:pgdump:missing", "job:pgdump:running")
	running := obs["job:pgdump:running"]
	if running.Severity != state.SeverityWarning || running.Summary != "Job pgdump started at Wed 4 Jun 03:00 UTC and has not finished" ||
		running.Hint != "see /var/log/pgdump.log" {
		t.Errorf("the run's warning reads %+v", running)
	}
	clk.Advance(time.Minute)
	l.do(t, "GET", "/ping/"+token+"/pgdump/0", "")
	wantAlerts(t, observe(t, tracker))
	if d := jobNamed(t, db, "pgdump").LastDuration; d != 6*time.Hour+time.Minute {
		t.Errorf("the run took %s, want 6h1m", d)
	}
}

// A failure alerts at once, critical, with its exit code and output; it stays until
// a success, even when the job starts again meanwhile.
func TestFailureAlertsAtOnce(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	tracker := jobs.NewTracker(specs, db.Jobs, clk.Now)
	l := serve(t, tracker)
	l.do(t, "GET", "/ping/"+token+"/borg", "")
	l.do(t, "GET", "/ping/"+token+"/pgdump", "")
	clk.Advance(time.Minute)
	if code, _ := l.do(t, "POST", "/ping/"+token+"/pgdump/3", "pg_dump: error: permission denied for table secrets\n"); code != 200 {
		t.Fatalf("the failure ping answered %d", code)
	}
	obs := observe(t, tracker)
	wantAlerts(t, obs, "job:pgdump:failed")
	failed := obs["job:pgdump:failed"]
	if failed.Severity != state.SeverityCritical || failed.Summary != "Job pgdump failed with exit code 3" ||
		failed.Value != "failed at Tue 3 Jun 03:01 UTC; last success at Tue 3 Jun 03:00 UTC" ||
		failed.Detail != "pg_dump: error: permission denied for table secrets" || failed.Hint != "see /var/log/pgdump.log" {
		t.Errorf("the failure's alert reads %+v", failed)
	}

	l.do(t, "GET", "/ping/"+token+"/pgdump/start", "")
	wantAlerts(t, observe(t, tracker), "job:pgdump:failed")
	l.do(t, "GET", "/ping/"+token+"/pgdump/fail", "")
	if obs = observe(t, tracker); obs["job:pgdump:failed"].Summary != "Job pgdump failed" || obs["job:pgdump:failed"].Detail != "" {
		t.Errorf("after /fail the alert reads %+v, want no exit code and no output", obs["job:pgdump:failed"])
	}
	l.do(t, "GET", "/ping/"+token+"/pgdump", "")
	wantAlerts(t, observe(t, tracker))
}

// The check wakes at the next moment a job may become late (so a short grace alerts
// on time), at least every 30 seconds, and each recorded ping starts a round at once.
func TestCheckWakesWhenSomethingChanges(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	short := []jobs.Spec{{Name: "quick", Every: 3 * time.Second, Grace: 2 * time.Second}, specs[0]}
	tracker := jobs.NewTracker(short, db.Jobs, clk.Now)
	check := tracker.Check()
	if check.Name() != "jobs" {
		t.Errorf("the check is named %q", check.Name())
	}
	if _, err := check.Observe(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := check.Interval(); d != 5*time.Second {
		t.Errorf("after a round the check waits %s, want the 5s until quick is late", d)
	}
	clk.Advance(5 * time.Second)
	if _, err := check.Observe(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := check.Interval(); d != 30*time.Second {
		t.Errorf("with quick late already, the check waits %s, want 30s", d)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	woken := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		check.Watch(ctx, func() { woken <- struct{}{} })
	}()
	l := serve(t, tracker)
	l.do(t, "GET", "/ping/"+token+"/quick", "")
	select {
	case <-woken:
	case <-time.After(time.Minute):
		t.Fatal("a recorded ping did not wake the check")
	}
	cancel()
	<-done
}

// The alerts say only what the database says, not how long ago: a round that learnt
// nothing new reports the same words, so the engine writes nothing.
func TestAlertTextIsStable(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	tracker := jobs.NewTracker(specs, db.Jobs, clk.Now)
	l := serve(t, tracker)
	observe(t, tracker)
	l.do(t, "POST", "/ping/"+token+"/pgdump/1", "boom")
	clk.Advance(30 * time.Hour)
	first := observe(t, tracker)
	clk.Advance(26 * time.Hour) // the next day: the alert reads the same
	again := observe(t, tracker)
	for fp, o := range first {
		if a := again[fp]; a.Summary != o.Summary || a.Value != o.Value || a.Detail != o.Detail {
			t.Errorf("%s read %q / %q, a day later %q / %q", fp, o.Summary, o.Value, a.Summary, a.Value)
		}
	}
	if !strings.Contains(first["job:borg:missing"].Summary, "since Steward began watching it") {
		t.Errorf("borg, never pinged, reads %q", first["job:borg:missing"].Summary)
	}
}
