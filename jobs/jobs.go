// Package jobs watches the jobs that run outside Steward (a pg_dump cron line,
// borgmatic, a backup on another machine) through their pings, the way Healthchecks
// does, so they report to Steward with no new code: a curl at the end of a cron line
// is enough. Pings are recorded before they are answered; the check "jobs" turns what
// they said, or their silence, into alerts; a daily notice tells the admins of pings
// to names no job has.
package jobs

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/httpapi"
	"github.com/steward-bot/steward/redact"
	"github.com/steward-bot/steward/state"
)

// Spec is one configured job.
type Spec struct {
	// Name is the last part of its ping URL: /ping/TOKEN/NAME.
	Name string
	// Every is how often it runs; Grace how late its success may be, and how long a
	// started run may take.
	Every, Grace time.Duration
	// Hint is shown in its alerts: what to look at first.
	Hint string
}

// Store keeps the pings (state.Jobs).
type Store interface {
	Know(ctx context.Context, names []string, at time.Time) error
	Record(ctx context.Context, p *state.Ping) error
	RecordUnknown(ctx context.Context, name string, at time.Time) error
	All(ctx context.Context) ([]*state.Job, error)
}

// Routes are the ping URLs' patterns, each served by the Tracker with the token in
// its path (httpapi.PathToken): /ping/TOKEN/NAME is a success, and the action
// after it is start, fail or an exit code (0 a success, 1 to 255 a failure).
var Routes = []string{"/ping/{token}/{name}", "/ping/{token}/{name}/{action}"}

// Limits of the output a ping's body carries: its last lines go into the failure's
// alert, so they must fit one readable message.
const (
	outputLines = 20
	outputBytes = 4 << 10
	// maskWindow and maskContext bound what of a body's end is looked at: at most
	// 64 KiB, and the lines kept with 4 before them, masked together (masking is
	// slow: a 1 MiB body masked whole would hold a ping for a quarter of a second).
	maskWindow  = 64 << 10
	maskContext = 4
)

// Tracker is the configured jobs and what Steward hears from them: it takes their
// pings (an http.Handler), makes the check that alerts on them, and tells how each
// stands (!jobs).
type Tracker struct {
	specs  []Spec
	byName map[string]Spec
	store  Store
	now    func() time.Time
	// pinged wakes the running check after a ping was recorded; unknown wakes the
	// notices after a ping to a name no job has.
	pinged  chan struct{}
	unknown chan struct{}
	// Gate lets one ping at a time write (httpapi.Gate says why), shared with the
	// listener's other recording routes; NewTracker gives it one of its own.
	Gate *httpapi.Gate
}

var _ http.Handler = (*Tracker)(nil)

// NewTracker makes the tracker of specs, keeping their pings in store.
func NewTracker(specs []Spec, store Store, now func() time.Time) *Tracker {
	t := &Tracker{specs: specs, byName: make(map[string]Spec, len(specs)), store: store, now: now,
		pinged: make(chan struct{}, 1), unknown: make(chan struct{}, 1), Gate: &httpapi.Gate{}}
	for _, s := range specs {
		t.byName[s.Name] = s
	}
	return t
}

// Specs are the configured jobs, in the config's order.
func (t *Tracker) Specs() []Spec { return t.specs }

// ServeHTTP takes one ping. It is answered once recorded, so a job that got its "OK"
// was heard even if Steward stops right after; what can't be recorded gets 500, which
// curl --retry and borgmatic try again.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "a ping is a GET or a POST", http.StatusMethodNotAllowed)
		return
	}
	log := zerolog.Ctx(r.Context())
	name := r.PathValue("name")
	kind, code, ok := parseAction(r.PathValue("action"))
	if !ok {
		http.Error(w, "not a ping: after the job's name comes nothing, /start, /fail or an exit code from 0 to 255", http.StatusBadRequest)
		return
	}
	spec, known := t.byName[name]
	if !known {
		// The token too may be where the name goes (a script that adds it twice).
		name = shortName(strings.ReplaceAll(name, r.PathValue("token"), "•••"))
		err := t.Gate.Do(r.Context(), func(ctx context.Context) error { return t.store.RecordUnknown(ctx, name, t.now()) })
		if err != nil {
			log.Err(err).Msg("Failed to count a ping to a job that is not configured")
		}
		wake(t.unknown)
		log.Info().Str("job", name).Msg("Ping to a job that is not configured")
		http.Error(w, fmt.Sprintf("no job %q is configured in Steward (jobs in its config file)", name), http.StatusNotFound)
		return
	}
	body, ok := httpapi.ReadBody(w, r)
	if !ok {
		return
	}
	ping := &state.Ping{Job: spec.Name, Kind: kind, ExitCode: code, Output: LastLines(body, r.PathValue("token"))}
	err := t.Gate.Do(r.Context(), func(ctx context.Context) error {
		ping.At = t.now()
		return t.store.Record(ctx, ping)
	})
	if err != nil {
		log.Err(err).Str("job", spec.Name).Msg("Failed to record a job's ping")
		http.Error(w, "Steward could not record the ping; try again", http.StatusInternalServerError)
		return
	}
	wake(t.pinged)
	if kind == state.PingFailure {
		log.Info().Str("job", spec.Name).Int("exit_code", code).Msg("Job reported a failure")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("OK"))
}

