package state_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-bot/steward/state"
)

// A job's row says what its pings said: the start, the finish and how long the run
// took, the last failure's exit code and output; a finish without a start (a retried
// ping) keeps the last run's duration. A reopened database still knows it all.
func TestJobPingsAreRecorded(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "steward.db")
	db := openAt(t, path)
	jobs := db.Jobs
	t0 := time.UnixMilli(1_700_000_000_000)
	check(t, jobs.Know(ctx, []string{"pgdump", "borg"}, t0))
	for _, p := range []*state.Ping{
		{Job: "pgdump", Kind: state.PingStart, At: t0.Add(time.Hour)},
		{Job: "pgdump", Kind: state.PingFailure, ExitCode: 2, Output: "pg_dump: error: connection refused", At: t0.Add(time.Hour + 90*time.Second)},
		{Job: "pgdump", Kind: state.PingStart, At: t0.Add(2 * time.Hour)},
		{Job: "pgdump", Kind: state.PingSuccess, At: t0.Add(2*time.Hour + time.Minute)},
		{Job: "pgdump", Kind: state.PingSuccess, At: t0.Add(2*time.Hour + time.Minute + 3*time.Second)}, // curl --retry
		{Job: "borg", Kind: state.PingSuccess, At: t0.Add(3 * time.Hour)},
	} {
		check(t, jobs.Record(ctx, p))
		if p.ID == 0 {
			t.Errorf("Record left the ping's ID unset")
		}
	}
	check(t, db.Close())
	db = openAt(t, path)
	defer db.Close()

	all := must(db.Jobs.All(ctx))(t)
	if len(all) != 2 || all[0].Name != "borg" || all[1].Name != "pgdump" {
		t.Fatalf("All = %+v, want borg and pgdump", all)
	}
	borg, pg := all[0], all[1]
	if !borg.FirstSeen.Equal(t0) || !borg.LastSuccess.Equal(t0.Add(3*time.Hour)) || borg.LastDuration != 0 || borg.Failed() || borg.Running() {
		t.Errorf("borg = %+v: want first seen at t0, a success, no duration (no start), neither failed nor running", borg)
	}
	if pg.LastEvent != state.PingSuccess || pg.LastDuration != time.Minute || pg.Failed() || pg.Running() {
		t.Errorf("pgdump = %+v: want its last run a one-minute success", pg)
	}
	if pg.ExitCode != 2 || pg.Output != "pg_dump: error: connection refused" || !pg.LastFailure.Equal(t0.Add(time.Hour+90*time.Second)) {
		t.Errorf("pgdump's last failure = %d %q at %s, want exit 2 with its output", pg.ExitCode, pg.Output, pg.LastFailure)
	}

	// A failure after a start: failed, and no longer running.
	check(t, db.Jobs.Record(ctx, &state.Ping{Job: "pgdump", Kind: state.PingStart, At: t0.Add(4 * time.Hour)}))
	pg = jobNamed(t, db, "pgdump")
	if !pg.Running() || pg.Failed() {
		t.Errorf("after a start pgdump = %+v, want running after its success", pg)
	}
	check(t, db.Jobs.Record(ctx, &state.Ping{Job: "pgdump", Kind: state.PingFailure, ExitCode: state.NoExitCode, At: t0.Add(4*time.Hour + 5*time.Second)}))
	pg = jobNamed(t, db, "pgdump")
	if pg.Running() || !pg.Failed() || pg.ExitCode != state.NoExitCode || pg.Output != "" || pg.LastDuration != 5*time.Second {
		t.Errorf("after /fail pgdump = %+v, want failed without an exit code or output, after 5s", pg)
	}
	history := must(db.Jobs.History(ctx, "pgdump", 10))(t)
	if len(history) != 7 || history[0].Kind != state.PingFailure || history[6].Kind != state.PingStart || history[5].ExitCode != 2 {
		t.Errorf("pgdump's history = %+v, want its 7 pings newest first", history)
	}
}

