package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Restic is Debian's restic, which the backup tests run for real (.ci/run installs it).
const Restic = "/usr/bin/restic"

// ResticRepo is a restic repository made for a test, with its password file.
type ResticRepo struct {
	Path, PasswordFile string
}

// NewResticRepo initialises a repository at dir/repo with a password in dir/password.
func NewResticRepo(ctx context.Context, dir string) (*ResticRepo, error) {
	if _, err := os.Stat(Restic); err != nil {
		return nil, fmt.Errorf("restic is not installed (apt-get install restic; .ci/run does): %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r := &ResticRepo{Path: filepath.Join(dir, "repo"), PasswordFile: filepath.Join(dir, "password")}
	if err := os.WriteFile(r.PasswordFile, []byte("correct horse battery staple\n"), 0o600); err != nil {
		return nil, err
	}
	return r, r.run(ctx, "init")
}

// Backup takes a snapshot of paths.
func (r *ResticRepo) Backup(ctx context.Context, paths ...string) error {
	return r.run(ctx, append([]string{"backup"}, paths...)...)
}

// BackupAt takes a snapshot of paths dated at (restic backup --time), as if it had
// been taken then.
func (r *ResticRepo) BackupAt(ctx context.Context, at time.Time, paths ...string) error {
	return r.run(ctx, append([]string{"backup", "--time", at.Local().Format("2006-01-02 15:04:05")}, paths...)...)
}

// BackupCommand is the argv that takes a snapshot of paths, for backups.sets[].run.
func (r *ResticRepo) BackupCommand(paths ...string) []string {
	return append([]string{Restic, "-r", r.Path, "--password-file", r.PasswordFile, "--no-cache", "-q", "backup"}, paths...)
}

func (r *ResticRepo) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, Restic, append([]string{"-r", r.Path, "--password-file", r.PasswordFile, "--no-cache", "-q"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("restic %s: %v: %s", args[0], err, out)
	}
	return nil
}

// DamagePacks overwrites the middle of every data pack in the repository, as a
// failing disk would.
func (r *ResticRepo) DamagePacks() (int, error) {
	packs, err := filepath.Glob(filepath.Join(r.Path, "data", "*", "*"))
	if err != nil {
		return 0, err
	}
	for _, p := range packs {
		data, err := os.ReadFile(p)
		if err != nil {
			return 0, err
		}
		for i := len(data) / 4; i < len(data)/2; i++ {
			data[i] ^= 0xff
		}
		if err = os.Chmod(p, 0o600); err != nil {
			return 0, err
		}
		if err = os.WriteFile(p, data, 0o600); err != nil {
			return 0, err
		}
	}
	return len(packs), nil
}
