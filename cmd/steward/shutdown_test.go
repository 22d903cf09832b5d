package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
)

// lockedBuffer is a log both the running Steward and the test read and write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitForLog waits until the log has a line containing one of needles, from offset on.
func (b *lockedBuffer) waitForLog(t *testing.T, offset int, limit time.Duration, needles ...string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		text := b.String()[offset:]
		for _, n := range needles {
			if strings.Contains(text, n) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("Steward did not log %q within %s", needles, limit)
}

// ownFrame matches a stack frame in Steward's own code, or a goroutine Steward's code
// started, but not the test's helpers (the testbed's clients keep syncing between the
// runs).
var ownFrame = regexp.MustCompile(`(?m)^(created by )?github\.com/steward-bot/steward/(cmd/steward|bot|service|monitor|dockerctl|backup|tickets|commands|approval|policy|state|render|redact|config|health|metrics|httpapi|jobs|alertmanager)\.`)

// leftOver returns the stacks of the goroutines that run Steward's code, except the
// test's own.
func leftOver() []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if ownFrame.MatchString(g) && !strings.Contains(g, "steward.leftOver(") {
			left = append(left, g)
		}
	}
	return left
}

// TestStartStop starts and stops the whole program several times, against a real
// homeserver, answering a command, a reload and a job's ping each time, and checks that every
// goroutine it started has ended when it returns (run it with -race): nothing may
// write to the database after it is closed.
func TestStartStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	w, err := testbed.NewWorld(ctx, t.TempDir(), t.Logf)
	defer w.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The world starts its own Steward process; this test runs Steward in itself.
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	// The listener too, with a job that pings while a run stops.
	listener, err := w.Config.AddListener(w.Dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Config.TopLevel = append(w.Config.TopLevel, "jobs: [{name: nightly, every: 1h}]")
	cfgPath, err := w.Config.Write(w.Dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := readConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if left := leftOver(); len(left) > 0 {
		t.Fatalf("goroutines running Steward's code before the first start:\n%s", strings.Join(left, "\n\n"))
	}

	logs := &lockedBuffer{}
	log := newLogger(cfg, logs)
	for run := range 3 {
		offset := len(logs.String())
		runCtx, stop := context.WithCancel(ctx)
		hup := make(chan os.Signal, 1)
		done := make(chan error, 1)
		go func() {
			done <- serve(runCtx, cfg, runOptions{configPath: cfgPath, reloadSignals: hup}, log)
		}()
		logs.waitForLog(t, offset, 90*time.Second, "First sync", "Sync is back")

		reply, err := w.Command(ctx, w.Alice, w.AdminRoom, "!ping")
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if body := reply.Content.AsMessage().Body; !strings.HasPrefix(body, "Pong!") {
			t.Fatalf("run %d: !ping answered %q", run, body)
		}
		hup <- syscall.SIGHUP
		logs.waitForLog(t, offset, 30*time.Second, "Reloaded the config")
		// A command still running at the stop: it must be let finish or cut off,
		// never left writing.
		if _, err = w.Alice.Say(ctx, w.AdminRoom, "!status"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(listener.URL + "/ping/" + listener.Token + "/nightly")
		if err != nil {
			t.Fatalf("run %d: ping: %v", run, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("run %d: the ping answered %s", run, resp.Status)
		}

		stop()
		select {
		case err = <-done:
			if err != nil {
				t.Fatalf("run %d stopped with %v", run, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("run %d did not stop within a minute", run)
		}
		// Goroutines that have done their work may need a moment to be gone.
		var left []string
		for range 50 {
			if left = leftOver(); len(left) == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(left) > 0 {
			t.Fatalf("run %d: %d goroutine(s) still run Steward's code after it returned, its database closed:\n%s", run, len(left), strings.Join(left, "\n\n"))
		}
		t.Logf("run %d: answered, reloaded and stopped with nothing left running", run)
	}
	if text := logs.String(); strings.Contains(text, "database is closed") {
		t.Errorf("something used the database after it was closed:\n%s", text)
	}
}