func jobNamed(t *testing.T, db *state.DB, name string) *state.Job {
	t.Helper()
	for _, j := range must(db.Jobs.All(t.Context()))(t) {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no job %s", name)
	return nil
}

// Know does not move a job's first sighting: a restart must not put off the alert of
// a job that never pinged.
func TestKnowKeepsTheFirstSighting(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	t0 := time.UnixMilli(1_700_000_000_000)
	check(t, db.Jobs.Know(ctx, []string{"pgdump"}, t0))
	check(t, db.Jobs.Know(ctx, []string{"pgdump", "borg"}, t0.Add(time.Hour)))
	if pg := jobNamed(t, db, "pgdump"); !pg.FirstSeen.Equal(t0) || pg.LastEvent != "" {
		t.Errorf("pgdump = %+v, want first seen at %s and no ping", pg, t0)
	}
	if borg := jobNamed(t, db, "borg"); !borg.FirstSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("borg first seen %s, want an hour later", borg.FirstSeen)
	}
}

// However often a job pings, its history keeps the newest PingsKept pings, and
// another job's history is left alone.
func TestJobHistoryIsBounded(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	t0 := time.UnixMilli(1_700_000_000_000)
	check(t, db.Jobs.Record(ctx, &state.Ping{Job: "borg", Kind: state.PingSuccess, At: t0}))
	for i := range state.PingsKept + 50 {
		check(t, db.Jobs.Record(ctx, &state.Ping{Job: "pgdump", Kind: state.PingSuccess, At: t0.Add(time.Duration(i) * time.Minute)}))
	}
	history := must(db.Jobs.History(ctx, "pgdump", 1000))(t)
	if len(history) != state.PingsKept || !history[0].At.Equal(t0.Add(149*time.Minute)) || !history[len(history)-1].At.Equal(t0.Add(50*time.Minute)) {
		t.Errorf("pgdump's history holds %d pings, %s to %s; want the newest %d", len(history), history[len(history)-1].At, history[0].At, state.PingsKept)
	}
	var rows int
	check(t, db.Raw.QueryRow(ctx, "SELECT COUNT(*) FROM job_ping").Scan(&rows))
	if rows != state.PingsKept+1 {
		t.Errorf("job_ping has %d rows, want %d", rows, state.PingsKept+1)
	}
	if borg := must(db.Jobs.History(ctx, "borg", 10))(t); len(borg) != 1 {
		t.Errorf("borg's history holds %d pings, want its one", len(borg))
	}
}

// Names that no job has are counted, at most UnknownKept of them: a flood of made-up
// names pushes out the oldest of its own, not the name a cron line keeps pinging.
// Told of, they are forgotten.
func TestUnknownJobNamesAreBounded(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	t0 := time.UnixMilli(1_700_000_000_000)
	check(t, db.Jobs.RecordUnknown(ctx, "pgdmp", t0))
	check(t, db.Jobs.RecordUnknown(ctx, "pgdmp", t0.Add(time.Second)))
	// A flood of made-up names.
	for i := range 3 * state.UnknownKept {
		check(t, db.Jobs.RecordUnknown(ctx, fmt.Sprintf("junk-%04d", i), t0.Add(time.Minute+time.Duration(i)*time.Millisecond)))
	}
	check(t, db.Jobs.RecordUnknown(ctx, "pgdmp", t0.Add(time.Hour)))
	unknown := must(db.Jobs.Unknown(ctx))(t)
	if len(unknown) != state.UnknownKept {
		t.Fatalf("%d unknown names kept, want %d", len(unknown), state.UnknownKept)
	}
	if u := unknown[0]; u.Name != "pgdmp" || u.Count != 3 || !u.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("the most pinged unknown name is %+v, want pgdmp, 3 times, last an hour in", u)
	}
	if u := unknown[len(unknown)-1]; u.Name != "junk-0299" {
		t.Errorf("the last kept name is %s, want the newest junk-0299 kept", u.Name)
	}
	check(t, db.Jobs.ClearUnknown(ctx))
	if unknown = must(db.Jobs.Unknown(ctx))(t); len(unknown) != 0 {
		t.Errorf("after ClearUnknown %d names are left", len(unknown))
	}
}
