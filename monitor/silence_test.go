package monitor

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/steward-bot/steward/state"
)

func TestMatches(t *testing.T) {
	tests := []struct {
		matcher, fingerprint string
		want                 bool
	}{
		{"disk:/var", "disk:/var", true},
		{"disk:/var", "disk:/var/lib", false},
		{"disk:/var", "disk:/va", false},
		{"disk:/var", "xdisk:/var", false},
		{"*", "disk:/var/lib/docker", true},
		{"*", "", true},
		{"disk:*", "disk:/var/lib", true}, // * spans slashes
		{"disk:*", "disk:", true},
		{"disk:*", "http:wiki:down", false},
		{"job:*", "job:nightly\nbackup", true},   // and newlines
		{"container:w?b", "container:wéb", true}, // ? is one character, not one byte
		{"disk:\xff", "disk:\xff", true},         // not UTF-8: no panic
		{"disk:/var/*", "disk:/var/lib/docker", true},
		{"disk:/var/*", "disk:/var", false},
		{"http:wiki:*", "http:wiki:down", true},
		{"http:wiki:*", "http:wiki:slow", true},
		{"http:wiki:*", "http:wikis:down", false},
		{"http:*:down", "http:wiki:down", true},
		{"http:*:down", "http:wiki:slow", false},
		{"disk:/sr?", "disk:/srv", true},
		{"disk:/sr?", "disk:/sr", false},
		{"disk:/sr?", "disk:/srv/a", false},
		// Regular expression syntax in a matcher is literal text.
		{"http:my.site:down", "http:my.site:down", true},
		{"http:my.site:down", "http:myXsite:down", false},
		{"http:c++:down", "http:c++:down", true},
		{"http:c++:down", "http:ccc:down", false},
		{"disk:/mnt/(a|b)", "disk:/mnt/(a|b)", true},
		{"disk:/mnt/(a|b)", "disk:/mnt/a", false},
		{"disk:/mnt/[ab]", "disk:/mnt/a", false},
		{"disk:/mnt/^x$", "disk:/mnt/^x$", true},
		{`disk:C:\*`, `disk:C:\temp`, true},
		{"Disk:/var", "disk:/var", false},
	}
	for _, tt := range tests {
		if got := Matches(tt.matcher, tt.fingerprint); got != tt.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tt.matcher, tt.fingerprint, got, tt.want)
		}
	}
}

// silenceSettings are the engine's settings for the silence tests: a group room and a
// bot account, and nothing escalated or announced by itself.
func silenceSettings() Settings {
	s := testSettings
	s.GroupRoom = groupRoom
	s.BotUserID = "@steward:example.org"
	s.AnnounceAfter = 24 * time.Hour
	return s
}

var byAlice = Actor{UserID: alice, DeviceID: "ALICEPHONE", RoomID: adminRoom, EventID: "$silence"}

// silence holds back matcher for span with reason, set by alice.
func silence(t *testing.T, h *harness, matcher string, span time.Duration, reason string, maintenance bool) *state.Silence {
	t.Helper()
	s := &state.Silence{
		Matcher: matcher, Reason: reason, CreatedBy: alice, CreatedAt: time.Now(), EndsAt: time.Now().Add(span), Maintenance: maintenance,
	}
	if _, err := h.eng.Silence(t.Context(), s, byAlice); err != nil {
		t.Fatalf("Silence(%s): %v", matcher, err)
	}
	return s
}

// postsWith returns the posted messages that contain part.
func postsWith(h *harness, part string) []sentMessage {
	var out []sentMessage
	for _, p := range h.msgr.Posts() {
		if strings.Contains(p.Text, part) {
			out = append(out, p)
		}
	}
	return out
}

// woken reports whether the engine asked for a flush since the last call, draining it.
func woken(h *harness) bool {
	select {
	case <-h.eng.Fired():
		return true
	default:
		return false
	}
}

