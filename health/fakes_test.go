package health

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/steward-bot/steward/state"
)

// fakeSync is the sync loop's progress, set by the test.
type fakeSync struct {
	mu sync.Mutex
	s  Sync
}

func (f *fakeSync) Sync() Sync {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func (f *fakeSync) set(s Sync) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s = s
}

// memKV is the kv table in memory; fail makes writes fail, block makes them wait for
// the end of their context.
type memKV struct {
	mu     sync.Mutex
	values map[string]string
	writes int
	fail   error
	block  bool
}

func (m *memKV) Get(_ context.Context, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.values[key], nil
}

func (m *memKV) Set(ctx context.Context, key, value string) error {
	m.mu.Lock()
	block, fail := m.block, m.fail
	m.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	if fail != nil {
		return fail
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.values == nil {
		m.values = map[string]string{}
	}
	m.values[key] = value
	m.writes++
	return nil
}

// fakeOutbox is the outbox's backlog.
type fakeOutbox struct {
	n      int
	oldest time.Time
	since  int
}

func (f *fakeOutbox) Backlog(context.Context) (int, time.Time, error) { return f.n, f.oldest, nil }
func (f *fakeOutbox) MessagesSince(context.Context, time.Time) (int, error) {
	return f.since, nil
}

// fixedReady is a readiness the test sets.
type fixedReady struct {
	mu    sync.Mutex
	ready bool
}

func (f *fixedReady) Check(context.Context) Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ready {
		return Report{Ready: true, Sync: Part{OK: true}, Database: Part{OK: true}, Outbox: Part{OK: true}}
	}
	return Report{Sync: Part{Problem: "no successful sync for 2 minutes"}, Database: Part{OK: true}, Outbox: Part{OK: true}}
}

func (f *fixedReady) set(ready bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ready = ready
}

// recorder is an HTTP server in memory: it keeps every request, with its body, and
// answers 200, or fails the request with an error naming the URL, as net/http does.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	down     bool
}

type recorded struct {
	method, url, body string
	at                time.Time
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body string
	if req.Body != nil {
		var b strings.Builder
		buf := make([]byte, 512)
		for {
			n, err := req.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		body = b.String()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return nil, errors.New("dial tcp: connection refused")
	}
	r.requests = append(r.requests, recorded{req.Method, req.URL.String(), body, time.Now()})
	return &http.Response{StatusCode: 200, Status: "200 OK", Body: http.NoBody, Request: req}, nil
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

func (r *recorder) client() *http.Client { return &http.Client{Transport: r} }

// counts are firing alerts with names that must never leave in plain text.
type counts []state.AlertCount

func (c counts) FiringCounts(context.Context) ([]state.AlertCount, error) { return c, nil }
