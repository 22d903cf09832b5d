package monitor

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/steward-bot/steward/state"
)

// external is what a sender outside Steward (Alertmanager) reports about one problem.
func external(n int, severity state.Severity) Observation {
	return Observation{
		Fingerprint: fmt.Sprintf("am:%04d", n), Subject: fmt.Sprintf("node%d", n), Severity: severity,
		Summary: fmt.Sprintf("node%d is down", n), Labels: map[string]string{"alertname": "InstanceDown", "instance": fmt.Sprintf("node%d:9100", n)},
		Link: "http://prometheus.example.org/graph?g0.expr=up",
	}
}

func (h *harness) report(t *testing.T, firing []Observation, resolved ...string) {
	t.Helper()
	if err := h.eng.Report(t.Context(), "alertmanager", firing, resolved); err != nil {
		t.Fatalf("Report: %v", err)
	}
}

// A sender says only what changed: an alert it does not mention stays open, one it
// repeats as it was writes nothing and posts nothing, one it says resolved resolves the
// same message.
func TestReportKeepsWhatItDoesNotMention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		h.report(t, []Observation{external(1, state.SeverityCritical), external(2, state.SeverityWarning)})
		time.Sleep(groupWait)
		h.flush(t)
		if n := len(h.msgr.Posts()); n != 1 {
			t.Fatalf("%d messages posted, want 1", n)
		}

		// Only node2 is mentioned again, as it was: nothing changes.
		h.report(t, []Observation{external(2, state.SeverityWarning)})
		h.report(t, nil)
		time.Sleep(time.Hour)
		h.flush(t)
		if n, e := len(h.msgr.Posts()), len(h.msgr.Edits()); n != 1 || e != 0 {
			t.Fatalf("after repeats: %d posts and %d edits, want 1 and 0", n, e)
		}
		if got := h.open(t); len(got) != 2 {
			t.Fatalf("open alerts %v, want both still firing", got)
		}

		// A change of severity edits the message.
		h.report(t, []Observation{external(2, state.SeverityCritical)})
		if e := len(h.msgr.Edits()); e != 1 {
			t.Fatalf("%d edits after a change of severity, want 1", e)
		}

		// Resolving node1 edits the same message and follows it up by name.
		h.report(t, nil, "am:0001")
		if got := h.open(t); len(got) != 1 || got["am:0002"] != state.AlertFiring {
			t.Fatalf("open alerts %v, want only am:0002", got)
		}
		fu := h.msgr.FollowUps()
		if len(fu) != 1 || fu[0].To != 1 || !strings.Contains(fu[0].Text, "node1 is down") {
			t.Fatalf("follow-ups %+v, want one naming node1 on message 1", fu)
		}
		// A retry of the same resolution changes nothing.
		h.report(t, nil, "am:0001")
		if n := len(h.msgr.FollowUps()); n != 1 {
			t.Fatalf("%d follow-ups after a retried resolution, want 1", n)
		}
	})
}

// A storm of 1,000 alerts is one message with counts, and its resolution one edit and
// one follow-up, not a thousand.
func TestReportStormIsOneMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		var firing []Observation
		var fingerprints []string
		for i := range 1000 {
			severity := state.SeverityWarning
			if i%50 == 0 {
				severity = state.SeverityCritical
			}
			o := external(i, severity)
			firing = append(firing, o)
			fingerprints = append(fingerprints, o.Fingerprint)
		}
		h.report(t, firing)
		time.Sleep(groupWait)
		h.flush(t)
		posts := h.msgr.Posts()
		if len(posts) != 1 {
			t.Fatalf("%d messages posted, want 1", len(posts))
		}
		if !strings.Contains(posts[0].Text, "1000 alerts fired together (20 critical, 980 warning)") {
			t.Errorf("storm message does not count the alerts:\n%s", posts[0].Text)
		}
		if n := strings.Count(posts[0].Text, "• "); n != maxListed {
			t.Errorf("storm message lists %d alerts, want %d", n, maxListed)
		}

		h.report(t, nil, fingerprints...)
		if e, f := len(h.msgr.Edits()), h.msgr.FollowUps(); e != 1 || len(f) != 1 {
			t.Fatalf("resolving the storm: %d edits and %d follow-ups, want 1 and 1", e, len(f))
		} else if !strings.HasPrefix(f[0].Text, "✅ Resolved: 1000 alerts (#1, #2,") {
			t.Errorf("follow-up %q does not count the resolved alerts", f[0].Text)
		}
		if got := h.open(t); len(got) != 0 {
			t.Errorf("%d alerts still open", len(got))
		}
	})
}

// An alert from outside shows its labels (but not the name and severity said already),
// its link, and its detail while it is open; a sender's HTML is text.
func TestReportedAlertShowsLabelsLinkAndDetail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		o := external(7, state.SeverityInfo)
		o.Summary = "<b>bold</b> claim"
		o.Labels["severity"] = "info"
		o.Detail = "line one\nline two"
		h.report(t, []Observation{o})
		time.Sleep(groupWait)
		h.flush(t)
		msg := h.msgr.Posts()[0]
		for _, want := range []string{"🔵 Info: <b>bold</b> claim", "Labels: instance=node7:9100", "More: http://prometheus.example.org/graph", "line one\nline two"} {
			if !strings.Contains(msg.Text, want) {
				t.Errorf("message lacks %q:\n%s", want, msg.Text)
			}
		}
		if strings.Contains(msg.Text, "alertname=") || strings.Contains(msg.Text, "severity=") {
			t.Errorf("labels repeat the name or severity:\n%s", msg.Text)
		}
		if strings.Contains(msg.HTML, "<b>bold</b>") || !strings.Contains(msg.HTML, "&lt;b&gt;bold&lt;/b&gt;") {
			t.Errorf("the sender's HTML is not escaped:\n%s", msg.HTML)
		}
	})
}

// Restarting the checks keeps the alerts of the sources the engine is told about, and
// retires those of a source no longer configured.
func TestRetireKeepsSources(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		h.report(t, []Observation{external(1, state.SeverityWarning)})
		if err := h.eng.Retire(t.Context(), []string{"disk", "alertmanager"}); err != nil {
			t.Fatal(err)
		}
		if got := h.open(t); len(got) != 1 {
			t.Fatalf("open alerts %v, want the alertmanager one kept", got)
		}
		if err := h.eng.Retire(t.Context(), []string{"disk"}); err != nil {
			t.Fatal(err)
		}
		if got := h.open(t); len(got) != 0 {
			t.Fatalf("open alerts %v, want none once alertmanager is no source", got)
		}
	})
}
