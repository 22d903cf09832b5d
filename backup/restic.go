// Package backup keeps watch over the group's backups: it reads restic repositories
// (snapshots, integrity, restore drills) and restores from them when the admins ask.
// The tool itself sits behind the Tool interface, so another backup program can be
// added later.
package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Repo is a repository and what of it counts for a set.
type Repo struct {
	// Location is the restic repository (a path or a URL).
	Location string
	// PasswordFile holds its password.
	PasswordFile string
	// Host and Paths, when set, narrow the snapshots to those of that host and
	// those paths.
	Host  string
	Paths []string
}

// Snapshot is one snapshot of a repository.
type Snapshot struct {
	ID      string // full ID
	ShortID string
	Time    time.Time
	Host    string
	Paths   []string
	Tags    []string
}

// Node is a file or directory in a snapshot.
type Node struct {
	// Path is where it is in the snapshot's tree ("/srv/cloud/config.php").
	Path  string
	Type  string // file, dir, symlink, dev, fifo, socket
	Size  int64
	Mode  os.FileMode
	MTime time.Time
}

// Stats are the size of what a snapshot restores.
type Stats struct {
	Bytes int64
	Files int64
}

// Tool is the backup program Steward reads and restores with (restic).
type Tool interface {
	// Snapshots lists the snapshots of repo, newest first; at most n when n > 0.
	Snapshots(ctx context.Context, repo Repo, n int) ([]Snapshot, error)
	// Check verifies the repository's structure and reads back readData of its
	// data ("0", "5%", "all"); the error carries the tool's own words.
	Check(ctx context.Context, repo Repo, readData string) error
	// List lists what lies under path in the snapshot (all of it for "/"),
	// recursively when recursive is set.
	List(ctx context.Context, repo Repo, snapshotID, path string, recursive bool) ([]Node, error)
	// Restore writes the snapshot's files under include (paths in its tree) into
	// target, each at target + its path.
	Restore(ctx context.Context, repo Repo, snapshotID string, include []string, target string) error
	// Stats measures what the snapshot would restore.
	Stats(ctx context.Context, repo Repo, snapshotID string) (Stats, error)
}

// Restic runs Debian's restic. Steward only reads repositories (--no-lock: it needs
// no write access for that), except when it restores, which writes to the target
// only.
type Restic struct {
	// Binary is the restic program; "restic" from $PATH when empty.
	Binary string
	// CacheDir keeps restic's cache of repository metadata, so reads stay cheap.
	CacheDir string
}

var _ Tool = (*Restic)(nil)

// ToolError is a failure restic reported, with its message.
type ToolError struct {
	Op      string
	Message string
	// ExitCode is restic's exit status (-1 when it didn't exit on its own).
	ExitCode int
}

// Error carries the last lines restic wrote to stderr (or its exit status); a
// command redacts secrets from it before showing it.
func (e *ToolError) Error() string { return "restic " + e.Op + ": " + e.Message }

// run runs restic with args against repo and returns its standard output.
func (r *Restic) run(ctx context.Context, repo Repo, op string, args ...string) ([]byte, error) {
	bin := r.Binary
	if bin == "" {
		bin = "restic"
	}
	full := []string{op, "--no-lock", "--quiet"}
	if r.CacheDir != "" {
		full = append(full, "--cache-dir", r.CacheDir)
	} else {
		full = append(full, "--no-cache")
	}
	cmd := exec.CommandContext(ctx, bin, append(full, args...)...)
	// The repository and its password file come through the environment, never the
	// command line, so they don't show in the process list.
	cmd.Env = append(ChildEnv(), "RESTIC_REPOSITORY="+repo.Location, "RESTIC_PASSWORD_FILE="+repo.PasswordFile,
		"RESTIC_PASSWORD=", "RESTIC_PASSWORD_COMMAND=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &limitedWriter{w: &stderr, n: 8 << 10}
	cmd.WaitDelay = 5 * time.Second
	dieWithSteward(cmd)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("restic %s: %w", op, ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		code := -1
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		}
		return nil, &ToolError{Op: op, Message: lastLines(msg, 5), ExitCode: code}
	}
	return stdout.Bytes(), nil
}

// ChildEnv is Steward's environment without its own secrets (the Matrix password),
// for the programs it runs: restic, and the backup commands of !backup.
func ChildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STEWARD_MATRIX_PASSWORD=") {
			env = append(env, kv)
		}
	}
	return env
}

// filters are the --host and --path options that narrow snapshots to repo's set.
func filters(repo Repo) []string {
	var args []string
	if repo.Host != "" {
		args = append(args, "--host", repo.Host)
	}
	for _, p := range repo.Paths {
		args = append(args, "--path", p)
	}
	return args
}

type resticSnapshot struct {
	ID       string    `json:"id"`
	ShortID  string    `json:"short_id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags"`
}

// Snapshots implements Tool.
func (r *Restic) Snapshots(ctx context.Context, repo Repo, n int) ([]Snapshot, error) {
	args := append([]string{"--json"}, filters(repo)...)
	out, err := r.run(ctx, repo, "snapshots", args...)
	if err != nil {
		return nil, err
	}
	return parseSnapshots(out, n)
}

