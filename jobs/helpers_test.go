package jobs_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/httpapi"
	"github.com/steward-bot/steward/jobs"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

const token = "0123456789abcdef0123456789abcdef"

var (
	_ jobs.Store        = (*state.Jobs)(nil)
	_ jobs.UnknownStore = (*state.Jobs)(nil)
	_ monitor.KV        = (*state.KV)(nil)
)

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 6, 3, 3, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openDB opens a fresh database file, closed when the test ends.
func openDB(t testing.TB) *state.DB {
	t.Helper()
	db, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// listener is Steward's real HTTP listener with the ping routes, on a free loopback
// port, stopped when the test ends.
type listener struct {
	base   string
	client *http.Client
}

func serve(t testing.TB, tracker *jobs.Tracker) *listener {
	t.Helper()
	srv, err := httpapi.New("127.0.0.1:0", token, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range jobs.Routes {
		srv.Handle(route, "ping", httpapi.PathToken, tracker)
	}
	if err = srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(zerolog.Nop().WithContext(ctx)) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("listener: %v", err)
		}
	})
	return &listener{base: "http://" + srv.Addr(), client: &http.Client{Timeout: 10 * time.Second}}
}

// do sends method to path (with body for a POST) and returns the status and body.
func (l *listener) do(t testing.TB, method, path, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, l.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(answer)
}

// fakeNotifier keeps what would be told to a room.
type fakeNotifier struct {
	mu      sync.Mutex
	notices []string
}

func (f *fakeNotifier) Notice(_ context.Context, _ id.RoomID, msg *render.Message, _ ...id.UserID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notices = append(f.notices, msg.Plain())
	return nil
}

func (f *fakeNotifier) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.notices...)
}

// must turns a (value, error) result into the value, failing t on error:
// must(db.Jobs.All(ctx))(t).
func must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func jobNamed(t testing.TB, db *state.DB, name string) *state.Job {
	t.Helper()
	for _, j := range must(db.Jobs.All(context.Background()))(t) {
		if j.Name == name {
			return j
		}
	}
	return nil
}
