// Package httpapi is Steward's one HTTP listener: Alertmanager's webhook and the job
// pings come in through it, the metrics and health checks go out. It owns what every
// route shares: the token, timeouts, the body limit, the count of requests by route
// and status, and logs that never show the token (a ping's path carries it, so a
// request is logged by its route's pattern, never by its path).
package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// MaxBody is the largest request body a route takes; a larger one gets 413.
const MaxBody = 1 << 20

// The server's timeouts: a slow or stuck sender can't hold a connection for long.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 90 * time.Second
	shutdownGrace     = 5 * time.Second
)

// Access is who may use a route.
type Access int

const (
	// Open routes need no token (/healthz, /readyz).
	Open Access = iota
	// Bearer routes need "Authorization: Bearer TOKEN" (/alertmanager, /metrics).
	Bearer
	// PathToken routes carry the token as their {token} path value, as Healthchecks'
	// ping URLs do, since cron lines and borgmatic can't set headers.
	PathToken
)

// Server is the listener and its routes. Add routes with Handle before Run.
type Server struct {
	addr     string
	token    []byte
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	// listener is set by Listen, for a caller that wants to know the port before Run.
	listener net.Listener
}

// New makes a server that will listen on addr, checking token; its request counts
// are registered with reg.
func New(addr, token string, reg prometheus.Registerer) (*Server, error) {
	if token == "" {
		return nil, errors.New("httpapi: no token")
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steward_http_requests_total",
		Help: "HTTP requests Steward's listener answered, by route and status code.",
	}, []string{"route", "code"})
	if err := reg.Register(requests); err != nil {
		return nil, fmt.Errorf("register HTTP metrics: %w", err)
	}
	return &Server{addr: addr, token: []byte(token), mux: http.NewServeMux(), requests: requests}, nil
}

// Handle serves pattern (a net/http pattern, like "POST /alertmanager" or
// "/ping/{token}/{name}") with h, to those access lets in: a wrong or missing token
// gets 401 before h sees the request, so nothing of it is recorded. route names the
// route in metrics and logs.
func (s *Server) Handle(pattern, route string, access Access, h http.Handler) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		log := zerolog.Ctx(r.Context()).With().Str("route", route).Str("method", r.Method).Logger()
		r = r.WithContext(log.WithContext(r.Context()))
		if !s.allowed(r, access) {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="steward"`)
			http.Error(rec, "wrong or missing token", http.StatusUnauthorized)
		} else {
			r.Body = http.MaxBytesReader(rec, r.Body, MaxBody)
			h.ServeHTTP(rec, r)
		}
		s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		level := zerolog.DebugLevel
		if rec.code >= 400 {
			level = zerolog.InfoLevel
		}
		log.WithLevel(level).Int("status", rec.code).Dur("took", time.Since(start)).Msg("HTTP request")
	}))
}

// allowed checks the token a route wants, in constant time.
func (s *Server) allowed(r *http.Request, access Access) bool {
	var given string
	switch access {
	case Open:
		return true
	case Bearer:
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		given = strings.TrimSpace(token)
	case PathToken:
		given = r.PathValue("token")
	}
	return subtle.ConstantTimeCompare([]byte(given), s.token) == 1
}

// Listen opens the listening socket, so that a bad address fails the start and the
// port is known before Run serves it.
func (s *Server) Listen() error {
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen on http.listen %s: %w", s.addr, err)
	}
	s.listener = l
	return nil
}

// Addr is the address listened on, once Listen succeeded.
func (s *Server) Addr() string {
	if s.listener == nil {
		return s.addr
	}
	return s.listener.Addr().String()
}

// Run serves until ctx ends, then lets requests in flight finish for a moment.
func (s *Server) Run(ctx context.Context) error {
	if s.listener == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	log := zerolog.Ctx(ctx).With().Str("component", "http").Logger()
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return log.WithContext(context.WithoutCancel(ctx)) },
		ErrorLog:          nil,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(s.listener) }()
	log.Info().Str("address", s.Addr()).Msg("Listening for HTTP")
	select {
	case err := <-done:
		return fmt.Errorf("HTTP listener: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	<-done
	return nil
}

// ReadBody reads the request's body within MaxBody. On failure it has answered
// already (413 for a body too large, 400 otherwise) and returns false.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "can't read the body", http.StatusBadRequest)
		}
		return nil, false
	}
	return body, true
}

// statusRecorder remembers the status a handler wrote, for the metrics and the log.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (for MaxBytesReader).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Gate lets one request at a time write what it records. Senders come in bursts
// (Alertmanager after its restart, cron lines at the full hour), and at once they
// would wait for SQLite's write lock in its busy handler, which is not fair: some give
// up after its timeout, and the bot's own writes wait behind them. At the gate they
// wait their turn, or until their sender gives up. One gate serves every route that
// records, so a storm of webhooks and a burst of pings queue together. The zero value
// is ready to use.
type Gate struct {
	once sync.Once
	ch   chan struct{}
}

// Do runs fn once no other request is writing, or returns ctx's error if ctx ends
// first (the sender gave up: nothing was recorded).
func (g *Gate) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	g.once.Do(func() { g.ch = make(chan struct{}, 1) })
	select {
	case g.ch <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-g.ch }()
	return fn(ctx)
}
