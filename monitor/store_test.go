package monitor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// manualClock is a clock the test moves, for the engine over the real database (which
// runs outside a synctest bubble).
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lifecycle takes alerts through every transition (pending, forgotten, firing, grouped,
// escalated, taken, failed check, resolved, retired) and returns what each step said.
func lifecycle(t *testing.T, eng *Engine, clk *manualClock) []string {
	ctx := t.Context()
	var log []string
	step := func(what string, err error) {
		var notOpen *NotOpenError
		if err != nil && !errors.As(err, &notOpen) {
			t.Errorf("%s: %v", what, err)
		}
		log = append(log, fmt.Sprintf("%s: %v", what, err))
	}
	apply := func(check string, checkErr error, obs ...Observation) {
		step("apply "+check, eng.Apply(ctx, check, obs, checkErr))
	}
	flush := func() {
		wait, err := eng.Flush(ctx)
		step(fmt.Sprintf("flush (next in %s)", wait), err)
	}
	ids := func(alerts []*state.Alert) string {
		var parts []string
		for _, a := range alerts {
			parts = append(parts, fmt.Sprintf("#%d", a.ID))
		}
		return strings.Join(parts, " ")
	}
	ack := func(alertIDs []int64, by Actor) {
		acked, err := eng.Ack(ctx, alertIDs, by)
		step(fmt.Sprintf("ack %v by %s took [%s]", alertIDs, by.UserID, ids(acked)), err)
	}
	ackMessage := func(eventID id.EventID, by Actor) {
		acked, found, err := eng.AckMessage(ctx, eventID, by)
		step(fmt.Sprintf("ack %s by %s found %v took [%s]", eventID, by.UserID, found, ids(acked)), err)
	}
	alice := Actor{UserID: "@alice:example.org", DeviceID: "ALICEPHONE", RoomID: adminRoom, EventID: "$reaction"}
	bob := Actor{UserID: "@bob:example.org", DeviceID: "BOBLAPTOP", RoomID: adminRoom, EventID: "$command"}

	apply("disk", nil, diskAt("/var", 90, 0), diskAt("/home", 88, 2*time.Minute)) // #1 firing, #2 pending
	apply("http:web", nil, down("web"))                                           // #3 firing
	flush()
	clk.advance(groupWait)
	flush() // message 1: #1 and #3
	clk.advance(time.Minute)
	apply("disk", nil, diskAt("/var", 96, 0), diskAt("/home", 88, 2*time.Minute), diskAt("/tmp", 86, 5*time.Minute)) // #1 critical, #4 pending
	clk.advance(time.Minute)
	apply("disk", nil, diskAt("/var", 96, 0), diskAt("/home", 88, 2*time.Minute)) // #2 fires, #4 forgotten
	apply("http:web", nil)                                                        // #3 resolved
	clk.advance(groupWait)
	flush() // message 2: #2
	ackMessage("$msg2", alice)
	ack([]int64{1}, bob)
	ack([]int64{1, 2}, bob)
	ack([]int64{3}, bob)
	ack([]int64{4}, bob)
	ackMessage("$unrelated", bob)
	clk.advance(time.Minute)
	apply("disk", errors.New("read disk use of /home: input/output error")) // #5 check:disk
	clk.advance(groupWait)
	flush() // message 3: #5
	clk.advance(time.Minute)
	apply("disk", nil, diskAt("/var", 96, 0)) // #5 and #2 resolved
	step("retire", eng.Retire(ctx, []string{"host"}))
	open, err := eng.OpenAlerts(ctx)
	step(fmt.Sprintf("open [%s]", ids(open)), err)
	return log
}

// transcript is everything the lifecycle left: its steps, the room, the stored alerts.
func transcript(t *testing.T, steps []string, msgr *fakeMessenger, store Store, decisions []state.AuditEntry) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintln(&b, "step", s)
	}
	for _, p := range msgr.Posts() {
		fmt.Fprintf(&b, "message %d (%d edits) in %s:\n%s\n", p.ID, p.Edits, p.Room, p.Text)
	}
	for _, e := range msgr.Edits() {
		fmt.Fprintf(&b, "edit of %d:\n%s\n", e.To, e.Text)
	}
	for _, f := range msgr.FollowUps() {
		fmt.Fprintf(&b, "follow-up to %d: %s\n", f.To, f.Text)
	}
	for _, r := range msgr.Reactions() {
		fmt.Fprintf(&b, "reaction to %d: %s\n", r.To, r.Key)
	}
	for _, d := range decisions {
		fmt.Fprintf(&b, "decision %s %s %s %s %s %s %q\n", d.Actor, d.ActorDevice, d.EventID, d.Action, d.Arguments, d.Outcome, d.Detail)
	}
	for alertID := int64(1); alertID <= 6; alertID++ {
		a, err := store.Get(t.Context(), alertID)
		if err != nil {
			t.Fatal(err)
		}
		if a == nil {
			fmt.Fprintf(&b, "alert %d: none\n", alertID)
			continue
		}
		utc := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(&b, "alert %d: %s %s %s %s worst %s %s %q %q %q public %v since %s fired %s resolved %s updated %s acked by %q at %s message %d\n",
			a.ID, a.Fingerprint, a.Check, a.Subject, a.Severity, a.Worst, a.State, a.Summary, a.Value, a.Hint, a.Public,
			utc(a.Since), utc(a.FiredAt), utc(a.ResolvedAt), utc(a.UpdatedAt), a.AckedBy, utc(a.AckedAt), a.Message)
	}
	return b.String()
}

