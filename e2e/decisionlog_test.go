package e2e

import (
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

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
// must refuse to anchor the rewritten head and raise the decision-log alert, and both
// !log verify and `steward audit verify --room` (run beside the running Steward, with
// its token and keys) must name the checkpoint. Putting the entries back resolves it.
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
	devices := stewardDevices(t)
	out, code, err := w.Steward.CLI(ctx, "audit", "verify", "--room")
	if err != nil || code != 0 || !strings.Contains(out, "fits all") || !strings.Contains(out, "compared, all fit.") {
		t.Fatalf("audit verify --room on the real log: exit %d, %v:\n%s", code, err, out)
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
	out, code, err = w.Steward.CLI(ctx, "audit", "verify", "--room")
	if err != nil || code != 1 || !strings.Contains(out, "no longer fits") || !strings.Contains(out, "the checkpoint of entry #"+checkpointID+" does not fit.") {
		t.Errorf("audit verify --room after the rewrite: exit %d, %v:\n%s", code, err, out)
	}
	// The witness ran beside Steward without disturbing it: no new device, and
	// Steward still answers.
	if after := stewardDevices(t); !slices.Equal(after, devices) {
		t.Errorf("Steward's devices went from %v to %v while the witness read the room", devices, after)
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
	if out, code, err = w.Steward.CLI(ctx, "audit", "verify", "--room"); code != 0 {
		t.Errorf("audit verify --room after putting the entries back: exit %d, %v:\n%s", code, err, out)
	}
}

// stewardDevices lists the shared Steward's devices as the homeserver knows them.
func stewardDevices(t *testing.T) []id.DeviceID {
	t.Helper()
	resp, err := w.Alice.QueryKeys(t.Context(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{w.StewardID: mautrix.DeviceIDList{}}})
	if err != nil {
		t.Fatal(err)
	}
	devices := slices.Collect(maps.Keys(resp.DeviceKeys[w.StewardID]))
	slices.Sort(devices)
	return devices
}

// TestRedactedCheckpointRaisesTheAlarm redacts a checkpoint in the admin room, as an
// admin or someone with Steward's token could to remove a witness: Steward says so
// once in the admin room and in the log, also when it sees the redaction again after
// a restart, and !log verify and `steward audit verify --room` (with Steward running
// and stopped) report the redacted one. It uses a Steward of its own: the redacted
// checkpoint stays in the room's history for good.
func TestRedactedCheckpointRaisesTheAlarm(t *testing.T) {
	ctx := t.Context()
	const checkpointText = "Decision log checkpoint"
	const alarm = "A decision log checkpoint was redacted"
	const alarmNotice = "was removed by" // the alarm's own words; !log verify's answer says alarm too
	s, cfg, err := w.NewStewardWith(ctx, fmt.Sprintf("stewardwitness%d", time.Now().UnixNano()%1e9), func(c *testbed.StewardConfig) {
		c.TopLevel = append(c.TopLevel, "decision_log: {checkpoint_every: 2}")
	})
	if s != nil {
		t.Cleanup(func() { _ = s.Stop() })
	}
	if err != nil {
		t.Fatal(err)
	}
	ask := func(text string) string {
		t.Helper()
		eventID, err := w.Alice.Say(ctx, cfg.AdminRoom, text)
		if err != nil {
			t.Fatal(err)
		}
		reply, err := w.Alice.WaitForReply(ctx, cfg.UserID, cfg.AdminRoom, eventID, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return reply.Content.AsMessage().Body
	}
	withDB := func(fn func(db *state.DB)) {
		t.Helper()
		db, err := state.Open(ctx, filepath.Join(cfg.DataDir, "steward.db"), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		fn(db)
	}
	ask("!ping")
	ask("!ping")
	ask("!ping")
	if err = w.Alice.WaitForCount(ctx, cfg.AdminRoom, cfg.UserID, checkpointText, 1, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	var checkpoint id.EventID
	for _, evt := range w.Alice.Messages(cfg.AdminRoom) {
		if evt.Sender == cfg.UserID && strings.Contains(evt.Content.AsMessage().Body, checkpointText) {
			checkpoint = evt.ID
			break
		}
	}
	if out, code, err := s.CLI(ctx, "audit", "verify", "--room"); code != 0 {
		t.Fatalf("audit verify --room before the redaction: exit %d, %v:\n%s", code, err, out)
	}
	// Where Steward's sync stood before the redaction, to show it the redaction
	// again after a restart.
	var syncedBefore string
	withDB(func(db *state.DB) {
		if syncedBefore, err = db.KV.Get(ctx, state.KeyNextBatch); err != nil || syncedBefore == "" {
			t.Fatalf("no sync token: %q, %v", syncedBefore, err)
		}
	})

	if _, err = w.Alice.RedactEvent(ctx, cfg.AdminRoom, checkpoint); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForCount(ctx, cfg.AdminRoom, cfg.UserID, alarmNotice, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	recorded := func() []*state.AuditEntry {
		t.Helper()
		var entries []*state.AuditEntry
		withDB(func(db *state.DB) {
			if entries, err = db.Audit.Find(ctx, state.AuditFilter{Action: "decision_log.checkpoint_redacted", Limit: 10}); err != nil {
				t.Fatal(err)
			}
		})
		return entries
	}
	if entries := recorded(); len(entries) != 1 || entries[0].Actor != w.Alice.UserID || !strings.Contains(entries[0].Detail, checkpoint.String()) {
		t.Errorf("the decision log records the redaction as %+v, want one entry by alice naming %s", entries, checkpoint)
	}
	if body := ask("!log verify"); !strings.Contains(body, alarm) || !strings.Contains(body, checkpoint.String()) {
		t.Errorf("!log verify after the redaction: %s", body)
	}
	out, code, err := s.CLI(ctx, "audit", "verify", "--room")
	if code != 1 || !strings.Contains(out, alarm) || !strings.Contains(out, checkpoint.String()) || !strings.Contains(out, "1 REDACTED.") {
		t.Errorf("audit verify --room after the redaction: exit %d, %v:\n%s", code, err, out)
	}

	// Stopped, the witness reads the room all the same; started again from the sync
	// position before the redaction, Steward sees it again and says nothing new.
	if err = s.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, code, err = s.CLI(ctx, "audit", "verify", "--room"); code != 1 || !strings.Contains(out, checkpoint.String()) {
		t.Errorf("audit verify --room with Steward stopped: exit %d, %v:\n%s", code, err, out)
	}
	withDB(func(db *state.DB) {
		if err = db.KV.Set(ctx, state.KeyNextBatch, syncedBefore); err != nil {
			t.Fatal(err)
		}
	})
	if err = s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = s.WaitForLog(ctx, alarm, time.Minute); err != nil {
		t.Fatalf("Steward did not see the redaction again: %v", err)
	}
	ask("!ping") // an alarm would have been queued before this answer
	if n := w.Alice.CountBodies(cfg.AdminRoom, cfg.UserID, alarmNotice); n != 1 {
		t.Errorf("the redaction alarm was posted %d times, want once", n)
	}
	if entries := recorded(); len(entries) != 1 {
		t.Errorf("the decision log records the redaction %d times, want once", len(entries))
	}
}