// parseSnapshots reads `restic snapshots --json`: newest first, at most n when n > 0.
func parseSnapshots(out []byte, n int) ([]Snapshot, error) {
	var raw []resticSnapshot
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("read restic snapshots: %w", err)
	}
	snaps := make([]Snapshot, 0, len(raw))
	// restic lists oldest first.
	for i := len(raw) - 1; i >= 0; i-- {
		s := raw[i]
		snaps = append(snaps, Snapshot{ID: s.ID, ShortID: s.ShortID, Time: s.Time, Host: s.Hostname, Paths: s.Paths, Tags: s.Tags})
		if n > 0 && len(snaps) == n {
			break
		}
	}
	return snaps, nil
}

// Check implements Tool.
func (r *Restic) Check(ctx context.Context, repo Repo, readData string) error {
	var args []string
	switch readData {
	case "", "0":
	case "all":
		args = append(args, "--read-data")
	default:
		args = append(args, "--read-data-subset="+readData)
	}
	_, err := r.run(ctx, repo, "check", args...)
	return err
}

type resticNode struct {
	Path       string    `json:"path"`
	Type       string    `json:"type"`
	Size       int64     `json:"size"`
	Mode       uint32    `json:"mode"`
	MTime      time.Time `json:"mtime"`
	StructType string    `json:"struct_type"`
}

// List implements Tool.
func (r *Restic) List(ctx context.Context, repo Repo, snapshotID, path string, recursive bool) ([]Node, error) {
	args := []string{"--json"}
	if recursive {
		args = append(args, "--recursive")
	}
	args = append(args, "--", snapshotID)
	if path != "" && path != "/" {
		args = append(args, path)
	}
	out, err := r.run(ctx, repo, "ls", args...)
	if err != nil {
		return nil, err
	}
	return parseList(out)
}

// parseList reads `restic ls --json`: one JSON object a line, the snapshot first and
// then its nodes.
func parseList(out []byte) ([]Node, error) {
	var nodes []Node
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var n resticNode
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			return nil, fmt.Errorf("read restic ls: %w", err)
		}
		if n.StructType != "node" {
			continue // the snapshot itself comes first
		}
		nodes = append(nodes, Node{Path: n.Path, Type: n.Type, Size: n.Size, Mode: os.FileMode(n.Mode), MTime: n.MTime})
	}
	return nodes, sc.Err()
}

// Restore implements Tool.
func (r *Restic) Restore(ctx context.Context, repo Repo, snapshotID string, include []string, target string) error {
	args := []string{"--target", target}
	for _, p := range include {
		args = append(args, "--include", literalPattern(p))
	}
	args = append(args, "--", snapshotID)
	_, err := r.run(ctx, repo, "restore", args...)
	return err
}

// literalPattern escapes what restic's --include reads as a pattern (* ? [ \), so a
// path like "/srv/Photos [2019]" restores that folder and nothing else.
func literalPattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Stats implements Tool.
func (r *Restic) Stats(ctx context.Context, repo Repo, snapshotID string) (Stats, error) {
	out, err := r.run(ctx, repo, "stats", "--json", "--mode", "restore-size", "--", snapshotID)
	if err != nil {
		return Stats{}, err
	}
	return parseStats(out)
}

// parseStats reads `restic stats --json --mode restore-size`.
func parseStats(out []byte) (Stats, error) {
	var raw struct {
		TotalSize      int64 `json:"total_size"`
		TotalFileCount int64 `json:"total_file_count"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return Stats{}, fmt.Errorf("read restic stats: %w", err)
	}
	return Stats{Bytes: raw.TotalSize, Files: raw.TotalFileCount}, nil
}

// lastLines keeps the last n lines of s: restic ends with the message that matters.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// limitedWriter keeps the first n bytes written to it and drops the rest, so a
// chatty tool can't fill Steward's memory.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	keep := p
	if len(keep) > l.n {
		keep = keep[:l.n]
	}
	l.n -= len(keep)
	if _, err := l.w.Write(keep); err != nil {
		return 0, err
	}
	return len(p), nil
}

// IsToolError reports whether err is the tool's own failure (a damaged repository,
// a wrong password), as opposed to Steward's.
func IsToolError(err error) bool {
	var te *ToolError
	return errors.As(err, &te)
}

// restic's exit statuses for a repository it can't open (restic 0.17 and later; older
// versions exit with 1 and say so only in words, which Unreadable reads as well).
const (
	exitNoRepository  = 10
	exitWrongPassword = 12
)

// Unreadable says in plain words why err means the repository can't be read at all
// (it isn't there, or the password doesn't open it), as opposed to a failure that
// may pass (a network error, a lock); false for any other error.
func Unreadable(err error) (string, bool) {
	var te *ToolError
	if !errors.As(err, &te) {
		return "", false
	}
	msg := strings.ToLower(te.Message)
	switch {
	case te.ExitCode == exitWrongPassword || strings.Contains(msg, "wrong password"):
		return "wrong password: the password file doesn't open the repository", true
	case strings.Contains(msg, "resolving password failed"):
		return "its password file can't be read", true
	case te.ExitCode == exitNoRepository || strings.Contains(msg, "repository does not exist") ||
		strings.Contains(msg, "is there a repository at the following location"):
		return "the repository is gone: there is no restic repository at its location", true
	}
	return "", false
}
