package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

const token = "0123456789abcdef0123456789abcdef"

// syncBuffer is a log sink the server's goroutines may write to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve starts a server with one route of each access on a free port; handled counts
// the requests that reached a handler.
func serve(t *testing.T) (base string, handled *int, reg *prometheus.Registry, logs *syncBuffer) {
	t.Helper()
	reg = prometheus.NewRegistry()
	srv, err := New("127.0.0.1:0", token, reg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := ReadBody(w, r)
		if !ok {
			return
		}
		mu.Lock()
		n++
		mu.Unlock()
		_, _ = w.Write([]byte("got " + string(body)))
	})
	srv.Handle("GET /healthz", "healthz", Open, handler)
	srv.Handle("POST /alertmanager", "alertmanager", Bearer, handler)
	srv.Handle("/ping/{token}/{name}", "ping", PathToken, handler)
	if err = srv.Listen(); err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(zerolog.New(logs).WithContext(context.Background()))
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + srv.Addr(), &n, reg, logs
}

func do(t *testing.T, method, url, auth string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(text)
}

// Each route lets in only those its access allows, before its handler sees anything.
func TestAccess(t *testing.T) {
	base, handled, reg, logs := serve(t)
	cases := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"open route without a token", "GET", "/healthz", "", 200},
		{"bearer route with the token", "POST", "/alertmanager", "Bearer " + token, 200},
		{"bearer scheme in any case", "POST", "/alertmanager", "bearer " + token, 200},
		{"bearer route without a token", "POST", "/alertmanager", "", 401},
		{"bearer route with a wrong token", "POST", "/alertmanager", "Bearer " + strings.Repeat("x", len(token)), 401},
		{"bearer route with a prefix of the token", "POST", "/alertmanager", "Bearer " + token[:8], 401},
		{"bearer route with basic auth", "POST", "/alertmanager", "Basic " + token, 401},
		{"path token right", "GET", "/ping/" + token + "/pgdump", "", 200},
		{"path token wrong", "GET", "/ping/wrong" + token[5:] + "/pgdump", "", 401},
		{"path token in the header only", "GET", "/ping/x/pgdump", "Bearer " + token, 401},
	}
	want := 0
	for _, c := range cases {
		code, _ := do(t, c.method, base+c.path, c.auth, strings.NewReader("hi"))
		if code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, code, c.want)
		}
		if c.want == 200 {
			want++
		}
	}
	if *handled != want {
		t.Errorf("handlers ran %d times, want %d: a refused request reached one", *handled, want)
	}
	if got := counter(t, reg, "ping", "401"); got != 2 {
		t.Errorf("steward_http_requests_total{route=ping,code=401} = %v, want 2", got)
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), token[5:]) {
		t.Errorf("the log shows the token:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"route":"ping"`) {
		t.Errorf("the log does not name the route:\n%s", logs.String())
	}
}

// A body over MaxBody gets 413 and its handler records nothing.
func TestBodyLimit(t *testing.T) {
	base, handled, _, _ := serve(t)
	code, _ := do(t, "POST", base+"/alertmanager", "Bearer "+token, bytes.NewReader(make([]byte, MaxBody+1)))
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d for a body over the limit, want 413", code)
	}
	code, text := do(t, "POST", base+"/alertmanager", "Bearer "+token, bytes.NewReader(bytes.Repeat([]byte("a"), MaxBody)))
	if code != 200 || len(text) != MaxBody+len("got ") {
		t.Errorf("status %d for a body at the limit, want 200 with the body read whole", code)
	}
	if *handled != 1 {
		t.Errorf("handlers completed %d times, want 1", *handled)
	}
}

// A server can't be made without a token, so no route is ever open by mistake.
func TestNoToken(t *testing.T) {
	if _, err := New("127.0.0.1:0", "", prometheus.NewRegistry()); err == nil {
		t.Error("New accepted an empty token")
	}
}

// counter reads steward_http_requests_total{route,code} from reg.
func counter(t *testing.T, reg *prometheus.Registry, route, code string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "steward_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A gate lets one writer in at a time, and one whose sender gave up while waiting
// writes nothing.
func TestGateOneAtATime(t *testing.T) {
	var g Gate
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- g.Do(context.Background(), func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := g.Do(ctx, func(context.Context) error { ran = true; return nil }); err == nil || ran {
		t.Errorf("a writer whose sender gave up while another wrote: err %v, ran %v", err, ran)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := g.Do(context.Background(), func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("the gate is not free again: err %v, ran %v", err, ran)
	}
}
