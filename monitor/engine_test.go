package monitor

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/steward-bot/steward/state"
)

func TestHoveringReadingFiresOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		// Warning at 85 with a margin of 3: once firing, only 82 or less clears it.
		steps := []struct {
			pct      float64
			wantOpen bool
		}{
			{84.9, false},
			{85.1, true},
			{84, true},
			{85.5, true},
			{84.9, true},
			{82.1, true},
			{82, false},
			{84.9, false},
			{85, true},
		}
		for i, s := range steps {
			h.apply(t, "disk", diskAt("/var", s.pct, 0))
			time.Sleep(groupWait)
			h.flush(t)
			time.Sleep(time.Minute - groupWait)
			if _, open := h.open(t)["disk:/var"]; open != s.wantOpen {
				t.Errorf("step %d (%v%%): open = %v, want %v", i, s.pct, open, s.wantOpen)
			}
		}
		posts := h.msgr.Posts()
		if len(posts) != 2 {
			t.Fatalf("posted %d messages, want 2 (the first crossing and the one after it cleared):\n%v", len(posts), posts)
		}
		if !strings.Contains(posts[0].Text, "(#1)") || !strings.Contains(posts[1].Text, "(#2)") {
			t.Errorf("messages do not show alerts #1 then #2:\n%s\n---\n%s", posts[0].Text, posts[1].Text)
		}
		if f := h.msgr.FollowUps(); len(f) != 1 {
			t.Errorf("%d resolution follow-ups, want 1: %v", len(f), f)
		}
		if e := h.msgr.Edits(); len(e) != 1 {
			t.Errorf("%d edits, want 1 (the resolution; a wobble edits nothing): %v", len(e), e)
		}
	})
}

func TestAlertsFiringTogetherShareOneMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		h.apply(t, "disk", diskAt("/var", 90, 0))
		if wait := h.flush(t); wait != groupWait {
			t.Errorf("first flush waits %s, want the group wait %s", wait, groupWait)
		}
		time.Sleep(10 * time.Second)
		h.apply(t, "http:web", down("web"))
		time.Sleep(10 * time.Second)
		if wait := h.flush(t); wait != 10*time.Second {
			t.Errorf("flush before the group wait is over waits %s, want 10s", wait)
		}
		if posts := h.msgr.Posts(); len(posts) != 0 {
			t.Fatalf("posted before the group wait was over: %v", posts)
		}
		time.Sleep(10 * time.Second)
		h.flush(t)

		posts := h.msgr.Posts()
		if len(posts) != 1 {
			t.Fatalf("posted %d messages, want one for both alerts: %v", len(posts), posts)
		}
		msg := posts[0]
		if msg.Room != adminRoom {
			t.Errorf("posted in %s, want the admin room", msg.Room)
		}
		for _, want := range []string{
			"🔴 2 alerts fired together", "#1 Disk /var is 90.0% full", "#2 web does not answer", "React 👀 to take them all",
		} {
			if !strings.Contains(msg.Text, want) {
				t.Errorf("message lacks %q:\n%s", want, msg.Text)
			}
		}
		if r := h.msgr.Reactions(); !slices.Equal(r, []sentReaction{{To: msg.ID, Key: ReactionAck}}) {
			t.Errorf("reactions = %v, want 👀 on the message", r)
		}

		// A problem that starts later gets a message of its own, after its own wait.
		time.Sleep(time.Minute)
		h.apply(t, "disk", diskAt("/var", 90, 0), diskAt("/home", 86, 0))
		h.flush(t)
		if posts := h.msgr.Posts(); len(posts) != 1 {
			t.Fatalf("the later alert was posted without waiting: %v", posts)
		}
		time.Sleep(groupWait)
		h.flush(t)
		posts = h.msgr.Posts()
		if len(posts) != 2 {
			t.Fatalf("posted %d messages, want 2", len(posts))
		}
		if want := "🟡 Warning: Disk /home is 86.0% full (#3)"; !strings.HasPrefix(posts[1].Text, want) {
			t.Errorf("second message = %q, want it to start with %q", posts[1].Text, want)
		}
		if posts[0].Edits != 0 {
			t.Errorf("the first message was edited %d times by an unrelated alert", posts[0].Edits)
		}
		if r := h.msgr.Reactions(); len(r) != 2 || r[1] != (sentReaction{To: posts[1].ID, Key: ReactionAck}) {
			t.Errorf("reactions = %v, want 👀 on each message", r)
		}
	})
}

func TestAlertStormIsOneShortMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		var storm []Observation
		for i := range 40 {
			storm = append(storm, diskAt(fmt.Sprintf("/srv/%02d", i), 90, 0))
		}
		h.apply(t, "disk", storm...)
		time.Sleep(groupWait)
		h.flush(t)

		posts := h.msgr.Posts()
		if len(posts) != 1 {
			t.Fatalf("a storm of 40 alerts posted %d messages, want 1", len(posts))
		}
		text := posts[0].Text
		if n := strings.Count(text, "• "); n != maxListed {
			t.Errorf("message lists %d alerts, want %d:\n%s", n, maxListed, text)
		}
		for _, want := range []string{"40 alerts fired together", "…and 25 more; `!alerts` lists the firing ones."} {
			if !strings.Contains(text, want) {
				t.Errorf("message lacks %q:\n%s", want, text)
			}
		}
		// The message stands for all 40, listed or not: a 👀 on it takes them all.
		acked, found, err := h.eng.AckMessage(t.Context(), "$msg1", Actor{UserID: "@alice:example.org"})
		if err != nil || !found || len(acked) != 40 {
			t.Errorf("AckMessage on the storm message = %d alerts, found %v, err %v; want all 40", len(acked), found, err)
		}
	})
}

// The plain body of a message is what notifications and text-only clients show: the
// title of a grouped message ends its line, and each alert has a line of its own.
func TestGroupMessagePlainBodyHasOneLinePerAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		h.apply(t, "disk", diskAt("/var", 90, 0))
		h.apply(t, "http:web", down("web"))
		time.Sleep(groupWait)
		h.flush(t)
		text := h.msgr.Message(t, 1).Text
		if title := "🔴 2 alerts fired together\n"; !strings.HasPrefix(text, title) {
			t.Errorf("plain body does not start with the line %q:\n%s", title, text)
		}
		if n := lines(text, "• "); n != 2 {
			t.Errorf("plain body has %d lines starting with a bullet, want 2:\n%s", n, text)
		}
	})
}

func TestSeverityChangeEditsTheMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		steps := []struct {
			pct       float64
			wantEdits int
			wantTitle string
		}{
			{90, 0, "🟡 Warning: Disk /var is 90.0% full (#1)"},
			{96, 1, "🔴 Critical: Disk /var is 96.0% full (#1)"},
			// A new value at the same severity is not worth an edit.
			{97, 1, "🔴 Critical: Disk /var is 96.0% full (#1)"},
			// Hysteresis holds critical above 92.
			{93, 1, "🔴 Critical: Disk /var is 96.0% full (#1)"},
			{91, 2, "🟡 Warning: Disk /var is 91.0% full (#1)"},
		}
		for i, s := range steps {
			h.apply(t, "disk", diskAt("/var", s.pct, 0))
			time.Sleep(groupWait)
			h.flush(t)
			posts := h.msgr.Posts()
			if len(posts) != 1 {
				t.Fatalf("step %d (%v%%): %d messages, want the one message edited", i, s.pct, len(posts))
			}
			if posts[0].Edits != s.wantEdits {
				t.Errorf("step %d (%v%%): message edited %d times, want %d", i, s.pct, posts[0].Edits, s.wantEdits)
			}
			if title, _, _ := strings.Cut(posts[0].Text, "\n"); title != s.wantTitle {
				t.Errorf("step %d (%v%%): message reads %q, want %q", i, s.pct, title, s.wantTitle)
			}
		}
		if a := h.store.byFingerprint("disk:/var"); a.Worst != state.SeverityCritical {
			t.Errorf("worst = %s, want critical", a.Worst)
		}
	})
}