func TestSilencedAlertComesOutWhenUnsilenced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newHarnessWith(silenceSettings(), nil)
		s := silence(t, h, "disk:*", 2*time.Hour, "moving backups", false)
		h.apply(t, "disk", diskAt("/var/lib", 90, 0))
		h.runFor(t, time.Hour)
		if posts := h.msgr.Posts(); len(posts) != 0 {
			t.Fatalf("a silenced alert was posted: %+v", posts)
		}
		if a := h.store.byFingerprint("disk:/var/lib"); a == nil || a.State != state.AlertFiring {
			t.Fatalf("silenced alert = %+v, want it recorded as firing", a)
		}

		woken(h)
		ended, err := h.eng.Unsilence(t.Context(), s.ID, byAlice)
		if err != nil || ended == nil || ended.ID != s.ID {
			t.Fatalf("Unsilence(#%d) = %+v, %v; want the silence", s.ID, ended, err)
		}
		if !woken(h) {
			t.Error("Unsilence did not wake the flush: the held-back alert waits for the next alert to fire")
		}
		h.flush(t)
		posts := h.msgr.Posts()
		if len(posts) != 1 || !strings.HasPrefix(posts[0].Text, "🟡 Warning: Disk /var/lib is 90.0% full (#1)") {
			t.Fatalf("messages after Unsilence = %+v, want the alert", posts)
		}
		if strings.Contains(posts[0].Text, "Silenced") {
			t.Errorf("the alert still shows a silence that ended:\n%s", posts[0].Text)
		}
		if again, err := h.eng.Unsilence(t.Context(), s.ID, byAlice); err != nil || again != nil {
			t.Errorf("second Unsilence = %+v, %v; want nil (already ended)", again, err)
		}
		if again, err := h.eng.Unsilence(t.Context(), 99, byAlice); err != nil || again != nil {
			t.Errorf("Unsilence of an unknown silence = %+v, %v; want nil", again, err)
		}

		want := []state.AuditEntry{
			{ID: 1, Actor: alice, ActorDevice: "ALICEPHONE", RoomID: adminRoom, EventID: "$silence", Action: "silence.add",
				Arguments: "#1 disk:* until 2000-01-01T02:00:00Z", Outcome: state.OutcomeOK, Detail: "moving backups"},
			{ID: 2, Actor: alice, ActorDevice: "ALICEPHONE", RoomID: adminRoom, EventID: "$silence", Action: "silence.end",
				Arguments: "#1 disk:*", Outcome: state.OutcomeOK},
		}
		if log := h.audit.Entries(); len(log) != len(want) || log[0] != want[0] || log[1] != want[1] {
			t.Errorf("decision log = %+v\nwant %+v", log, want)
		}
	})
}

func TestSilenceRunsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, silences := newHarnessWith(silenceSettings(), nil)
		silence(t, h, "disk:*", time.Hour, "moving backups", false)
		h.apply(t, "disk", diskAt("/var", 90, 0))
		h.runFor(t, time.Hour-silenceWarning-tickEvery)
		if posts := h.msgr.Posts(); len(posts) != 0 {
			t.Fatalf("posted while silenced and far from its end: %+v", posts)
		}

		h.runFor(t, tickEvery)
		warning := "🔕 Silence #1 on `disk:*` (moving backups) ends at 01:00 UTC, in 5 minutes. Silence again to extend it."
		if posts := h.msgr.Posts(); len(posts) != 1 || posts[0].Text != warning || posts[0].Room != adminRoom {
			t.Fatalf("messages 5 minutes before the end = %+v, want the warning %q in the admin room", posts, warning)
		}
		h.runFor(t, silenceWarning-tickEvery)
		if posts := h.msgr.Posts(); len(posts) != 1 {
			t.Fatalf("messages before the end = %+v, want the one warning", posts)
		}

		time.Sleep(tickEvery)
		woken(h)
		h.tick(t)
		if !woken(h) {
			t.Error("the silence ran out without waking the flush: the held-back alert waits for the next alert to fire")
		}
		h.flush(t)
		if n := len(postsWith(h, "ends at")); n != 1 {
			t.Errorf("the warning was posted %d times, want once", n)
		}
		if got := postsWith(h, "🔕 Silence #1 on `disk:*` has ended; alerts it held back come out now."); len(got) != 1 {
			t.Errorf("no notice that the silence ended: %+v", h.msgr.Posts())
		}
		if got := postsWith(h, "Disk /var is 90.0% full (#1)"); len(got) != 1 {
			t.Errorf("the held-back alert was not posted once the silence ran out: %+v", h.msgr.Posts())
		}
		if running, _ := silences.Running(t.Context()); len(running) != 0 {
			t.Errorf("silences still running: %+v", running)
		}
		last := h.audit.Entries()[len(h.audit.Entries())-1]
		want := state.AuditEntry{ID: last.ID, Actor: "@steward:example.org", Action: "silence.end", Arguments: "#1 disk:*", Outcome: state.OutcomeOK, Detail: "expired"}
		if last != want {
			t.Errorf("last decision = %+v, want %+v", last, want)
		}

		n := len(h.msgr.Posts())
		h.runFor(t, time.Hour)
		if posts := h.msgr.Posts(); len(posts) != n {
			t.Errorf("more messages after the silence ended: %+v", posts[n:])
		}
	})
}

func TestSilenceShowsOnPostedAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newHarnessWith(silenceSettings(), nil)
		h.apply(t, "disk", diskAt("/var", 90, 0))
		h.apply(t, "http:web", down("web"))
		h.runFor(t, time.Minute)
		if posts := h.msgr.Posts(); len(posts) != 1 {
			t.Fatalf("messages = %+v, want one with both alerts", posts)
		}
		s := silence(t, h, "disk:*", 2*time.Hour, "moving backups", false)
		msg := h.msgr.Message(t, 1)
		if msg.Edits != 1 {
			t.Errorf("message edited %d times by the silence, want 1", msg.Edits)
		}
		if want := "#1 Disk /var is 90.0% full — 90.0% used (warning at 85%, critical at 95%). Since 00:00 UTC. 🔕 Silenced by @alice:example.org until 02:01 UTC (silence #1: moving backups)."; !strings.Contains(msg.Text, want) {
			t.Errorf("message lacks %q:\n%s", want, msg.Text)
		}
		if n := strings.Count(msg.Text, "🔕"); n != 1 {
			t.Errorf("message shows %d silences, want 1 (web is not silenced):\n%s", n, msg.Text)
		}
		if _, err := h.eng.Unsilence(t.Context(), s.ID, byAlice); err != nil {
			t.Fatal(err)
		}
		if msg := h.msgr.Message(t, 1); strings.Contains(msg.Text, "Silenced") {
			t.Errorf("message still shows the ended silence:\n%s", msg.Text)
		}
	})
}

func TestSilenceShowsOnSingleAlertMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newHarnessWith(silenceSettings(), nil)
		h.apply(t, "disk", diskAt("/var", 90, 0))
		h.runFor(t, time.Minute)
		silence(t, h, "disk:/var", time.Hour, "moving backups", false)
		msg := h.msgr.Message(t, 1)
		if want := "🔕 Silenced by @alice:example.org until 01:01 UTC (silence #1: moving backups)."; !strings.Contains(msg.Text, want) {
			t.Errorf("message lacks %q:\n%s", want, msg.Text)
		}
		if strings.Contains(msg.Text, "React 👀") {
			t.Errorf("a silenced alert still asks to be taken:\n%s", msg.Text)
		}
	})
}

func TestSilencedAlertThatResolvesIsNeverPosted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newHarnessWith(silenceSettings(), nil)
		s := silence(t, h, "disk:/var", 2*time.Hour, "moving backups", false)
		h.apply(t, "disk", diskAt("/var", 97, 0))
		h.runFor(t, 10*time.Minute)
		h.apply(t, "disk")
		if a := h.store.byFingerprint("disk:/var"); a == nil || a.State != state.AlertResolved || a.Worst != state.SeverityCritical {
			t.Errorf("alert = %+v, want it kept as resolved history", a)
		}
		if _, err := h.eng.Unsilence(t.Context(), s.ID, byAlice); err != nil {
			t.Fatal(err)
		}
		h.runFor(t, time.Hour)
		if posts, f, e := h.msgr.Posts(), h.msgr.FollowUps(), h.msgr.Edits(); len(posts)+len(f)+len(e) != 0 {
			t.Errorf("posts %+v, follow-ups %+v, edits %+v; want nothing about an alert that was over before the silence", posts, f, e)
		}
	})
}

