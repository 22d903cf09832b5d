package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
)

// With a weekly summary configured for a slot that just passed, Steward posts it once
// at start (not again at the next start), and it sums up the week: the approval
// requests of the other tests, who ran commands, and that the log is intact.
func TestWeeklySummary(t *testing.T) {
	ctx := t.Context()
	command(t, w.Alice, w.AdminRoom, "!ping") // at least one command this week
	slot := time.Now().UTC().Add(-30 * time.Minute)
	withConfig(t, func(c *testbed.StewardConfig) {
		c.TopLevel = append(c.TopLevel, fmt.Sprintf("decision_log: {weekly_summary: {day: %s, hour: %d}}",
			strings.ToLower(slot.Weekday().String()), slot.Hour()))
	})
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	const title = "Decisions from "
	if err := w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, title, time.Minute); err != nil {
		t.Fatal(err)
	}
	var summary string
	for _, evt := range w.Alice.Messages(w.AdminRoom) {
		if body := evt.Content.AsMessage().Body; evt.Sender == w.StewardID && strings.HasPrefix(body, title) {
			summary = body
		}
	}
	for _, want := range []string{"commands run: ", w.Alice.UserID.String(), "entries are intact"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the weekly summary does not say %q:\n%s", want, summary)
		}
	}

	// A restart in the same week does not post it again.
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping")
	if n := w.Alice.CountBodies(w.AdminRoom, w.StewardID, title); n != 1 {
		t.Errorf("the weekly summary was posted %d times, want once", n)
	}
}

// The daily alert digest is posted at start for an hour that just passed, sums up the
// day's alerts, and is not posted again after a restart.
func TestDailyDigest(t *testing.T) {
	ctx := t.Context()
	// An alert first, for the digest to tell.
	withConfig(t, func(c *testbed.StewardConfig) {
		c.Monitor = fastMonitor("disks: [{path: /, warning: 1, critical: 100, forecast: 0s}]")
	})
	const alert = "Warning: Disk / is"
	before := w.Alice.CountBodies(w.AdminRoom, w.StewardID, alert)
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Alice.WaitForCount(ctx, w.AdminRoom, w.StewardID, alert, before+1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	slot := time.Now().UTC().Add(-30 * time.Minute)
	w.Config.Monitor = strings.TrimSuffix(testbed.QuietMonitor, "}") + fmt.Sprintf(", daily_digest: {hour: %d}}", slot.Hour())
	if _, err := w.Config.Write(w.Dir); err != nil {
		t.Fatal(err)
	}
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	const title = "Alerts in the last 24 hours"
	digest, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, title, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if body := digest.Content.AsMessage().Body; !strings.Contains(body, "Disk / is") || !strings.Contains(body, " fired (") {
		t.Errorf("the digest does not list the disk alert:\n%s", body)
	}
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping")
	if n := w.Alice.CountBodies(w.AdminRoom, w.StewardID, title); n != 1 {
		t.Errorf("the digest was posted %d times, want once", n)
	}
}
