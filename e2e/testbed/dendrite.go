// Package testbed starts the real things Steward talks to, on loopback only: a Dendrite
// homeserver built from the module proxy, Matrix clients with their own encrypted
// devices, and the steward binary itself. The end-to-end tests and `make demo` use it.
package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DendriteVersion is the homeserver release the tests run against. It is pinned in
// e2e/homeserver/go.mod, a module of its own so Steward's go.mod never requires it.
const DendriteVersion = "v0.15.2"

// ServerName is the homeserver's name: users are @name:localhost.
const ServerName = "localhost"

// RepoRoot returns the root of the Steward repository (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// CacheDir is where built binaries are kept between runs: $STEWARD_CACHE_DIR, else the
// user's cache directory.
func CacheDir() string {
	if dir := os.Getenv("STEWARD_CACHE_DIR"); dir != "" {
		return dir
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "steward")
}

var buildMu sync.Mutex

// DendriteBinaries builds Dendrite's binaries once (about 4 minutes cold) and returns
// the folder that holds them.
func DendriteBinaries(ctx context.Context, logf func(string, ...any)) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	dir := filepath.Join(CacheDir(), "dendrite-"+DendriteVersion)
	tools := []string{"dendrite", "generate-keys", "generate-config", "create-account"}
	missing := false
	for _, tool := range tools {
		if _, err := os.Stat(filepath.Join(dir, tool)); err != nil {
			missing = true
		}
	}
	if !missing {
		return dir, nil
	}
	logf("Building Dendrite %s into %s (a few minutes the first time)...", DendriteVersion, dir)
	args := []string{"build", "-o", dir + "/"}
	for _, tool := range tools {
		args = append(args, "github.com/element-hq/dendrite/cmd/"+tool)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(RepoRoot(), "e2e", "homeserver")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build dendrite: %w\n%s", err, out)
	}
	return dir, nil
}

// Dendrite is a running (or stopped) homeserver with its own folder and ports.
type Dendrite struct {
	Dir  string
	URL  string
	bin  string
	port int
	tls  int
	cmd  *exec.Cmd
	done chan struct{}
	logf func(string, ...any)
}

// StartDendrite builds (if needed), configures and starts a homeserver in dir with
// SQLite storage, federation and rate limiting off, on a free loopback port.
func StartDendrite(ctx context.Context, dir string, logf func(string, ...any)) (*Dendrite, error) {
	bin, err := DendriteBinaries(ctx, logf)
	if err != nil {
		return nil, err
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	keygen := exec.CommandContext(ctx, filepath.Join(bin, "generate-keys"), "--private-key", "matrix_key.pem")
	keygen.Dir = dir
	if out, err := keygen.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("generate-keys: %w\n%s", err, out)
	}
	gen := exec.CommandContext(ctx, filepath.Join(bin, "generate-config"), "-ci", "-dir", dir, "-server", ServerName)
	gen.Dir = dir
	cfg, err := gen.Output()
	if err != nil {
		return nil, fmt.Errorf("generate-config: %w", err)
	}
	text := strings.Replace(string(cfg), "disable_federation: false", "disable_federation: true", 1)
	if !strings.Contains(text, "disable_federation: true") || !strings.Contains(text, "rate_limiting:\n    enabled: false") {
		return nil, errors.New("generate-config output changed: cannot turn off federation and rate limiting")
	}
	if err = os.WriteFile(filepath.Join(dir, "dendrite.yaml"), []byte(text), 0o644); err != nil {
		return nil, err
	}
	d := &Dendrite{Dir: dir, bin: bin, logf: logf}
	if d.port, err = FreePort(); err != nil {
		return nil, err
	}
	if d.tls, err = FreePort(); err != nil {
		return nil, err
	}
	d.URL = fmt.Sprintf("http://127.0.0.1:%d", d.port)
	return d, d.Start(ctx)
}

// Start starts the homeserver (again) with the same folder and ports.
func (d *Dendrite) Start(ctx context.Context) error {
	logFile, err := os.OpenFile(filepath.Join(d.Dir, "dendrite.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	d.cmd = exec.Command(filepath.Join(d.bin, "dendrite"), "-config", "dendrite.yaml",
		"-http-bind-address", fmt.Sprintf("127.0.0.1:%d", d.port),
		"-https-bind-address", fmt.Sprintf("127.0.0.1:%d", d.tls),
		"-really-enable-open-registration")
	d.cmd.Dir = d.Dir
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err = d.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start dendrite: %w", err)
	}
	d.done = make(chan struct{})
	go func() {
		_ = d.cmd.Wait()
		logFile.Close()
		close(d.done)
	}()
	return waitHTTP(ctx, d.URL+"/_matrix/client/versions", 60*time.Second, d.done)
}

// Stop stops the homeserver and waits for it to exit.
func (d *Dendrite) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
	d.cmd = nil
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200, the process exits (exited closes) or limit
// passes.
func waitHTTP(ctx context.Context, url string, limit time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: process exited before it answered", url)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer within %s", url, limit)
}