func TestResolution(t *testing.T) {
	t.Run("posted alert is edited and followed up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness()
			h.apply(t, "disk", diskAt("/var", 90, 0))
			time.Sleep(groupWait)
			h.flush(t)
			time.Sleep(2 * time.Minute)
			h.apply(t, "disk")

			msg := h.msgr.Message(t, 1)
			if want := "✅ Resolved: Disk /var is 90.0% full (#1)"; !strings.HasPrefix(msg.Text, want) {
				t.Errorf("message = %q, want it to start with %q", msg.Text, want)
			}
			if want := "Resolved at 00:02 UTC, after 2 minutes."; !strings.Contains(msg.Text, want) {
				t.Errorf("message lacks %q:\n%s", want, msg.Text)
			}
			if strings.Contains(msg.Text, "React 👀") {
				t.Errorf("a resolved alert still asks to be taken:\n%s", msg.Text)
			}
			want := []relatedMessage{{To: 1, Text: "✅ Resolved: Disk /var is 90.0% full (#1), after 2 minutes."}}
			if f := h.msgr.FollowUps(); !reflect.DeepEqual(f, want) {
				t.Errorf("follow-ups = %+v, want %+v", f, want)
			}
			if open := h.open(t); len(open) != 0 {
				t.Errorf("open alerts after resolution: %v", open)
			}
			if posts := h.msgr.Posts(); len(posts) != 1 {
				t.Errorf("resolution posted a new message: %v", posts)
			}
		})
	})
	t.Run("alert resolved before its group was posted posts nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness()
			h.apply(t, "disk", diskAt("/var", 90, 0))
			time.Sleep(10 * time.Second)
			h.apply(t, "disk")
			time.Sleep(groupWait)
			if wait := h.flush(t); wait != 0 {
				t.Errorf("flush waits %s for nothing", wait)
			}
			if posts, f, r := h.msgr.Posts(), h.msgr.FollowUps(), h.msgr.Reactions(); len(posts)+len(f)+len(r) != 0 {
				t.Errorf("queued posts %v, follow-ups %v, reactions %v; want nothing", posts, f, r)
			}
			if a := h.store.byFingerprint("disk:/var"); a == nil || a.State != state.AlertResolved {
				t.Errorf("alert = %+v, want it kept as resolved history", a)
			}
		})
	})
	t.Run("group message marks each resolution", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness()
			h.apply(t, "disk", diskAt("/var", 90, 0))
			h.apply(t, "http:web", down("web"))
			time.Sleep(groupWait)
			h.flush(t)
			time.Sleep(time.Minute)
			h.apply(t, "http:web")

			msg := h.msgr.Message(t, 1)
			for _, want := range []string{
				"🟡 2 alerts fired together", // the worst still open is a warning
				"#2 web does not answer. Since 00:00 UTC. Resolved at 00:01 UTC, after a minute.",
				"#1 Disk /var is 90.0% full — ",
				"React 👀 to take them all",
			} {
				if !strings.Contains(msg.Text, want) {
					t.Errorf("message lacks %q:\n%s", want, msg.Text)
				}
			}
			want := []relatedMessage{{To: 1, Text: "✅ Resolved: web does not answer (#2), after a minute."}}
			if f := h.msgr.FollowUps(); !reflect.DeepEqual(f, want) {
				t.Errorf("follow-ups = %+v, want %+v", f, want)
			}

			h.apply(t, "disk")
			msg = h.msgr.Message(t, 1)
			if !strings.HasPrefix(msg.Text, "✅ 2 alerts, all resolved") || strings.Contains(msg.Text, "React 👀") {
				t.Errorf("message after both resolved:\n%s", msg.Text)
			}
			if f := h.msgr.FollowUps(); len(f) != 2 {
				t.Errorf("%d follow-ups, want one per alert", len(f))
			}
		})
	})
}

func TestCheckFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		h.apply(t, "disk", diskAt("/var", 90, 0))
		time.Sleep(groupWait)
		h.flush(t)
		time.Sleep(time.Minute)

		fail := errors.New("read disk use of /var: no such file or directory")
		for range 2 { // failing twice is still one alert
			if err := h.eng.Apply(t.Context(), "disk", nil, fail); err != nil {
				t.Fatal(err)
			}
			time.Sleep(groupWait)
			h.flush(t)
		}
		want := map[string]state.AlertState{"disk:/var": state.AlertFiring, "check:disk": state.AlertFiring}
		if open := h.open(t); !maps.Equal(open, want) {
			t.Errorf("open alerts while the check fails = %v, want %v", open, want)
		}
		if msg := h.msgr.Message(t, 1); msg.Edits != 0 {
			t.Errorf("the disk alert's message was edited while nobody could tell:\n%s", msg.Text)
		}
		posts := h.msgr.Posts()
		if len(posts) != 2 {
			t.Fatalf("%d messages, want the disk alert and one for the failing check", len(posts))
		}
		for _, want := range []string{
			"🟡 Warning: Steward can't run its disk check (#2)", "Now: read disk use of /var: no such file or directory.",
		} {
			if !strings.Contains(posts[1].Text, want) {
				t.Errorf("check failure message lacks %q:\n%s", want, posts[1].Text)
			}
		}

		// The check works again: its failure resolves, the disk alert goes on.
		time.Sleep(time.Minute)
		h.apply(t, "disk", diskAt("/var", 90, 0))
		want = map[string]state.AlertState{"disk:/var": state.AlertFiring}
		if open := h.open(t); !maps.Equal(open, want) {
			t.Errorf("open alerts once the check works = %v, want %v", open, want)
		}
		if msg := h.msgr.Message(t, 2); !strings.HasPrefix(msg.Text, "✅ Resolved: Steward can't run its disk check (#2)") {
			t.Errorf("check failure message after recovery:\n%s", msg.Text)
		}
		if f := h.msgr.FollowUps(); len(f) != 1 || f[0].To != 2 {
			t.Errorf("follow-ups = %v, want one for the check failure", f)
		}
		if msg := h.msgr.Message(t, 1); msg.Edits != 0 {
			t.Errorf("the disk alert's message was edited:\n%s", msg.Text)
		}
	})
}

// A check that reads several things (disks, CPU and memory) reports what it could read
// along with the error for what it could not; host.go says so. The problems it did see
// must still alert: a full root disk must not go unreported because another disk is
// unmounted.
func TestCheckErrorDoesNotHideProblemsReportedWithIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		fail := errors.New("read disk use of /mnt/backup: no such file or directory")
		if err := h.eng.Apply(t.Context(), "disk", []Observation{diskAt("/", 97, 0)}, fail); err != nil {
			t.Fatal(err)
		}
		want := map[string]state.AlertState{"disk:/": state.AlertFiring, "check:disk": state.AlertFiring}
		if open := h.open(t); !maps.Equal(open, want) {
			t.Errorf("open alerts = %v, want %v", open, want)
		}
		time.Sleep(groupWait)
		h.flush(t)
		if posts := h.msgr.Posts(); len(posts) != 1 || !strings.Contains(posts[0].Text, "Disk / is 97.0% full") {
			t.Errorf("messages = %v, want the full root disk among them", posts)
		}
	})
}

