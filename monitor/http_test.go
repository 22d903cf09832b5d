package monitor

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/state"
)

func acceptBelow400(code int) bool { return code < 400 }

// endpoint is a server for an HTTP check to watch: its URL and, for TLS, the roots
// that trust it.
type endpoint struct {
	url   string
	roots *x509.CertPool
}

func serve(t *testing.T, h http.HandlerFunc) endpoint {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return endpoint{url: srv.URL}
}

func serveTLS(t *testing.T) endpoint {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	return endpoint{url: srv.URL, roots: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
}

func newTestHTTPCheck(e endpoint, adjust func(*HTTPSpec)) *HTTPCheck {
	spec := HTTPSpec{
		Name: "web", URL: e.url, Every: 30 * time.Second, Timeout: 5 * time.Second, StatusOK: acceptBelow400,
		LatencyWarning: 2 * time.Second, CertWarning: 14 * 24 * time.Hour, CertCritical: 3 * 24 * time.Hour,
		Hint: "see the web container's logs", Public: true,
	}
	if adjust != nil {
		adjust(&spec)
	}
	c := NewHTTPCheck(spec)
	if e.roots != nil {
		c.Client.Transport.(*http.Transport).TLSClientConfig.RootCAs = e.roots
	}
	return c
}

func TestHTTPCheck(t *testing.T) {
	const century = 100 * 365 * 24 * time.Hour // httptest's certificate runs until 2084
	type want struct {
		fingerprint string
		severity    state.Severity
		summary     string // prefix
	}
	tests := []struct {
		name   string
		server func(t *testing.T) endpoint
		adjust func(*HTTPSpec)
		want   []want
	}{
		{
			name:   "answers 200",
			server: func(t *testing.T) endpoint { return serve(t, func(http.ResponseWriter, *http.Request) {}) },
		},
		{
			name: "answers 500",
			server: func(t *testing.T) endpoint {
				return serve(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
			},
			want: []want{{"http:web:down", state.SeverityCritical, "web answers 500 Internal Server Error"}},
		},
		{
			name: "a redirect is an answer, not followed",
			server: func(t *testing.T) endpoint {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/broken" {
						w.WriteHeader(http.StatusInternalServerError)
						return
					}
					http.Redirect(w, r, "/broken", http.StatusFound)
				})
			},
		},
		{
			name: "a status the check does not accept",
			server: func(t *testing.T) endpoint {
				return serve(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
			},
			adjust: func(s *HTTPSpec) { s.StatusOK = func(code int) bool { return code == http.StatusOK } },
			want:   []want{{"http:web:down", state.SeverityCritical, "web answers 204 No Content"}},
		},
		{
			name: "does not answer",
			server: func(t *testing.T) endpoint {
				srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				srv.Close()
				return endpoint{url: srv.URL}
			},
			want: []want{{"http:web:down", state.SeverityCritical, "web does not answer"}},
		},
		{
			name: "slow",
			server: func(t *testing.T) endpoint {
				return serve(t, func(http.ResponseWriter, *http.Request) { time.Sleep(300 * time.Millisecond) })
			},
			adjust: func(s *HTTPSpec) { s.LatencyWarning = 50 * time.Millisecond },
			want:   []want{{"http:web:slow", state.SeverityWarning, "web is slow"}},
		},
		{
			name:   "certificate far from expiry",
			server: serveTLS,
		},
		{
			name:   "certificate within the warning",
			server: serveTLS,
			adjust: func(s *HTTPSpec) { s.CertWarning = century },
			want:   []want{{"http:web:cert", state.SeverityWarning, "The TLS certificate of web expires in about "}},
		},
		{
			name:   "certificate within the critical",
			server: serveTLS,
			adjust: func(s *HTTPSpec) { s.CertWarning, s.CertCritical = 2*century, century },
			want:   []want{{"http:web:cert", state.SeverityCritical, "The TLS certificate of web expires in about "}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestHTTPCheck(tt.server(t), tt.adjust)
			obs, err := c.Observe(t.Context())
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			if len(obs) != len(tt.want) {
				t.Fatalf("observations = %+v, want %d", obs, len(tt.want))
			}
			for i, w := range tt.want {
				o := obs[i]
				if o.Fingerprint != w.fingerprint || o.Severity != w.severity || !strings.HasPrefix(o.Summary, w.summary) {
					t.Errorf("observation = %s %s %q, want %s %s %q", o.Fingerprint, o.Severity, o.Summary, w.fingerprint, w.severity, w.summary)
				}
				if o.Subject != "web" || o.Hint != "see the web container's logs" {
					t.Errorf("observation subject %q, hint %q; want web's", o.Subject, o.Hint)
				}
				if o.Fingerprint == "http:web:down" && !o.Public {
					t.Errorf("a public service being down is not marked public")
				}
			}
		})
	}
}

// runCheck gives a round max(Every, 10s). With the timeout equal to the interval (the
// config's default timeout for an interval of 10s is 10s), the round's deadline ends
// the request before the client's own timeout does, and a server that hangs must still
// be reported as not answering, not as Steward failing to run its check (a warning
// that leaves the service's alert unopened).
func TestHTTPCheckServerThatHangsThroughTheRoundIsDown(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	const timeout = 300 * time.Millisecond
	c := newTestHTTPCheck(endpoint{url: srv.URL}, func(s *HTTPSpec) { s.Every, s.Timeout = timeout, timeout })

	ctx, cancel := context.WithTimeout(t.Context(), max(c.Interval(), timeout))
	defer cancel()
	obs, err := c.Observe(ctx)
	if err != nil {
		t.Fatalf("Observe of a hanging server failed the check (%v); want web reported as not answering", err)
	}
	if len(obs) != 1 || obs[0].Fingerprint != "http:web:down" || obs[0].Summary != "web does not answer" {
		t.Errorf("observations = %+v, want web does not answer", obs)
	}
}

// An endpoint's password or query token never reaches the alert.
func TestHTTPCheckKeepsSecretsOutOfAlerts(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		http.Error(rw, "down", http.StatusServiceUnavailable)
	}))
	defer server.Close()
	secretURL := strings.Replace(server.URL, "http://", "http://admin:hunter2@", 1) + "/health?token=s3cr3t"
	check := NewHTTPCheck(HTTPSpec{Name: "status", URL: secretURL, Every: time.Second, Timeout: time.Second,
		StatusOK: func(code int) bool { return code < 400 }})
	obs, err := check.Observe(t.Context())
	if err != nil || len(obs) != 1 {
		t.Fatalf("Observe = %+v, %v", obs, err)
	}
	if strings.Contains(obs[0].Value, "hunter2") || strings.Contains(obs[0].Value, "s3cr3t") || !strings.Contains(obs[0].Value, "/health") {
		t.Errorf("the alert value shows a secret or no endpoint: %s", obs[0].Value)
	}
	server.Close()
	obs, _ = check.Observe(t.Context())
	if len(obs) != 1 || strings.Contains(obs[0].Value, "hunter2") || strings.Contains(obs[0].Value, "s3cr3t") {
		t.Errorf("the alert for a refused connection shows a secret: %+v", obs)
	}
}