// TestSQLStoreAgreesWithFake runs the same alert lifecycle over the fake store and over
// state.Alerts in a real database, and expects the same room and the same alerts: the
// engine tests above hold for the real thing.
func TestSQLStoreAgreesWithFake(t *testing.T) {
	start := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

	fakeClock := &manualClock{t: start}
	fake := &harness{store: &fakeStore{}, msgr: &fakeMessenger{}, audit: &fakeRecorder{}, txn: &serialTxn{}}
	fakeEngine := NewEngine(testSettings, fake.store, nil, fake.msgr, fake.audit, fake.txn.do, fakeClock.now)
	fromFake := transcript(t, lifecycle(t, fakeEngine, fakeClock), fake.msgr, fake.store, fake.audit.Entries())

	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// Alert messages go through the real outbox, and are sent as "$msg<ID>", so that
	// ByMessageEvent finds them the way the fake does.
	msgr := &fakeMessenger{newID: func(ctx context.Context, msg *render.Message) (int64, error) {
		msgID, err := db.Outbox.Add(ctx, adminRoom, event.EventMessage, msg.Notice(), "")
		if err != nil {
			return 0, err
		}
		return msgID, db.Outbox.MarkSent(ctx, msgID, id.EventID(fmt.Sprintf("$msg%d", msgID)))
	}}
	realClock := &manualClock{t: start}
	realEngine := NewEngine(testSettings, db.Alerts, nil, msgr, db.Audit, db.DoTxn, realClock.now)
	steps := lifecycle(t, realEngine, realClock)
	var decisions []state.AuditEntry
	if err := db.Audit.Each(t.Context(), func(e *state.AuditEntry) error {
		decisions = append(decisions, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := transcript(t, steps, msgr, db.Alerts, decisions)

	if got != fromFake {
		gotLines, wantLines := strings.Split(got, "\n"), strings.Split(fromFake, "\n")
		for i := range max(len(gotLines), len(wantLines)) {
			var g, w string
			if i < len(gotLines) {
				g = gotLines[i]
			}
			if i < len(wantLines) {
				w = wantLines[i]
			}
			if g != w {
				t.Errorf("first difference at line %d:\nSQL:  %s\nfake: %s", i+1, g, w)
				break
			}
		}
		t.Logf("SQL store:\n%s", got)
	}
	// The lifecycle itself went as planned.
	for _, want := range []string{
		"step open []: <nil>",
		"step ack [3] by @bob:example.org took []: #3 is not an open alert",
		"step ack [4] by @bob:example.org took []: #4 is not an open alert",
		"step ack $unrelated by @bob:example.org found false took []: <nil>",
		"step ack $msg2 by @alice:example.org found true took [#2]: <nil>",
		"step ack [1 2] by @bob:example.org took []: <nil>",
		"alert 4: none",
		"message 3 (1 edits)",
	} {
		if !strings.Contains(fromFake, want) {
			t.Errorf("lifecycle lacks %q:\n%s", want, fromFake)
		}
	}
}