func TestAck(t *testing.T) {
	alice := Actor{UserID: "@alice:example.org", DeviceID: "ALICEPHONE", RoomID: adminRoom, EventID: "$ack-by-alice"}
	bob := Actor{UserID: "@bob:example.org", DeviceID: "BOBLAPTOP", RoomID: adminRoom, EventID: "$ack-by-bob"}
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		ctx := t.Context()
		h.apply(t, "disk", diskAt("/var", 90, 0), diskAt("/home", 86, time.Hour)) // #2 stays pending
		time.Sleep(groupWait)
		h.flush(t)

		acked, err := h.eng.Ack(ctx, []int64{1}, alice)
		if err != nil || len(acked) != 1 || acked[0].ID != 1 || acked[0].AckedBy != alice.UserID {
			t.Fatalf("Ack(#1) = %v, %v; want #1 taken by alice", acked, err)
		}
		msg := h.msgr.Message(t, 1)
		if want := "👀 @alice:example.org is on it (since 00:00 UTC)."; !strings.Contains(msg.Text, want) {
			t.Errorf("message lacks %q:\n%s", want, msg.Text)
		}
		if strings.Contains(msg.Text, "React 👀") {
			t.Errorf("a taken alert still asks to be taken:\n%s", msg.Text)
		}
		wantEntry := state.AuditEntry{
			ID: 1, Actor: alice.UserID, ActorDevice: alice.DeviceID, RoomID: adminRoom, EventID: alice.EventID,
			Action: "alert.ack", Arguments: "#1 disk:/var", Outcome: state.OutcomeOK, Detail: "Disk /var is 90.0% full",
		}
		if log := h.audit.Entries(); len(log) != 1 || log[0] != wantEntry {
			t.Errorf("decision log = %+v, want %+v", log, wantEntry)
		}
		edits := len(h.msgr.Edits())

		// Taking it again, by command or by reaction, keeps the first taker.
		if acked, err := h.eng.Ack(ctx, []int64{1}, bob); err != nil || len(acked) != 0 {
			t.Errorf("second Ack = %v, %v; want nothing newly taken", acked, err)
		}
		if acked, found, err := h.eng.AckMessage(ctx, "$msg1", bob); err != nil || !found || len(acked) != 0 {
			t.Errorf("AckMessage after Ack = %v, found %v, %v; want found and nothing newly taken", acked, found, err)
		}
		if msg := h.msgr.Message(t, 1); strings.Contains(msg.Text, "bob") || !strings.Contains(msg.Text, "alice") {
			t.Errorf("message after a second ack:\n%s", msg.Text)
		}
		if n := len(h.audit.Entries()); n != 1 {
			t.Errorf("decision log has %d entries, want alice's only", n)
		}
		if n := len(h.msgr.Edits()); n != edits {
			t.Errorf("a second ack edited the message")
		}

		notOpen := []struct {
			name string
			ids  []int64
			want int64
		}{
			{"pending", []int64{2}, 2},
			{"unknown", []int64{99}, 99},
			{"one of several unknown", []int64{1, 99}, 99},
		}
		for _, tt := range notOpen {
			_, err := h.eng.Ack(ctx, tt.ids, bob)
			var e *NotOpenError
			if !errors.As(err, &e) || e.ID != tt.want {
				t.Errorf("%s: Ack(%v) error = %v, want NotOpenError for #%d", tt.name, tt.ids, err, tt.want)
			}
		}

		h.apply(t, "disk", diskAt("/home", 86, time.Hour)) // resolves #1
		var e *NotOpenError
		if _, err := h.eng.Ack(ctx, []int64{1}, bob); !errors.As(err, &e) || e.ID != 1 {
			t.Errorf("Ack of a resolved alert: error = %v, want NotOpenError for #1", err)
		}
		if acked, found, err := h.eng.AckMessage(ctx, "$msg1", bob); err != nil || !found || len(acked) != 0 {
			t.Errorf("AckMessage on a resolved alert's message = %v, found %v, %v; want found, nothing taken", acked, found, err)
		}
		if acked, found, err := h.eng.AckMessage(ctx, "$unrelated", bob); err != nil || found || len(acked) != 0 {
			t.Errorf("AckMessage on an unrelated event = %v, found %v, %v; want not found", acked, found, err)
		}
		if n := len(h.audit.Entries()); n != 1 {
			t.Errorf("decision log has %d entries, want alice's only", n)
		}
	})
}

func TestAckMessageTakesEveryAlertItShows(t *testing.T) {
	alice := Actor{UserID: "@alice:example.org", DeviceID: "ALICEPHONE", RoomID: adminRoom, EventID: "$reaction"}
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		h.apply(t, "disk", diskAt("/var", 90, 0))
		h.apply(t, "http:web", down("web"))
		time.Sleep(groupWait)
		h.flush(t)

		acked, found, err := h.eng.AckMessage(t.Context(), "$msg1", alice)
		if err != nil || !found || len(acked) != 2 {
			t.Fatalf("AckMessage = %v, found %v, %v; want both alerts", acked, found, err)
		}
		if n := strings.Count(h.msgr.Message(t, 1).Text, "👀 @alice:example.org is on it"); n != 2 {
			t.Errorf("message shows alice on %d alerts, want 2:\n%s", n, h.msgr.Message(t, 1).Text)
		}
		log := h.audit.Entries()
		if len(log) != 2 {
			t.Fatalf("decision log has %d entries, want one per alert", len(log))
		}
		for _, entry := range log {
			if entry.Action != "alert.ack" || entry.EventID != "$reaction" || entry.ActorDevice != "ALICEPHONE" {
				t.Errorf("decision log entry = %+v", entry)
			}
		}
	})
}

