package monitor

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

const (
	alice     = id.UserID("@alice:example.org")
	bob       = id.UserID("@bob:example.org")
	carol     = id.UserID("@carol:example.org")
	groupRoom = id.RoomID("!group:example.org")

	escalateAfter = 10 * time.Minute
	announceAfter = 5 * time.Minute
)

var everyAdmin = []id.UserID{alice, bob, carol}

// escalationSettings call bob, the admin on duty, after escalateAfter, and everyone
// after twice that. Nothing goes to the group room.
func escalationSettings() Settings {
	s := testSettings
	s.BotUserID = "@steward:example.org"
	s.EscalateAfter = escalateAfter
	s.Admins = everyAdmin
	s.OnDuty = func(context.Context, time.Time) (id.UserID, bool) { return bob, true }
	return s
}

// noRotation is OnDuty without an on-call rotation.
func noRotation(context.Context, time.Time) (id.UserID, bool) { return "", false }

// htmlFollowUps also keeps the HTML of each follow-up, where mentions are pills.
type htmlFollowUps struct {
	*fakeMessenger
	mu   sync.Mutex
	html []string
}

func (m *htmlFollowUps) FollowUp(ctx context.Context, roomID id.RoomID, msgID int64, msg *render.Message, mentions ...id.UserID) error {
	m.mu.Lock()
	m.html = append(m.html, msg.HTML())
	m.mu.Unlock()
	return m.fakeMessenger.FollowUp(ctx, roomID, msgID, msg, mentions...)
}

func (m *htmlFollowUps) HTML() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.html)
}

// newEscalationHarness is an engine with settings whose follow-ups keep their HTML.
func newEscalationHarness(settings Settings) (*harness, *fakeSilences, *htmlFollowUps) {
	var withHTML *htmlFollowUps
	h, silences := newHarnessWith(settings, func(m *fakeMessenger) Messenger {
		withHTML = &htmlFollowUps{fakeMessenger: m}
		return withHTML
	})
	return h, silences, withHTML
}

// pill is how a mention of who reads in HTML.
func pill(who id.UserID) string {
	return `<a href="` + who.URI().MatrixToURL() + `">`
}

// critical is a critical disk problem on path.
func critical(path string) Observation {
	return diskAt(path, 97, 0)
}

// wantCall fails t unless the follow-up f, with its HTML, calls exactly who about a
// critical alert: they are mentioned, shown as pills, and told how to take it.
func wantCall(t *testing.T, f relatedMessage, html string, who ...id.UserID) {
	t.Helper()
	if !slices.Equal(f.Mentions, who) {
		t.Errorf("follow-up mentions %v, want %v", f.Mentions, who)
	}
	for _, w := range who {
		if !strings.Contains(html, pill(w)) {
			t.Errorf("follow-up has no pill for %s:\n%s", w, html)
		}
	}
	for _, w := range everyAdmin {
		if !slices.Contains(who, w) && strings.Contains(f.Text, string(w)) {
			t.Errorf("follow-up names %s, who is not called:\n%s", w, f.Text)
		}
	}
	for _, want := range []string{"🔔 ", "critical and nobody has taken ", "React 👀 above or send `!ack "} {
		if !strings.Contains(f.Text, want) {
			t.Errorf("follow-up lacks %q:\n%s", want, f.Text)
		}
	}
}

func TestCriticalAlertNobodyTakesCallsOnDutyThenEveryone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _, msgr := newEscalationHarness(escalationSettings())
		h.apply(t, "disk", critical("/var"))
		h.runFor(t, escalateAfter-tickEvery)
		if f := h.msgr.FollowUps(); len(f) != 0 {
			t.Fatalf("called before escalate_after: %+v", f)
		}

		h.runFor(t, tickEvery)
		f := h.msgr.FollowUps()
		if len(f) != 1 {
			t.Fatalf("%d follow-ups after escalate_after, want 1 calling the admin on duty: %+v", len(f), f)
		}
		if f[0].To != 1 {
			t.Errorf("follow-up replies to message %d, want the alert's message 1", f[0].To)
		}
		wantCall(t, f[0], msgr.HTML()[0], bob)
		if want := "#1 is critical and nobody has taken it for 10 minutes. React 👀 above or send `!ack 1`."; !strings.Contains(f[0].Text, want) {
			t.Errorf("follow-up lacks %q:\n%s", want, f[0].Text)
		}

		h.runFor(t, escalateAfter-tickEvery)
		if f := h.msgr.FollowUps(); len(f) != 1 {
			t.Fatalf("%d follow-ups before twice escalate_after, want still 1: %+v", len(f), f)
		}
		h.runFor(t, tickEvery)
		f = h.msgr.FollowUps()
		if len(f) != 2 {
			t.Fatalf("%d follow-ups after twice escalate_after, want 2 (on duty, then everyone): %+v", len(f), f)
		}
		wantCall(t, f[1], msgr.HTML()[1], everyAdmin...)

		h.runFor(t, 3*time.Hour)
		if f := h.msgr.FollowUps(); len(f) != 2 {
			t.Errorf("%d follow-ups three hours later, want no more than the two calls: %+v", len(f), f)
		}
		if a := h.store.byFingerprint("disk:/var"); a.Escalation != escalatedAll {
			t.Errorf("stored escalation = %d, want %d (every admin called)", a.Escalation, escalatedAll)
		}
	})
}

