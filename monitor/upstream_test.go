package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/steward-bot/steward/state"
)

var _ Upstream = (*fakeUpstream)(nil)

// fakeUpstream is an Alertmanager in memory: it keeps the silences made, ends them,
// and says which alerts it still has firing.
type fakeUpstream struct {
	mu sync.Mutex
	// down makes every request fail, as an unreachable Alertmanager does.
	down bool
	// made are the silences made, by ID, with the fingerprint they silence.
	made    map[string]string
	expired []string
	// firing are the fingerprints it still has firing.
	firing map[string]bool
}

func newFakeUpstream() *fakeUpstream {
	return &fakeUpstream{made: map[string]string{}, firing: map[string]bool{}}
}

func (u *fakeUpstream) Source() string { return "alertmanager" }
func (u *fakeUpstream) Name() string   { return "Alertmanager" }

func (u *fakeUpstream) Silence(_ context.Context, s *state.Silence, a *state.Alert) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down {
		return "", errors.New("dial tcp 127.0.0.1:9093: connect: connection refused")
	}
	silenceID := fmt.Sprintf("up%d", len(u.made)+1)
	u.made[silenceID] = a.Fingerprint
	return silenceID, nil
}

func (u *fakeUpstream) Expire(_ context.Context, upstreamID string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down {
		return errors.New("connection refused")
	}
	u.expired = append(u.expired, upstreamID)
	return nil
}

func (u *fakeUpstream) Resolved(_ context.Context, alerts []*state.Alert) ([]string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down {
		return nil, errors.New("connection refused")
	}
	var out []string
	for _, a := range alerts {
		if !u.firing[a.Fingerprint] {
			out = append(out, a.Fingerprint)
		}
	}
	return out, nil
}

func (u *fakeUpstream) setFiring(fingerprints ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.firing = map[string]bool{}
	for _, fp := range fingerprints {
		u.firing[fp] = true
	}
}

// fromAlertmanager is what Alertmanager's webhook reports about one alert.
func fromAlertmanager(n int) Observation {
	return Observation{
		Fingerprint: fmt.Sprintf("am:%016x", n), Subject: fmt.Sprintf("HostDown on host%d", n), Severity: state.SeverityCritical,
		Summary: fmt.Sprintf("host%d is down", n), Labels: map[string]string{"alertname": "HostDown", "instance": fmt.Sprintf("host%d", n)},
	}
}

// upstreamHarness is an engine over fakes with up as its upstream and the alerts
// of n hosts down reported by Alertmanager, and a disk alert of its own, posted.
func upstreamHarness(t *testing.T, up *fakeUpstream, n int) (*harness, *fakeSilences) {
	settings := silenceSettings()
	if up != nil {
		settings.Upstream = up
	}
	h, silences := newHarnessWith(settings, nil)
	var firing []Observation
	for i := range n {
		firing = append(firing, fromAlertmanager(i+1))
	}
	if err := h.eng.Report(t.Context(), "alertmanager", firing, nil); err != nil {
		t.Fatal(err)
	}
	h.apply(t, "disk", diskAt("/var", 90, 0))
	h.runFor(t, time.Minute)
	return h, silences
}

// silenceUpstream sets a silence as !silence does: Steward's first, then upstream.
func silenceUpstream(t *testing.T, h *harness, matcher string, span time.Duration) (*state.Silence, UpstreamResult) {
	t.Helper()
	s := &state.Silence{Matcher: matcher, Reason: "replacing the switch", CreatedBy: alice, CreatedAt: time.Now(), EndsAt: time.Now().Add(span)}
	matched, err := h.eng.Silence(t.Context(), s, byAlice)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.eng.SilenceUpstream(t.Context(), s, matched, byAlice)
	if err != nil {
		t.Fatal(err)
	}
	return s, res
}

func TestSilenceReachesUpstream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := newFakeUpstream()
		h, silences := upstreamHarness(t, up, 2)
		s, res := silenceUpstream(t, h, "*", time.Hour)
		if res != (UpstreamResult{Name: "Alertmanager", Done: 2}) {
			t.Errorf("result = %+v, want both of Alertmanager's alerts silenced there (and the disk alert not)", res)
		}
		if got := slices.Sorted(func(yield func(string) bool) {
			for _, fp := range up.made {
				if !yield(fp) {
					return
				}
			}
		}); strings.Join(got, " ") != "am:0000000000000001 am:0000000000000002" {
			t.Errorf("upstream silences for %v", got)
		}
		stored, _ := silences.Get(t.Context(), s.ID)
		if stored.Upstream != "up1,up2" || s.Upstream != "up1,up2" {
			t.Errorf("upstream IDs stored %q, on the silence %q; want up1,up2", stored.Upstream, s.Upstream)
		}
		last := h.audit.Entries()[len(h.audit.Entries())-1]
		if last.Action != "silence.upstream" || last.Outcome != state.OutcomeOK || last.Arguments != "#1 alertmanager up1,up2" ||
			last.Actor != alice || last.EventID != byAlice.EventID || last.Detail != "2 of 2 alerts silenced in Alertmanager" {
			t.Errorf("decision = %+v", last)
		}

		// !unsilence: ended upstream too. One of them resolved while silenced, which
		// Alertmanager never says: it is resolved now, on its own message.
		up.setFiring("am:0000000000000002")
		posts := len(h.msgr.Posts())
		ended, err := h.eng.Unsilence(t.Context(), s.ID, byAlice)
		if err != nil || ended == nil {
			t.Fatal(ended, err)
		}
		res, err = h.eng.ExpireUpstream(t.Context(), ended, byAlice)
		if err != nil {
			t.Fatal(err)
		}
		if res != (UpstreamResult{Name: "Alertmanager", Done: 2}) || strings.Join(up.expired, ",") != "up1,up2" {
			t.Errorf("result = %+v, expired %v; want both ended", res, up.expired)
		}
		open := h.open(t)
		if _, ok := open["am:0000000000000001"]; ok {
			t.Errorf("the alert Alertmanager no longer has is still open: %v", open)
		}
		if _, ok := open["am:0000000000000002"]; !ok {
			t.Errorf("the alert still firing in Alertmanager was resolved: %v", open)
		}
		if f := h.msgr.FollowUps(); len(f) != 1 || !strings.HasPrefix(f[0].Text, "✅ Resolved: host1 is down") {
			t.Errorf("follow-ups = %+v, want host1's resolution", f)
		}
		if n := len(h.msgr.Posts()); n != posts {
			t.Errorf("%d new messages; the resolution belongs on the alert's message", n-posts)
		}
	})
}

