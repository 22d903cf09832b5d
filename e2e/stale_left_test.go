package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
)

// TestCommandLeftByACrashIsJudgedAsOfNow records a command, crashes before running it,
// and restarts only after stale_after has passed: the command must not run then.
func TestCommandLeftByACrashIsJudgedAsOfNow(t *testing.T) {
	ctx := t.Context()
	withConfig(t, func(c *testbed.StewardConfig) { c.Extra = append(c.Extra, "stale_after: 2s") })
	w.Steward.Env = []string{"STEWARD_CRASH_AT=command-recorded"}
	err := w.Steward.Start(ctx)
	w.Steward.Env = nil
	if err != nil {
		t.Fatal(err)
	}
	eventID, err := w.Alice.Say(ctx, w.AdminRoom, "!status")
	if err != nil {
		t.Fatal(err)
	}
	if !w.Steward.WaitExit(30 * time.Second) {
		t.Fatal("Steward did not crash after recording the command")
	}
	time.Sleep(3 * time.Second)
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	reply, err := w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, eventID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if body := reply.Content.AsMessage().Body; !strings.Contains(body, "did not run it") || strings.Contains(body, "Memory") {
		t.Errorf("a command left by a crash and picked up after stale_after was answered %q; want it not run", body)
	}
}