// A restart must not call people again: how far an alert was escalated is stored.
func TestEscalationSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		settings := escalationSettings()
		h, silences, _ := newEscalationHarness(settings)
		h.apply(t, "disk", critical("/var"))
		h.runFor(t, escalateAfter)
		h.eng = NewEngine(settings, h.store, silences, h.msgr, h.audit, h.txn.do, time.Now)
		h.runFor(t, escalateAfter-tickEvery)
		if f := h.msgr.FollowUps(); len(f) != 1 {
			t.Errorf("%d follow-ups after a restart, want the one call made before it: %+v", len(f), f)
		}
	})
}

func TestAlertsThatAreNotEscalated(t *testing.T) {
	byAlice := Actor{UserID: alice, RoomID: adminRoom, EventID: "$ack"}
	tests := []struct {
		name     string
		settings func(*Settings)
		run      func(t *testing.T, h *harness)
	}{
		{"taken before escalate_after", nil, func(t *testing.T, h *harness) {
			h.apply(t, "disk", critical("/var"))
			h.runFor(t, escalateAfter-time.Minute)
			if _, err := h.eng.Ack(t.Context(), []int64{1}, byAlice); err != nil {
				t.Fatal(err)
			}
		}},
		{"a warning", nil, func(t *testing.T, h *harness) {
			h.apply(t, "disk", diskAt("/var", 90, 0))
		}},
		{"escalate_after 0", func(s *Settings) { s.EscalateAfter = 0 }, func(t *testing.T, h *harness) {
			h.apply(t, "disk", critical("/var"))
		}},
		{"silenced after it was posted", nil, func(t *testing.T, h *harness) {
			h.apply(t, "disk", critical("/var"))
			h.runFor(t, time.Minute)
			if _, err := h.eng.Silence(t.Context(), &state.Silence{
				Matcher: "disk:*", Reason: "moving backups", CreatedBy: alice, EndsAt: time.Now().Add(48 * time.Hour),
			}, byAlice); err != nil {
				t.Fatal(err)
			}
		}},
		{"fired under a silence", nil, func(t *testing.T, h *harness) {
			if _, err := h.eng.Silence(t.Context(), &state.Silence{
				Matcher: "disk:/var", Reason: "moving backups", CreatedBy: alice, EndsAt: time.Now().Add(48 * time.Hour),
			}, byAlice); err != nil {
				t.Fatal(err)
			}
			h.apply(t, "disk", critical("/var"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				settings := escalationSettings()
				if tt.settings != nil {
					tt.settings(&settings)
				}
				h, _, _ := newEscalationHarness(settings)
				tt.run(t, h)
				h.runFor(t, 24*time.Hour)
				if f := h.msgr.FollowUps(); len(f) != 0 {
					t.Errorf("follow-ups = %+v, want nobody called", f)
				}
			})
		})
	}
}

func TestWithoutRotationEveryAdminIsCalledOnce(t *testing.T) {
	for name, onDuty := range map[string]func(context.Context, time.Time) (id.UserID, bool){
		"no rotation": noRotation,
		"no OnDuty":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				settings := escalationSettings()
				settings.OnDuty = onDuty
				h, _, msgr := newEscalationHarness(settings)
				h.apply(t, "disk", critical("/var"))
				h.runFor(t, escalateAfter-tickEvery)
				if f := h.msgr.FollowUps(); len(f) != 0 {
					t.Fatalf("called before escalate_after: %+v", f)
				}
				h.runFor(t, tickEvery)
				f := h.msgr.FollowUps()
				if len(f) != 1 {
					t.Fatalf("%d follow-ups after escalate_after, want 1 calling every admin: %+v", len(f), f)
				}
				wantCall(t, f[0], msgr.HTML()[0], everyAdmin...)
				h.runFor(t, 24*time.Hour)
				if f := h.msgr.FollowUps(); len(f) != 1 {
					t.Errorf("%d follow-ups a day later, want the one call: %+v", len(f), f)
				}
			})
		})
	}
}

func TestAlertsSharingAMessageShareTheirCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _, msgr := newEscalationHarness(escalationSettings())
		h.apply(t, "disk", critical("/var"), critical("/home"))
		h.apply(t, "http:web", down("web"))
		h.runFor(t, escalateAfter)
		if posts := h.msgr.Posts(); len(posts) != 1 {
			t.Fatalf("%d messages, want the three alerts in one", len(posts))
		}
		f := h.msgr.FollowUps()
		if len(f) != 1 {
			t.Fatalf("%d follow-ups for one message, want 1: %+v", len(f), f)
		}
		wantCall(t, f[0], msgr.HTML()[0], bob)
		if !strings.Contains(f[0].Text, "#1, #2, #3 ") {
			t.Errorf("the call does not name all three alerts:\n%s", f[0].Text)
		}
		h.runFor(t, escalateAfter)
		f = h.msgr.FollowUps()
		if len(f) != 2 {
			t.Fatalf("%d follow-ups after twice escalate_after, want 2: %+v", len(f), f)
		}
		wantCall(t, f[1], msgr.HTML()[1], everyAdmin...)
	})
}

// The call for several alerts on one message suggests a command to take them. Whoever
// does what it says has taken them all, so nobody else is called later. (It used to say
// "!ack 1", which takes #1 alone: ten minutes later every admin was called about #2
// although the admin on duty had done what they were asked.)
func TestCommandSuggestedByACallTakesEveryAlertItNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _, _ := newEscalationHarness(escalationSettings())
		h.apply(t, "disk", critical("/var"), critical("/home"))
		h.runFor(t, escalateAfter)
		f := h.msgr.FollowUps()
		if len(f) != 1 {
			t.Fatalf("%d follow-ups, want the call to the admin on duty: %+v", len(f), f)
		}
		_, suggested, ok := strings.Cut(f[0].Text, "send `!ack ")
		suggested, _, _ = strings.Cut(suggested, "`")
		if !ok {
			t.Fatalf("the call suggests no !ack command:\n%s", f[0].Text)
		}
		var ids []int64
		for _, field := range strings.Fields(suggested) {
			n, err := strconv.ParseInt(strings.TrimPrefix(field, "#"), 10, 64)
			if err != nil {
				t.Fatalf("suggested command %q: %v", "!ack "+suggested, err)
			}
			ids = append(ids, n)
		}
		if _, err := h.eng.Ack(t.Context(), ids, Actor{UserID: bob, RoomID: adminRoom}); err != nil {
			t.Fatal(err)
		}
		h.runFor(t, escalateAfter)
		if f := h.msgr.FollowUps(); len(f) != 1 {
			t.Errorf("bob sent the suggested \"!ack %s\", yet every admin was called again: %+v", suggested, f[1:])
		}
	})
}

// announceSettings tell the group room about public problems after announceAfter, and
// escalate nothing.
func announceSettings() Settings {
	s := testSettings
	s.GroupRoom = groupRoom
	s.AnnounceAfter = announceAfter
	return s
}

// publicDown is a public service that does not answer, with a hint for the admins.
func publicDown(name string) Observation {
	o := down(name)
	o.Hint = "docker logs " + name
	return o
}

func TestPublicProblemIsAnnouncedOnceAndWhenBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newHarnessWith(announceSettings(), nil)
		h.apply(t, "http:web", publicDown("web"))
		h.runFor(t, announceAfter-tickEvery)
		if a := h.msgr.Announcements(); len(a) != 0 {
			t.Fatalf("announced before announce_after: %+v", a)
		}
		h.runFor(t, tickEvery)
		a := h.msgr.Announcements()
		if len(a) != 1 {
			t.Fatalf("%d announcements after announce_after, want 1: %+v", len(a), a)
		}
		if a[0].Room != groupRoom {
			t.Errorf("announced in %s, want the group room", a[0].Room)
		}
		want := "⚠️ web is not working properly since 00:00 UTC. The admins know and are on it; I'll say here when it is back."
		if a[0].Text != want {
			t.Errorf("announcement = %q, want %q", a[0].Text, want)
		}
		for _, internal := range []string{"connection refused", "docker logs", "http:web", "#1"} {
			if strings.Contains(a[0].Text, internal) {
				t.Errorf("announcement to members shows %q, meant for admins:\n%s", internal, a[0].Text)
			}
		}

		h.runFor(t, 2*time.Hour)
		if a := h.msgr.Announcements(); len(a) != 1 {
			t.Fatalf("%d announcements two hours later, want still 1: %+v", len(a), a)
		}
		h.apply(t, "http:web")
		a = h.msgr.Announcements()
		if len(a) != 2 || a[1] != (announcement{Room: groupRoom, Text: "✅ web is working again."}) {
			t.Errorf("announcements after it came back = %+v, want the first and \"✅ web is working again.\"", a)
		}
	})
}

