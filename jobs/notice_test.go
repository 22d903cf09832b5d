package jobs_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/jobs"
)

// Pings to names no job has are told to the admins once, listed with their counts,
// after a moment that gathers a batch; then not again for a day, restart or not; then
// only the names pinged since.
func TestUnknownNamesNoticeOnceADay(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	tracker := jobs.NewTracker(specs, db.Jobs, clk.Now)
	l := serve(t, tracker)
	notifier := &fakeNotifier{}
	notices := func() *jobs.Notices {
		return &jobs.Notices{Tracker: tracker, Store: db.Jobs, KV: db.KV, Txn: db.DoTxn, Notifier: notifier, AdminRoom: "!admins:example.org", Now: clk.Now}
	}
	n := notices()
	step := func(wantWait time.Duration) {
		t.Helper()
		wait, err := n.Step(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if wait != wantWait {
			t.Errorf("the notices wait %s, want %s", wait, wantWait)
		}
	}
	step(time.Hour)
	if len(notifier.all()) != 0 {
		t.Fatalf("a notice with nothing to say: %q", notifier.all())
	}

	l.do(t, "GET", "/ping/"+token+"/pgdmp", "")
	l.do(t, "GET", "/ping/"+token+"/pgdmp/start", "")
	l.do(t, "GET", "/ping/"+token+"/old-backup", "")
	step(jobs.NoticeGather)
	clk.Advance(jobs.NoticeGather)
	l.do(t, "GET", "/ping/"+token+"/pgdmp/fail", "")
	step(time.Hour)
	told := notifier.all()
	if len(told) != 1 {
		t.Fatalf("%d notices, want one: %q", len(told), told)
	}
	for _, want := range []string{"not configured", "`pgdmp`: 3 pings, the last at 03:00 UTC", "`old-backup`: 1 ping", "The jobs configured are pgdump, borg."} {
		if !strings.Contains(told[0], want) {
			t.Errorf("the notice does not say %q:\n%s", want, told[0])
		}
	}
	if strings.Index(told[0], "pgdmp") > strings.Index(told[0], "old-backup") {
		t.Errorf("the notice does not list the most pinged name first:\n%s", told[0])
	}

	// Pinged again: not told again within the day, even after a restart.
	clk.Advance(12 * time.Hour)
	l.do(t, "GET", "/ping/"+token+"/pgdmp", "")
	step(12 * time.Hour)
	n = notices()
	step(12 * time.Hour)
	clk.Advance(12 * time.Hour)
	step(jobs.NoticeGather)
	clk.Advance(jobs.NoticeGather)
	step(time.Hour)
	if told = notifier.all(); len(told) != 2 || !strings.Contains(told[1], "`pgdmp`: 1 ping") || strings.Contains(told[1], "old-backup") {
		t.Fatalf("the second day's notice: %q, want pgdmp's one ping since the first", told[1:])
	}
}

// A notice lists at most 20 names and counts the rest; a name that became a
// configured job is not told of.
func TestUnknownNamesNoticeIsBounded(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	tracker := jobs.NewTracker(specs, db.Jobs, clk.Now)
	notifier := &fakeNotifier{}
	n := &jobs.Notices{Tracker: tracker, Store: db.Jobs, KV: db.KV, Txn: db.DoTxn, Notifier: notifier, AdminRoom: "!admins:example.org", Now: clk.Now}
	// pgdump was pinged before it was configured.
	if err := db.Jobs.RecordUnknown(t.Context(), "pgdump", clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(jobs.NoticeGather)
	if _, err := n.Step(t.Context()); err != nil || len(notifier.all()) != 0 {
		t.Fatalf("a configured job was told of as unknown: %q (%v)", notifier.all(), err)
	}
	for i := range 30 {
		if err := db.Jobs.RecordUnknown(t.Context(), fmt.Sprintf("junk%02d", i), clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := n.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(jobs.NoticeGather)
	}
	told := notifier.all()
	if len(told) != 1 || strings.Count(told[0], "`junk") != 20 || !strings.Contains(told[0], "…and 10 more names.") || strings.Contains(told[0], "`pgdump`") {
		t.Errorf("the notice of 30 names:\n%s", strings.Join(told, "\n---\n"))
	}
}
