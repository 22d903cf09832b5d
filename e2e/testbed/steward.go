package testbed

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"maunium.net/go/mautrix/id"
)

var stewardBuild struct {
	once sync.Once
	path string
	err  error
}

// StewardBinary builds the steward command (with the pure-Go Olm) once per process.
func StewardBinary(ctx context.Context) (string, error) {
	stewardBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "steward-bin-")
		if err != nil {
			stewardBuild.err = err
			return
		}
		stewardBuild.path = filepath.Join(dir, "steward")
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "goolm", "-o", stewardBuild.path, "./cmd/steward")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			stewardBuild.err = fmt.Errorf("build steward: %w\n%s", err, out)
		}
	})
	return stewardBuild.path, stewardBuild.err
}

// RemoveStewardBinary removes the folder StewardBinary built into; the suite's
// teardown calls it once no Steward runs any more.
func RemoveStewardBinary() {
	if stewardBuild.path != "" {
		_ = os.RemoveAll(filepath.Dir(stewardBuild.path))
	}
}

// StewardConfig is what the testbed puts in a generated steward.yaml.
type StewardConfig struct {
	Homeserver string
	UserID     id.UserID
	Password   string
	AdminRoom  id.RoomID
	GroupRoom  id.RoomID
	Admins     []id.UserID
	DataDir    string
	// Extra is appended under matrix: verbatim, e.g. "stale_after: 3s".
	Extra []string
	// TopLevel is appended at the top level verbatim, e.g. "rate_limit: {burst: 100}".
	TopLevel []string
	// Monitor is the monitor section's value, in YAML flow style.
	Monitor string
}

// QuietMonitor watches nothing, so that the test machine's own state (a full disk, a
// busy CPU) raises no alerts in tests about other things.
const QuietMonitor = "{disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}, containers: {enabled: false}}"

