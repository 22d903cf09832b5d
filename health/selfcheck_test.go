package health

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/state"
)

type fakeTransport struct {
	fakeSync
	runs []UndecryptableRun
}

func (f *fakeTransport) Undecryptable() []UndecryptableRun { return f.runs }

const alice, bob, carol = id.UserID("@alice:example.org"), id.UserID("@bob:example.org"), id.UserID("@carol:example.org")

// never is a data_dir threshold no disk reaches.
var never = monitor.Threshold{Warning: 101, Critical: 102}

func observe(t *testing.T, c *SelfCheck) map[string]monitor.Observation {
	t.Helper()
	obs, err := c.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byFP := make(map[string]monitor.Observation)
	for _, o := range obs {
		// As the engine does: a reading within its thresholds is no problem.
		if o.Level != nil && o.Level(state.SeverityOK) == state.SeverityOK {
			continue
		}
		byFP[o.Fingerprint] = o
	}
	return byFP
}

func fingerprints(m map[string]monitor.Observation) []string {
	var fps []string
	for fp := range m {
		fps = append(fps, fp)
	}
	slices.Sort(fps)
	return fps
}

// The self-check's alarms, each from what the transport, the outbox and the disk
// report.
func TestSelfCheckObservations(t *testing.T) {
	fine := Sync{Done: true, LastSuccess: now.Add(-5 * time.Second), Progress: now}
	newCheck := func(s Sync, runs []UndecryptableRun, outbox fakeOutbox) *SelfCheck {
		tr := &fakeTransport{runs: runs}
		tr.set(s)
		return &SelfCheck{Transport: tr, Outbox: &outbox, Ready: &fixedReady{ready: true}, Admins: []id.UserID{alice, bob},
			DataDir: t.TempDir(), Every: time.Minute, Unreachable: time.Minute, DiskFull: never, Now: func() time.Time { return now }}
	}

	t.Run("all fine", func(t *testing.T) {
		if got := observe(t, newCheck(fine, nil, fakeOutbox{n: 2, oldest: now.Add(-time.Minute)})); len(got) != 0 {
			t.Errorf("observations: %v", fingerprints(got))
		}
	})

	t.Run("undecryptable admin devices", func(t *testing.T) {
		runs := []UndecryptableRun{
			{Sender: alice, Device: "PHONE", Count: 3, First: now.Add(-10 * time.Minute), Last: now.Add(-time.Minute)},
			{Sender: bob, Device: "LAPTOP", Count: 2, First: now.Add(-time.Minute), Last: now},
			{Sender: carol, Device: "TABLET", Count: 9, First: now.Add(-time.Hour), Last: now},
			{Sender: bob, Device: "OLD", Count: 5, First: now.Add(-50 * time.Hour), Last: now.Add(-25 * time.Hour)},
		}
		got := observe(t, newCheck(fine, runs, fakeOutbox{}))
		if fps := fingerprints(got); !slices.Equal(fps, []string{"steward:undecryptable:@alice:example.org:PHONE"}) {
			t.Fatalf("observations: %v (want only alice's phone: 3 in a row; bob's 2 are too few, carol is no admin, bob's OLD is a day quiet)", fps)
		}
		o := got["steward:undecryptable:@alice:example.org:PHONE"]
		if !strings.Contains(o.Summary, "@alice:example.org's device PHONE") || !strings.Contains(o.Value, "3 in a row") ||
			!strings.Contains(o.Hint, "verify") || !strings.Contains(o.Hint, "keys") || !strings.Contains(o.Hint, "restart the client") {
			t.Errorf("alarm: %+v", o)
		}
	})

	t.Run("homeserver unreachable", func(t *testing.T) {
		down := now.Add(-3 * time.Minute)
		s := Sync{Done: true, LastSuccess: down, FailingSince: down, UnreachableSince: down, Progress: now}
		got := observe(t, newCheck(s, nil, fakeOutbox{n: 4, oldest: down.Add(time.Second), since: 4}))
		if fps := fingerprints(got); !slices.Equal(fps, []string{"steward:homeserver"}) {
			t.Fatalf("observations: %v (the outbox waits for the homeserver: no alarm of its own)", fps)
		}
		o := got["steward:homeserver"]
		if o.Summary != "Steward can't reach the homeserver since 13:57 UTC; 4 messages queued meanwhile" || o.For != time.Minute || o.Severity != state.SeverityWarning {
			t.Errorf("alarm: %+v", o)
		}
	})

	t.Run("sync falling behind while the homeserver answers", func(t *testing.T) {
		behind := now.Add(-3 * time.Minute)
		s := Sync{Done: true, LastSuccess: behind, FailingSince: behind.Add(time.Second), LastError: "M_UNKNOWN: database is locked (access_token=syt_c2VjcmV0_abcdefghijklmnopqrst_0a1b2c)", Progress: now}
		got := observe(t, newCheck(s, nil, fakeOutbox{}))
		o, ok := got["steward:sync"]
		if !ok || len(got) != 1 {
			t.Fatalf("observations: %v", fingerprints(got))
		}
		if !strings.Contains(o.Value, "13:57 UTC") || !strings.Contains(o.Value, "database is locked") || strings.Contains(o.Value, "syt_c2VjcmV0") {
			t.Errorf("alarm value %q", o.Value)
		}
		if got := observe(t, newCheck(Sync{Done: true, LastSuccess: now.Add(-119 * time.Second), Progress: now}, nil, fakeOutbox{})); len(got) != 0 {
			t.Errorf("a sync 1m59s old: %v", fingerprints(got))
		}
	})

	t.Run("outbox stuck", func(t *testing.T) {
		got := observe(t, newCheck(fine, nil, fakeOutbox{n: 7, oldest: now.Add(-6 * time.Minute)}))
		if o, ok := got["steward:outbox"]; !ok || !strings.Contains(o.Value, "the oldest of 7 has waited 6 minutes") {
			t.Errorf("observations: %+v", got)
		}
	})

	t.Run("data_dir almost full", func(t *testing.T) {
		c := newCheck(fine, nil, fakeOutbox{})
		c.DiskFull = monitor.Threshold{Warning: 0, Critical: 101}
		got := observe(t, c)
		o, ok := got["steward:data_dir"]
		if !ok || o.Level == nil || o.Level(state.SeverityOK) != state.SeverityWarning || !strings.Contains(o.Summary, c.DataDir) {
			t.Errorf("observations: %+v", got)
		}
	})

	t.Run("database writes failing", func(t *testing.T) {
		var logs bytes.Buffer
		c := newCheck(fine, nil, fakeOutbox{})
		c.Ready = &Readiness{Sync: &fakeSync{s: fine}, KV: &memKV{fail: errDiskFull}, Outbox: &fakeOutbox{}, SyncAge: time.Minute, Now: c.Now}
		if _, err := c.Observe(zerolog.New(&logs).WithContext(t.Context())); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), "does not take writes") {
			t.Errorf("a database that takes no writes is not logged as an error:\n%s", logs.String())
		}
	})
}

var errDiskFull = &diskFull{}

type diskFull struct{}

func (*diskFull) Error() string { return "database or disk is full" }