// A silence that runs out by itself is not ended upstream (it was made with the same
// end), but what resolved meanwhile is settled.
func TestSilenceRunningOutSettlesUpstream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := newFakeUpstream()
		h, _ := upstreamHarness(t, up, 1)
		silenceUpstream(t, h, "am:*", time.Hour)
		up.setFiring()
		h.runFor(t, time.Hour+tickEvery)
		if len(up.expired) != 0 {
			t.Errorf("expired upstream %v: it ends there by itself", up.expired)
		}
		if open := h.open(t); len(open) != 1 {
			t.Errorf("open = %v, want only the disk alert", open)
		}
		if f := h.msgr.FollowUps(); len(f) != 1 || !strings.HasPrefix(f[0].Text, "✅ Resolved: host1 is down") {
			t.Errorf("follow-ups = %+v, want host1's resolution", f)
		}
	})
}

func TestSilenceHoldsWhenUpstreamIsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := newFakeUpstream()
		up.down = true
		h, silences := upstreamHarness(t, up, 3)
		s, res := silenceUpstream(t, h, "am:*", time.Hour)
		if res != (UpstreamResult{Name: "Alertmanager", Failed: 3}) {
			t.Errorf("result = %+v, want 3 failed", res)
		}
		if running, _ := silences.Running(t.Context()); len(running) != 1 || running[0].Upstream != "" {
			t.Errorf("running = %+v, want Steward's silence alone", running)
		}
		last := h.audit.Entries()[len(h.audit.Entries())-1]
		if last.Action != "silence.upstream" || last.Outcome != state.OutcomeError || last.Detail != "0 of 3 alerts silenced in Alertmanager" {
			t.Errorf("decision = %+v", last)
		}
		for _, e := range h.audit.Entries() {
			if strings.Contains(e.Detail+e.Arguments, "refused") {
				t.Errorf("the decision log has the internal error: %+v", e)
			}
		}
		// Nothing upstream to end, nothing to ask.
		ended, _ := h.eng.Unsilence(t.Context(), s.ID, byAlice)
		if res, err := h.eng.ExpireUpstream(t.Context(), ended, byAlice); err != nil || res != (UpstreamResult{}) {
			t.Errorf("ExpireUpstream = %+v, %v; want nothing done", res, err)
		}
	})
}

func TestSilenceUpstreamIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := newFakeUpstream()
		h, _ := upstreamHarness(t, up, maxUpstream+5)
		_, res := silenceUpstream(t, h, "am:*", time.Hour)
		if res != (UpstreamResult{Name: "Alertmanager", Done: maxUpstream, Left: 5}) || len(up.made) != maxUpstream {
			t.Errorf("result = %+v with %d made, want %d made and 5 left", res, len(up.made), maxUpstream)
		}
	})
}

func TestSilenceWithoutUpstream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := upstreamHarness(t, nil, 1)
		_, res := silenceUpstream(t, h, "*", time.Hour)
		if res != (UpstreamResult{}) {
			t.Errorf("result = %+v without an upstream", res)
		}
		// With one, a silence over Steward's own alerts has nothing to do there.
		up := newFakeUpstream()
		h, _ = upstreamHarness(t, up, 1)
		if _, res = silenceUpstream(t, h, "disk:*", time.Hour); res != (UpstreamResult{}) || len(up.made) != 0 {
			t.Errorf("result = %+v, made %v for a disk alert", res, up.made)
		}
	})
}

// An upstream that can't be reached when a silence ends is asked again at later ticks
// (the silence stays unsettled in the store, across restarts), so an alert that
// resolved while silenced does not stay open for good; once it is asked, it is not
// asked again.
func TestSilenceEndingWhileUpstreamIsDownSettlesLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := newFakeUpstream()
		h, silences := upstreamHarness(t, up, 1)
		silenceUpstream(t, h, "am:*", time.Hour)
		up.setFiring()
		up.mu.Lock()
		up.down = true
		up.mu.Unlock()
		h.runFor(t, time.Hour+3*tickEvery)
		if open := h.open(t); len(open) != 2 {
			t.Fatalf("open = %v, want host1 still open while Alertmanager is down", open)
		}
		if u, _ := silences.Unsettled(t.Context()); len(u) != 1 {
			t.Fatalf("unsettled silences %+v, want the one that ended", u)
		}
		up.mu.Lock()
		up.down = false
		up.mu.Unlock()
		h.runFor(t, 2*tickEvery)
		if open := h.open(t); len(open) != 1 {
			t.Errorf("open = %v, want only the disk alert once Alertmanager answers", open)
		}
		if u, _ := silences.Unsettled(t.Context()); len(u) != 0 {
			t.Errorf("unsettled silences %+v after it was settled", u)
		}
	})
}
