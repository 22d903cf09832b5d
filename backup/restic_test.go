package backup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestResticRestoresLiteralPaths runs Debian's restic (.ci/run installs it): a path
// with pattern characters restores that folder only, not a neighbour its pattern
// would match.
func TestResticRestoresLiteralPaths(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		t.Fatal("restic is not installed (apt-get install restic; .ci/run does)")
	}
	ctx := t.Context()
	root := t.TempDir()
	data := filepath.Join(root, "data")
	for _, f := range []string{"Photos [2019]/a.jpg", "Photos 2/b.jpg", "Photos 1/c.jpg"} {
		p := filepath.Join(data, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := Repo{Location: filepath.Join(root, "repo"), PasswordFile: filepath.Join(root, "pw")}
	if err := os.WriteFile(repo.PasswordFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init"}, {"backup", data}} {
		cmd := exec.CommandContext(ctx, "restic", append([]string{"-r", repo.Location, "--password-file", repo.PasswordFile, "-q", "--no-cache"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restic %s: %v: %s", args[0], err, out)
		}
	}
	tool := &Restic{CacheDir: filepath.Join(root, "cache")}
	snaps, err := tool.Snapshots(ctx, repo, 1)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("Snapshots = %v, %v", snaps, err)
	}
	target := filepath.Join(root, "out")
	if err = tool.Restore(ctx, repo, snaps[0].ID, []string{filepath.Join(data, "Photos [2019]")}, target); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadDir(filepath.Join(target, data))
	if len(got) != 1 || got[0].Name() != "Photos [2019]" {
		names := []string{}
		for _, e := range got {
			names = append(names, e.Name())
		}
		t.Errorf("restored %v, want only Photos [2019]", names)
	}
}

// TestResticUnreadable runs Debian's restic: a wrong password and a missing
// repository are told apart from other failures, whatever exit status this version
// of restic gives them.
func TestResticUnreadable(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		t.Fatal("restic is not installed (apt-get install restic; .ci/run does)")
	}
	ctx := t.Context()
	root := t.TempDir()
	repo := Repo{Location: filepath.Join(root, "repo"), PasswordFile: filepath.Join(root, "pw")}
	if err := os.WriteFile(repo.PasswordFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, "restic", "-r", repo.Location, "--password-file", repo.PasswordFile, "-q", "--no-cache", "init").CombinedOutput(); err != nil {
		t.Fatalf("restic init: %v: %s", err, out)
	}
	tool := &Restic{CacheDir: filepath.Join(root, "cache")}
	if _, err := tool.Snapshots(ctx, repo, 1); err != nil {
		t.Fatal(err)
	}
	wrong := repo
	wrong.PasswordFile = filepath.Join(root, "wrong")
	if err := os.WriteFile(wrong.PasswordFile, []byte("not it\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gone := repo
	gone.Location = filepath.Join(root, "gone")
	for name, r := range map[string]Repo{"wrong password": wrong, "repository is gone": gone} {
		_, err := tool.Snapshots(ctx, r, 1)
		if cause, ok := Unreadable(err); !ok || !strings.Contains(cause, name) {
			t.Errorf("%s: Unreadable(%v) = %q, %v", name, err, cause, ok)
		}
	}
}
