package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/state"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const validConfig = `matrix:
  homeserver: http://127.0.0.1:8008
  user_id: "@steward:example.org"
  password_file: password
  admin_room: "!admins:example.org"
  group_room: "#friends:example.org"
  admins: ["@alice:example.org"]
data_dir: data
`

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "password", "hunter2-very-secret\n")
	good := writeFile(t, dir, "good.yaml", validConfig)
	bad := writeFile(t, dir, "bad.yaml", `matrix:
  homeservr: http://127.0.0.1:8008
  user_id: steward
  password_file: /nonexistent/password
  admins: "@alice:example.org"
  stale_after: soon
`)

	code, out, _ := runCLI("check-config", "--config", good)
	if code != 0 || !strings.Contains(out, "is valid") {
		t.Errorf("valid config: exit %d, output %q", code, out)
	}
	code, _, errOut := runCLI("check-config", "-c", bad)
	if code != 1 {
		t.Errorf("invalid config: exit %d, want 1", code)
	}
	for _, key := range []string{"matrix.homeservr", "matrix.user_id", "matrix.password_file", "matrix.admins", "matrix.stale_after", "matrix.admin_room", "data_dir"} {
		if !strings.Contains(errOut, key) {
			t.Errorf("problems do not name %s:\n%s", key, errOut)
		}
	}
	if strings.Contains(errOut+out, "hunter2") {
		t.Error("the password reached the output")
	}

	t.Setenv("STEWARD_CONFIG", good)
	if code, _, errOut = runCLI("check-config"); code != 0 {
		t.Errorf("$STEWARD_CONFIG not used: exit %d: %s", code, errOut)
	}
}

// TestCheckConfigPolicyCommands: what only the commands know (a command that does not
// exist, a policy looser than the built-in one) is listed like every other problem,
// with its key and line, so the admin can go straight to it.
func TestCheckConfigPolicyCommands(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "password", "hunter2-very-secret\n")
	path := writeFile(t, dir, "policy.yaml", validConfig+`policy:
  commands:
    nuke: confirm
    restart: none
`)
	code, _, errOut := runCLI("check-config", "-c", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	for _, want := range []string{
		"has 2 problem(s)",
		`policy.commands.nuke (line 11): there is no command "nuke"`,
		"policy.commands.restart (line 12): none is looser than the built-in policy",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("output lacks %q:\n%s", want, errOut)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	if code, _, errOut := runCLI(); code != 2 || !strings.Contains(errOut, "Usage") {
		t.Errorf("no arguments: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI("frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", code, errOut)
	}
	if code, out, _ := runCLI("version"); code != 0 || !strings.HasPrefix(out, "steward ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	if code, _, errOut := runCLI("notify", "--config", "x.yaml"); code != 2 || !strings.Contains(errOut, "text to send is missing") {
		t.Errorf("notify without text: exit %d, %q", code, errOut)
	}
}

func TestNotifyNeedsAResolvedRoom(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "password", "pw\n")
	cfg := writeFile(t, dir, "steward.yaml", validConfig)
	code, _, errOut := runCLI("notify", "--config", cfg, "--room", "group", "backup finished")
	if code != 1 || !strings.Contains(errOut, "no database") {
		t.Errorf("notify before the first start: exit %d, %q", code, errOut)
	}
	// A database whose rooms were never resolved (Steward never got that far).
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(t.Context(), filepath.Join(dir, "data", "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errOut = runCLI("notify", "--config", cfg, "--room", "group", "backup finished")
	if code != 1 || !strings.Contains(errOut, "has not resolved the group room") {
		t.Errorf("notify with unresolved rooms: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI("notify", "--config", cfg, "--room", "kitchen", "hello")
	if code != 1 || !strings.Contains(errOut, "use admin or group") {
		t.Errorf("notify to an unknown room: exit %d, %q", code, errOut)
	}
}