// "!ack 3 3" takes #3 once: one line in the decision log, and the reply names it once.
func TestAckListingAnAlertTwiceTakesItOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		h.apply(t, "disk", diskAt("/var", 90, 0))
		time.Sleep(groupWait)
		h.flush(t)
		acked, err := h.eng.Ack(t.Context(), []int64{1, 1}, Actor{UserID: "@alice:example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if len(acked) != 1 {
			t.Errorf("Ack([1 1]) returned %d alerts, want #1 once", len(acked))
		}
		if log := h.audit.Entries(); len(log) != 1 {
			t.Errorf("decision log has %d alert.ack entries for one alert, want 1", len(log))
		}
	})
}

func TestRestart(t *testing.T) {
	t.Run("alerts that fired before a crash are posted after it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness()
			h.apply(t, "disk", diskAt("/var", 90, 0))
			h.apply(t, "http:web", down("web"))
			time.Sleep(5 * time.Minute) // down before the flush
			h.restart()
			if wait := h.flush(t); wait != 0 {
				t.Errorf("flush after the restart waits %s, want the overdue alerts posted now", wait)
			}
			posts := h.msgr.Posts()
			if len(posts) != 1 || !strings.Contains(posts[0].Text, "2 alerts fired together") {
				t.Errorf("messages after the restart = %v, want one with both alerts", posts)
			}
		})
	})
	t.Run("posted alerts are not posted again", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness()
			h.apply(t, "disk", diskAt("/var", 90, 0))
			time.Sleep(groupWait)
			h.flush(t)
			h.restart()
			h.apply(t, "disk", diskAt("/var", 90, 0))
			time.Sleep(groupWait)
			h.flush(t)
			if posts, edits := h.msgr.Posts(), h.msgr.Edits(); len(posts) != 1 || len(edits) != 0 {
				t.Errorf("after a restart: posts %v, edits %v; want the one message untouched", posts, edits)
			}
		})
	})
	t.Run("pending alerts keep their start", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness()
			h.apply(t, "disk", diskAt("/var", 90, 5*time.Minute))
			time.Sleep(3 * time.Minute)
			h.apply(t, "disk", diskAt("/var", 90, 5*time.Minute))
			h.restart()
			time.Sleep(2 * time.Minute)
			h.apply(t, "disk", diskAt("/var", 90, 5*time.Minute))
			if open := h.open(t); open["disk:/var"] != state.AlertFiring {
				t.Errorf("5 minutes after the problem began (with a restart at 3): %v, want firing", open)
			}
			time.Sleep(groupWait)
			h.flush(t)
			if posts := h.msgr.Posts(); len(posts) != 1 {
				t.Errorf("messages = %v, want the alert posted", posts)
			}
		})
	})
}

func TestRetireResolvesAlertsOfRemovedChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		h.apply(t, "http:old", down("old"))
		h.apply(t, "disk", diskAt("/var", 90, 0))
		pending := down("gone")
		pending.For = time.Hour
		h.apply(t, "http:gone", pending)
		time.Sleep(groupWait)
		h.flush(t)
		time.Sleep(time.Minute)

		if err := h.eng.Retire(t.Context(), []string{"disk", "host"}); err != nil {
			t.Fatal(err)
		}
		want := map[string]state.AlertState{"disk:/var": state.AlertFiring}
		if open := h.open(t); !maps.Equal(open, want) {
			t.Errorf("open alerts after Retire = %v, want %v", open, want)
		}
		if a := h.store.byFingerprint("http:gone:down"); a != nil {
			t.Errorf("the removed check's pending alert was kept: %+v", a)
		}
		if msg := h.msgr.Message(t, 1); !strings.Contains(msg.Text, "#1 old does not answer. Since 00:00 UTC. Resolved at 00:01 UTC") {
			t.Errorf("message does not show the retired alert resolved:\n%s", msg.Text)
		}
		if f := h.msgr.FollowUps(); len(f) != 1 || !strings.HasPrefix(f[0].Text, "✅ Resolved: old does not answer (#1)") {
			t.Errorf("follow-ups = %+v, want the retired alert's", f)
		}
	})
}