// parseAction reads what comes after a job's name in a ping URL, as Healthchecks
// does: nothing (success), start, fail, or an exit code from 0 (success) to 255.
func parseAction(action string) (kind state.PingKind, exitCode int, ok bool) {
	switch action {
	case "":
		return state.PingSuccess, 0, true
	case "start":
		return state.PingStart, 0, true
	case "fail":
		return state.PingFailure, state.NoExitCode, true
	}
	if len(action) > 3 || strings.Trim(action, "0123456789") != "" {
		return "", 0, false
	}
	code, err := strconv.Atoi(action)
	switch {
	case err != nil || code > 255:
		return "", 0, false
	case code == 0:
		return state.PingSuccess, 0, true
	default:
		return state.PingFailure, code, true
	}
}

// shortName bounds a name no job has before it is counted and shown: it came from
// anyone who has the token, and may be anything.
func shortName(name string) string {
	name = strings.ToValidUTF8(name, "?")
	if len(name) <= 64 {
		return name
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "…"
}

// LastLines is what a failure's alert shows of a job's output: its last lines (at
// most 20, and 4 KiB), with what looks like a secret masked (redact.Secrets) and
// the ping token, should the output show it, too. A few lines before them are masked
// with them, so that a secret whose name is on the line before ("password:" and the
// value below it) is still found.
func LastLines(body []byte, token string) string {
	if len(body) > maskWindow {
		body = body[len(body)-maskWindow:]
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			body = body[i+1:]
		}
	}
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n") // progress bars redraw a line with \r
	s = strings.TrimRight(s, " \t\n")
	cut := false
	if lines := strings.Split(s, "\n"); len(lines) > outputLines+maskContext {
		s, cut = strings.Join(lines[len(lines)-outputLines-maskContext:], "\n"), true
	}
	if token != "" {
		s = strings.ReplaceAll(s, token, "•••")
	}
	s = strings.Trim(redact.Secrets(s), "\n")
	if lines := strings.Split(s, "\n"); len(lines) > outputLines {
		s, cut = strings.Join(lines[len(lines)-outputLines:], "\n"), true
	}
	if len(s) > outputBytes {
		start := len(s) - outputBytes
		for start < len(s) && !utf8.RuneStart(s[start]) {
			start++
		}
		s, cut = s[start:], true
	}
	if cut && s != "" {
		s = "…\n" + s
	}
	return strings.TrimRight(s, " \t\n")
}

// wake signals ch without waiting: one signal pending is enough.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Status is how a job stands, for !jobs.
type Status struct {
	Spec Spec
	// Job is what its pings said; only its name and FirstSeen (now) are set while
	// Steward has not looked at it yet.
	Job *state.Job
}

// Status returns how each configured job stands, in the config's order.
func (t *Tracker) Status(ctx context.Context) ([]Status, error) {
	known, err := t.store.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the jobs' pings: %w", err)
	}
	byName := make(map[string]*state.Job, len(known))
	for _, j := range known {
		byName[j.Name] = j
	}
	now := t.now()
	list := make([]Status, 0, len(t.specs))
	for _, s := range t.specs {
		j := byName[s.Name]
		if j == nil {
			j = &state.Job{Name: s.Name, FirstSeen: now}
		}
		list = append(list, Status{Spec: s, Job: j})
	}
	return list, nil
}