// Write writes the config and the password file into dir and returns the config path.
func (c StewardConfig) Write(dir string) (string, error) {
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(c.Password+"\n"), 0o600); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "matrix:\n  homeserver: %q\n  user_id: %q\n  password_file: %q\n  device_name: Steward\n", c.Homeserver, c.UserID, pwFile)
	fmt.Fprintf(&b, "  admin_room: %q\n  group_room: %q\n  admins:\n", c.AdminRoom, c.GroupRoom)
	for _, a := range c.Admins {
		fmt.Fprintf(&b, "    - %q\n", a)
	}
	b.WriteString("  command_prefix: \"!\"\n")
	for _, line := range c.Extra {
		b.WriteString("  " + line + "\n")
	}
	fmt.Fprintf(&b, "data_dir: %q\nlog:\n  level: debug\n  format: json\n", c.DataDir)
	for _, line := range c.TopLevel {
		b.WriteString(line + "\n")
	}
	if c.Monitor != "" {
		b.WriteString("monitor: " + c.Monitor + "\n")
	}
	path := filepath.Join(dir, "steward.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// Steward is a running steward process.
type Steward struct {
	ConfigPath string
	LogPath    string
	bin        string
	// Env is added to the process's environment on the next Start.
	Env []string
	// Args are added to `steward run` on the next Start.
	Args []string
	cmd  *exec.Cmd
	// exitCode is the exit status of the last run that ended.
	exitCode atomic.Int32
	// startOffset is where the log of the current run begins.
	startOffset int64
	done        chan struct{}
}

// StartSteward starts `steward run` with the config at configPath, logging to logPath,
// and waits until it is syncing.
func StartSteward(ctx context.Context, configPath, logPath string) (*Steward, error) {
	bin, err := StewardBinary(ctx)
	if err != nil {
		return nil, err
	}
	s := &Steward{ConfigPath: configPath, LogPath: logPath, bin: bin}
	return s, s.Start(ctx)
}

// Start starts the process (again).
func (s *Steward) Start(ctx context.Context) error {
	logFile, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	offset, _ := logFile.Seek(0, 2)
	s.cmd = exec.Command(s.bin, append([]string{"run", "--config", s.ConfigPath}, s.Args...)...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.Env = append(os.Environ(), s.Env...)
	if err = s.cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	s.done = make(chan struct{})
	cmd, done := s.cmd, s.done
	go func() {
		_ = cmd.Wait()
		s.exitCode.Store(int32(cmd.ProcessState.ExitCode()))
		logFile.Close()
		close(done)
	}()
	s.startOffset = offset
	return s.waitForLog(ctx, offset, "First sync|Sync is back", 90*time.Second)
}

// WaitForLog waits until the log of the current run has a line containing one of the
// |-separated needles.
func (s *Steward) WaitForLog(ctx context.Context, needles string, limit time.Duration) error {
	return s.waitForLog(ctx, s.startOffset, needles, limit)
}

// waitForLog waits until the log, from offset on, has a line containing one of the
// |-separated needles.
func (s *Steward) waitForLog(ctx context.Context, offset int64, needles string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if f, err := os.Open(s.LogPath); err == nil {
			_, _ = f.Seek(offset, 0)
			scanner := bufio.NewScanner(f)
			scanner.Buffer(make([]byte, 1<<20), 1<<20)
			for scanner.Scan() {
				for _, needle := range strings.Split(needles, "|") {
					if strings.Contains(scanner.Text(), needle) {
						f.Close()
						return nil
					}
				}
			}
			f.Close()
		}
		select {
		case <-s.done:
			return fmt.Errorf("steward exited during start; see %s", s.LogPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("steward did not log %q within %s; see %s", needles, limit, s.LogPath)
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Steward) Stop() error {
	return s.signal(syscall.SIGTERM, 30*time.Second)
}

// Reload asks the running Steward to read its config again (SIGHUP).
func (s *Steward) Reload() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return errors.New("steward is not running")
	}
	return s.cmd.Process.Signal(syscall.SIGHUP)
}

// Kill ends the process at once, as a crash or power cut would.
func (s *Steward) Kill() error {
	return s.signal(syscall.SIGKILL, 10*time.Second)
}

func (s *Steward) signal(sig syscall.Signal, limit time.Duration) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
		s.cmd = nil
		return nil
	case <-time.After(limit):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.cmd = nil
		return fmt.Errorf("steward did not stop within %s after %s", limit, sig)
	}
}

// Notify runs `steward notify` with the same config.
func (s *Steward) Notify(ctx context.Context, room, text string) error {
	out, err := exec.CommandContext(ctx, s.bin, "notify", "--config", s.ConfigPath, "--room", room, text).CombinedOutput()
	if err != nil {
		return fmt.Errorf("steward notify: %w: %s", err, out)
	}
	return nil
}

// DeviceID returns the device the current run logged in with, from its log.
func (s *Steward) DeviceID() (id.DeviceID, error) {
	f, err := os.Open(s.LogPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, _ = f.Seek(s.startOffset, 0)
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var line struct {
			Message  string `json:"message"`
			DeviceID string `json:"device_id"`
		}
		if json.Unmarshal(scanner.Bytes(), &line) == nil && line.Message == "Logged in" {
			return id.DeviceID(line.DeviceID), nil
		}
	}
	return "", fmt.Errorf("no login in %s", s.LogPath)
}

// PID returns the process ID of the running steward, or 0.
func (s *Steward) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// WaitExit waits up to limit for the process to end by itself (a crash the test asked
// for) and reports whether it did.
func (s *Steward) WaitExit(limit time.Duration) bool {
	if s.cmd == nil {
		return true
	}
	select {
	case <-s.done:
		s.cmd = nil
		return true
	case <-time.After(limit):
		return false
	}
}

// ExitCode returns the exit status of the last run that ended.
func (s *Steward) ExitCode() int {
	return int(s.exitCode.Load())
}

// CLI runs `steward ARGS... --config CONFIG` and returns its combined output and exit
// status.
func (s *Steward) CLI(ctx context.Context, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, s.bin, append(args, "--config", s.ConfigPath)...)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return string(out), exitErr.ExitCode(), nil
	}
	return string(out), 0, err
}