func TestProblemsNotAnnounced(t *testing.T) {
	byAlice := Actor{UserID: alice, RoomID: adminRoom, EventID: "$silence"}
	private := critical("/var")
	tests := []struct {
		name     string
		settings func(*Settings)
		before   func(t *testing.T, h *harness)
		obs      Observation
	}{
		{"not public", nil, nil, private},
		{"no group room", func(s *Settings) { s.GroupRoom = "" }, nil, publicDown("web")},
		{"silenced", nil, func(t *testing.T, h *harness) {
			if _, err := h.eng.Silence(t.Context(), &state.Silence{
				Matcher: "http:*", Reason: "deploying", CreatedBy: alice, EndsAt: time.Now().Add(48 * time.Hour),
			}, byAlice); err != nil {
				t.Fatal(err)
			}
		}, publicDown("web")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				settings := announceSettings()
				if tt.settings != nil {
					tt.settings(&settings)
				}
				h, _ := newHarnessWith(settings, nil)
				if tt.before != nil {
					tt.before(t, h)
				}
				h.apply(t, "check", tt.obs)
				h.runFor(t, 24*time.Hour)
				h.apply(t, "check")
				if a := h.msgr.Announcements(); len(a) != 0 {
					t.Errorf("announcements = %+v, want none", a)
				}
			})
		})
	}
}

func TestPublicProblemResolvedBeforeAnnounceAfterIsNeverAnnounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newHarnessWith(announceSettings(), nil)
		h.apply(t, "http:web", publicDown("web"))
		h.runFor(t, announceAfter-time.Minute)
		h.apply(t, "http:web")
		h.runFor(t, time.Hour)
		if a := h.msgr.Announcements(); len(a) != 0 {
			t.Errorf("announcements = %+v, want none: members never heard of it", a)
		}
	})
}

func TestPublicProblemsDueTogetherAreOneAnnouncement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newHarnessWith(announceSettings(), nil)
		h.apply(t, "http:web", publicDown("web"))
		h.apply(t, "http:wiki", publicDown("wiki"))
		h.runFor(t, announceAfter)
		a := h.msgr.Announcements()
		if len(a) != 1 {
			t.Fatalf("%d announcements, want one for both services: %+v", len(a), a)
		}
		if want := "⚠️ web, wiki are not working properly since 00:00 UTC."; !strings.HasPrefix(a[0].Text, want) {
			t.Errorf("announcement = %q, want it to start with %q", a[0].Text, want)
		}
		h.apply(t, "http:web")
		h.apply(t, "http:wiki")
		want := []announcement{
			a[0], {Room: groupRoom, Text: "✅ web is working again."}, {Room: groupRoom, Text: "✅ wiki is working again."},
		}
		if got := h.msgr.Announcements(); !slices.Equal(got, want) {
			t.Errorf("announcements = %+v, want %+v", got, want)
		}
	})
}

// With announce_after shorter than group_wait (0s and 10s are both valid, and
// the defaults allow it with a 5m group wait), members may be told about a problem
// before its alert is posted to the admins. If it then comes back before the post,
// members must still be told it works again: they were told it was broken.
func TestAnnouncedProblemResolvedBeforeItsAlertWasPostedIsAnnouncedBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		settings := announceSettings()
		settings.AnnounceAfter = 0
		h, _ := newHarnessWith(settings, nil)
		h.apply(t, "http:web", publicDown("web"))
		time.Sleep(tickEvery)
		h.tick(t) // before the group wait (30s) is over: announced, not yet posted
		if a := h.msgr.Announcements(); len(a) != 1 {
			t.Fatalf("%d announcements, want the problem announced: %+v", len(a), a)
		}
		if posts := h.msgr.Posts(); len(posts) != 0 {
			t.Fatalf("posted before the group wait was over: %+v", posts)
		}
		h.apply(t, "http:web")
		a := h.msgr.Announcements()
		if len(a) != 2 || a[1].Text != "✅ web is working again." {
			t.Errorf("announcements = %+v, want members told web works again", a)
		}
	})
}
