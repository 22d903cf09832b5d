package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
	"github.com/steward-bot/steward/state"
)

// TestDecisionLogTamperingIsCaught checks the real log with `steward audit verify`,
// edits one entry with the sqlite3 tool (as someone with access to the server could),
// and checks that both the CLI and Steward itself, at its next start, say so.
func TestDecisionLogTamperingIsCaught(t *testing.T) {
	ctx := t.Context()
	command(t, w.Alice, w.AdminRoom, "!ping") // at least one entry
	out, code, err := w.Steward.CLI(ctx, "audit", "verify")
	if err != nil || code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify on the real log: exit %d, %v: %s", code, err, out)
	}

	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(w.Config.DataDir, "steward.db")
	sqlite := func(sql string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "sqlite3", dbPath, sql).CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 %q: %v: %s", sql, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	victim := sqlite("SELECT id || '|' || actor FROM audit WHERE action LIKE 'command.%' ORDER BY id LIMIT 1")
	victimID, actor, _ := strings.Cut(victim, "|")
	sqlite("UPDATE audit SET actor='@mallory:localhost' WHERE id=" + victimID)

	out, code, err = w.Steward.CLI(ctx, "audit", "verify")
	if err != nil || code != 1 || !strings.Contains(out, "BROKEN at entry "+victimID+":") {
		t.Errorf("audit verify after an edit: exit %d, %v: %s", code, err, out)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "The decision log has been tampered with", time.Minute); err != nil {
		t.Error(err)
	}

	// Undo the edit, so the tests after this one start from an intact log.
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	sqlite("UPDATE audit SET actor='" + actor + "' WHERE id=" + victimID)
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if out, code, _ = w.Steward.CLI(ctx, "audit", "verify"); code != 0 {
		t.Errorf("the log did not verify again after undoing the edit: %s", out)
	}
}

// TestDecisionLogTruncationIsCaught cuts the newest entries off the log with sqlite3.
// The shortened log is still a valid chain, so `steward audit verify` cannot see it;
// the head Steward anchored on the homeserver when it stopped shows it, once.
func TestDecisionLogTruncationIsCaught(t *testing.T) {
	ctx := t.Context()
	const alarm = "The decision log has been cut short or replaced"
	command(t, w.Alice, w.AdminRoom, "!ping")
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(w.Config.DataDir, "steward.db")
	out, err := exec.CommandContext(ctx, "sqlite3", dbPath, "DELETE FROM audit WHERE id > (SELECT MAX(id) - 2 FROM audit)").CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v: %s", err, out)
	}
	if out, code, _ := w.Steward.CLI(ctx, "audit", "verify"); code != 0 {
		t.Fatalf("the truncated log should still be a valid chain: %s", out)
	}
	before := w.Alice.CountBodies(w.AdminRoom, w.StewardID, alarm)
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForCount(ctx, w.AdminRoom, w.StewardID, alarm, before+1, time.Minute); err != nil {
		t.Fatal(err)
	}
	entries, err := w.FindAudit(ctx, state.AuditFilter{Action: "decision_log.truncated", Limit: 5})
	if err != nil || len(entries) == 0 {
		t.Errorf("the decision log does not record the truncation: %v", err)
	}

	// Once said, the current log is the new baseline: a restart is quiet.
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.WaitForLog(ctx, "Decision log matches its anchor", time.Minute); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping") // an alarm would have been queued before this answer
	if n := w.Alice.CountBodies(w.AdminRoom, w.StewardID, alarm); n != before+1 {
		t.Errorf("the truncation alarm was raised %d times, want once", n-before)
	}
}

// TestRewrittenLogTailIsCaughtByItsCheckpoint rewrites the newest entries of the log
// with sqlite3 while Steward runs, as someone with root on the host could: the entries
// from a checkpoint Steward posted in the admin room on are replaced by others. Steward
// must refuse to anchor the rewritten head and raise the decision-log alert, and
// !log verify must name the checkpoint. Putting the entries back resolves it.
func TestRewrittenLogTailIsCaughtByItsCheckpoint(t *testing.T) {
	ctx := t.Context()
	const checkpointText = "Decision log checkpoint"
	withConfig(t, func(c *testbed.StewardConfig) {
		c.TopLevel = append(c.TopLevel, "decision_log: {checkpoint_every: 2}")
	})
	before := w.Alice.CountBodies(w.AdminRoom, w.StewardID, checkpointText)
	if err := w.StartSteward(ctx); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping")
	command(t, w.Alice, w.AdminRoom, "!ping")
	command(t, w.Alice, w.AdminRoom, "!ping")
	if err := w.Alice.WaitForCount(ctx, w.AdminRoom, w.StewardID, checkpointText, before+1, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(w.Config.DataDir, "steward.db")
	sqlite := func(sql string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "sqlite3", "-cmd", ".timeout 10000", dbPath, sql).CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 %q: %v: %s", sql, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// The newest checkpoint, as Steward remembers it: the room has it too.
	checkpointID := sqlite("SELECT json_extract(value, '$.id') FROM kv WHERE key='decision_log.checkpoint'")
	if checkpointID == "" {
		t.Fatal("no checkpoint recorded")
	}
	verify := command(t, w.Alice, w.AdminRoom, "!log verify")
	if body := verify.Content.AsMessage().Body; !strings.Contains(body, "fits all") {
		t.Fatalf("!log verify on the real log: %s", body)
	}

	// Rewrite the tail: the entries from the checkpoint on are set aside and replaced
	// by nothing, the way DELETE FROM audit WHERE id >= N on a running Steward would.
	sqlite("CREATE TABLE audit_saved AS SELECT * FROM audit WHERE id >= " + checkpointID + "; DELETE FROM audit WHERE id >= " + checkpointID)
	t.Cleanup(func() {
		_ = exec.Command("sqlite3", "-cmd", ".timeout 10000", dbPath, "DROP TABLE IF EXISTS audit_saved").Run()
	})
	if err := w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "The decision log was rewritten behind Steward's back", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := w.Steward.WaitForLog(ctx, "not anchoring it", time.Second); err != nil {
		t.Error(err)
	}
	verify = command(t, w.Alice, w.AdminRoom, "!log verify")
	if body := verify.Content.AsMessage().Body; !strings.Contains(body, "no longer fits") || !strings.Contains(body, "entry #"+checkpointID) {
		t.Errorf("!log verify after the rewrite: %s", body)
	}

	// Put the entries back, as a restore of the log would: the alert resolves, and
	// the log verifies again.
	sqlite("DELETE FROM audit WHERE id >= " + checkpointID + "; INSERT INTO audit SELECT * FROM audit_saved; DROP TABLE audit_saved")
	if err := w.Steward.WaitForLog(ctx, "extends its anchored head again", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	verify = command(t, w.Alice, w.AdminRoom, "!log verify")
	if body := verify.Content.AsMessage().Body; !strings.Contains(body, "fits all") {
		t.Errorf("!log verify after putting the entries back: %s", body)
	}
}