func TestMaintenanceWindow(t *testing.T) {
	for _, how := range []string{"runs out", "ended early"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, _ := newHarnessWith(silenceSettings(), nil)
				h.apply(t, "http:web", down("web"))
				h.runFor(t, time.Minute)
				s := silence(t, h, "*", 30*time.Minute, "upgrading the mail server", true)
				start := "🛠️ Maintenance until 00:31 UTC: upgrading the mail server. Some services may be unavailable meanwhile; I'll say here when it is over."
				if a := h.msgr.Announcements(); len(a) != 1 || a[0] != (announcement{Room: groupRoom, Text: start}) {
					t.Fatalf("announcements = %+v, want %q in the group room", a, start)
				}
				if msg := h.msgr.Message(t, 1); !strings.Contains(msg.Text, "🔕 Silenced by @alice:example.org") {
					t.Errorf("the alert's message does not show the maintenance:\n%s", msg.Text)
				}
				h.apply(t, "disk", diskAt("/var", 90, 0))
				h.runFor(t, 10*time.Minute)
				if posts := postsWith(h, "Disk /var"); len(posts) != 0 {
					t.Errorf("an alert was posted during maintenance: %+v", posts)
				}

				endedBy := string(alice)
				if how == "runs out" {
					h.runFor(t, 20*time.Minute)
					endedBy = "@steward:example.org"
				} else if _, err := h.eng.Unsilence(t.Context(), s.ID, byAlice); err != nil {
					t.Fatal(err)
				}
				h.flush(t)
				over := announcement{Room: groupRoom, Text: "✅ Maintenance is over."}
				if a := h.msgr.Announcements(); len(a) != 2 || a[1] != over {
					t.Errorf("announcements = %+v, want the start and %+v", a, over)
				}
				if posts := postsWith(h, "Disk /var"); len(posts) != 1 {
					t.Errorf("the alert held back by the maintenance was not posted after it: %+v", h.msgr.Posts())
				}
				var actions []string
				for _, e := range h.audit.Entries() {
					actions = append(actions, e.Action+" by "+string(e.Actor))
				}
				want := []string{"maintenance.start by " + string(alice), "maintenance.end by " + endedBy}
				if strings.Join(actions, ", ") != strings.Join(want, ", ") {
					t.Errorf("decision log = %v, want %v", actions, want)
				}
				h.runFor(t, time.Hour)
				if a := h.msgr.Announcements(); len(a) != 2 {
					t.Errorf("announcements after the end = %+v, want no more", a[2:])
				}
			})
		})
	}
}

// The warning before a maintenance window ends says to start another to extend it.
// Whoever does so (with a second window) is still under maintenance when the first
// one ends, so members must not be told it is over until the last window ends.
func TestExtendedMaintenanceIsOverOnlyWhenTheLastWindowEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newHarnessWith(silenceSettings(), nil)
		silence(t, h, "*", 30*time.Minute, "upgrading the mail server", true)
		h.runFor(t, 26*time.Minute)
		if got := postsWith(h, "Start another maintenance window to extend it."); len(got) != 1 {
			t.Fatalf("no warning before the window ends: %+v", h.msgr.Posts())
		}
		silence(t, h, "*", time.Hour, "the upgrade takes longer", true) // until 01:26
		h.runFor(t, 10*time.Minute)
		var over []announcement
		for _, a := range h.msgr.Announcements() {
			if strings.Contains(a.Text, "Maintenance is over") {
				over = append(over, a)
			}
		}
		if len(over) != 0 {
			t.Errorf("at 00:36, with maintenance extended until 01:26, members were told %q", over[0].Text)
		}
		h.runFor(t, time.Hour)
		over = over[:0]
		for _, a := range h.msgr.Announcements() {
			if strings.Contains(a.Text, "Maintenance is over") {
				over = append(over, a)
			}
		}
		if len(over) != 1 {
			t.Errorf("members were told %d times that maintenance is over, want once when the last window ended", len(over))
		}
	})
}
