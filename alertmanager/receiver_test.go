package alertmanager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/httpapi"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

const adminRoom = id.RoomID("!admin:example.org")

// room records what the alert engine queues for the admin room.
type room struct {
	mu        sync.Mutex
	posts     []*render.Message
	edits     map[int64][]*render.Message
	followUps map[int64][]*render.Message
}

var _ monitor.Messenger = (*room)(nil)

func (r *room) Post(_ context.Context, _ id.RoomID, _, _ id.EventID, msg *render.Message) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts = append(r.posts, msg)
	return int64(len(r.posts)), nil
}

func (r *room) Edit(_ context.Context, _ id.RoomID, msgID int64, msg *render.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.edits[msgID] = append(r.edits[msgID], msg)
	return nil
}

func (r *room) React(context.Context, id.RoomID, int64, string) error { return nil }

func (r *room) FollowUp(_ context.Context, _ id.RoomID, msgID int64, msg *render.Message, _ ...id.UserID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.followUps[msgID] = append(r.followUps[msgID], msg)
	return nil
}

func (r *room) Announce(context.Context, id.RoomID, *render.Message) error {
	return errors.New("Alertmanager's alerts are the admins' alone")
}

// counts returns how many messages, edits and follow-ups were queued.
func (r *room) counts() (posts, edits, followUps int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.edits {
		edits += len(e)
	}
	for _, f := range r.followUps {
		followUps += len(f)
	}
	return len(r.posts), edits, followUps
}

// rig is a receiver in front of a real alert engine over a real database.
type rig struct {
	t      *testing.T
	db     *state.DB
	engine *monitor.Engine
	room   *room
	recv   *Receiver
	// hooked is what the database held when the hook ran.
	hooked []int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	r := &rig{t: t, db: db, room: &room{edits: map[int64][]*render.Message{}, followUps: map[int64][]*render.Message{}}}
	r.engine = monitor.NewEngine(monitor.Settings{AdminRoom: adminRoom, Prefix: "!"}, db.Alerts, db.Silences, r.room, db.Audit, db.DoTxn, time.Now)
	r.recv = &Receiver{Alerts: r.engine, Hook: func(step string) {
		if step != "webhook-recorded" {
			t.Errorf("hook called at %q", step)
		}
		r.hooked = append(r.hooked, len(r.open()))
	}}
	return r
}

// post sends body to the receiver and returns the status and the answer.
func (r *rig) post(body string) (int, string) {
	r.t.Helper()
	req := httptest.NewRequestWithContext(r.t.Context(), http.MethodPost, "/alertmanager", strings.NewReader(body))
	rec := httptest.NewRecorder()
	r.recv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// flush posts what fired, as the engine's loop does once the group wait is over.
func (r *rig) flush() {
	r.t.Helper()
	if _, err := r.engine.Flush(r.t.Context()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) open() []*state.Alert {
	r.t.Helper()
	open, err := r.engine.OpenAlerts(r.t.Context())
	if err != nil {
		r.t.Fatal(err)
	}
	return open
}

func TestReceiverFiresOnceForRepeats(t *testing.T) {
	r := newRig(t)
	body := payload("firing", alertJSON("firing", "3f2a9c1b0d4e5f67", diskLabels, map[string]string{
		"summary": "Disk <b>/var</b> on web1 is 95% full", "description": "Only 5% left",
	}))
	if code, answer := r.post(body); code != http.StatusOK {
		t.Fatalf("webhook answered %d %q, want 200", code, answer)
	}
	if len(r.hooked) != 1 || r.hooked[0] != 1 {
		t.Errorf("the hook saw %v open alerts, want it called once with the alert recorded", r.hooked)
	}
	r.flush()
	if posts, _, _ := r.room.counts(); posts != 1 {
		t.Fatalf("%d messages, want one", posts)
	}
	msg := r.room.posts[0]
	for _, want := range []string{"🔴 Critical: Disk &lt;b&gt;/var&lt;/b&gt; on web1 is 95% full", "Now: Only 5% left.", "instance=web1:9100, mountpoint=/var",
		"More: http://prometheus.example.org:9090/graph?g0.expr=up+%3D%3D+0"} {
		if !strings.Contains(msg.HTML(), want) {
			t.Errorf("the alert's HTML lacks %q:\n%s", want, msg.HTML())
		}
	}
	if strings.Contains(msg.HTML(), "<b>/var") {
		t.Errorf("the sender's HTML reached the message as HTML:\n%s", msg.HTML())
	}

	// Alertmanager's repeats (repeat_interval) and retries of a delivery it thinks lost.
	for range 3 {
		if code, _ := r.post(body); code != http.StatusOK {
			t.Fatalf("a repeat answered %d", code)
		}
		r.flush()
	}
	if posts, edits, followUps := r.room.counts(); posts != 1 || edits != 0 || followUps != 0 {
		t.Errorf("repeats queued %d messages, %d edits, %d follow-ups; want the one message alone", posts, edits, followUps)
	}
	if open := r.open(); len(open) != 1 {
		t.Errorf("%d open alerts after repeats, want 1", len(open))
	}

	// A change of severity edits the message; nothing new is posted.
	warning := strings.Replace(body, `"severity":"critical"`, `"severity":"warning"`, 1)
	if code, _ := r.post(warning); code != http.StatusOK {
		t.Fatal(code)
	}
	r.flush()
	if posts, edits, _ := r.room.counts(); posts != 1 || edits != 1 {
		t.Errorf("a new severity queued %d messages and %d edits, want the one message edited once", posts, edits)
	}
}

func TestReceiverResolvesTheSameMessage(t *testing.T) {
	r := newRig(t)
	labels := map[string]string{"alertname": "InstanceDown", "instance": "db1:9100", "job": "node", "severity": "critical"}
	if code, _ := r.post(payload("firing", alertJSON("firing", "00000000000000db", labels, map[string]string{"summary": "db1 is down"}))); code != http.StatusOK {
		t.Fatal(code)
	}
	r.flush()
	if code, _ := r.post(payload("resolved", alertJSON("resolved", "00000000000000db", labels, map[string]string{"summary": "db1 is down"}))); code != http.StatusOK {
		t.Fatal(code)
	}
	r.flush()
	posts, edits, followUps := r.room.counts()
	if posts != 1 || edits != 1 || followUps != 1 {
		t.Fatalf("queued %d messages, %d edits, %d follow-ups; want the alert's message edited and followed up", posts, edits, followUps)
	}
	if e := r.room.edits[1][0].Plain(); !strings.Contains(e, "✅ Resolved: db1 is down") {
		t.Errorf("the edit does not say it resolved:\n%s", e)
	}
	if f := r.room.followUps[1][0].Plain(); !strings.HasPrefix(f, "✅ Resolved: db1 is down (#1), after") {
		t.Errorf("follow-up = %q", f)
	}
	if open := r.open(); len(open) != 0 {
		t.Errorf("%d alerts still open", len(open))
	}
	// Resolved again (a retry), or resolved without ever having fired: nothing.
	r.post(payload("resolved", alertJSON("resolved", "00000000000000db", labels, nil)))
	r.post(payload("resolved", alertJSON("resolved", "00000000000000ff", labels, nil)))
	r.flush()
	if p, e, f := r.room.counts(); p != posts || e != edits || f != followUps {
		t.Errorf("resolving what is resolved queued %d messages, %d edits, %d follow-ups more", p-posts, e-edits, f-followUps)
	}
}

// A thousand alerts in one notification are one storm message with counts, and their
// resolution one edit and one line.
func TestReceiverStormIsOneMessage(t *testing.T) {
	r := newRig(t)
	firing, resolved := storm(1000, "firing"), storm(1000, "resolved")
	if len(firing) >= httpapi.MaxBody {
		t.Fatalf("the storm's payload is %d bytes, over the listener's limit", len(firing))
	}
	if code, answer := r.post(firing); code != http.StatusOK {
		t.Fatalf("%d %s", code, answer)
	}
	r.flush()
	if posts, _, _ := r.room.counts(); posts != 1 {
		t.Fatalf("%d messages for a storm, want one", posts)
	}
	msg := r.room.posts[0].Plain()
	if !strings.Contains(msg, "1000 alerts fired together (100 critical, 900 warning)") || !strings.Contains(msg, "…and 985 more") {
		t.Errorf("the storm message does not count them:\n%s", msg)
	}
	if code, _ := r.post(resolved); code != http.StatusOK {
		t.Fatal(code)
	}
	r.flush()
	if posts, edits, followUps := r.room.counts(); posts != 1 || edits != 1 || followUps != 1 {
		t.Errorf("the storm's resolution queued %d messages, %d edits, %d follow-ups; want one edit and one follow-up", posts, edits, followUps)
	}
	if f := r.room.followUps[1][0].Plain(); !strings.HasPrefix(f, "✅ Resolved: 1000 alerts (#1, #2,") {
		t.Errorf("follow-up = %q", f)
	}
}

// storm is a notification of n alerts with status, one in ten critical.
func storm(n int, status string) string {
	alerts := make([]string, n)
	for i := range alerts {
		severity := "warning"
		if i%10 == 0 {
			severity = "critical"
		}
		alerts[i] = alertJSON(status, fmt.Sprintf("%016x", i+1),
			map[string]string{"alertname": "TargetDown", "instance": fmt.Sprintf("host%04d:9100", i), "severity": severity},
			map[string]string{"summary": fmt.Sprintf("host%04d is down", i)})
	}
	return payload(status, alerts...)
}

func TestReceiverRefusesWhatIsNotAPayload(t *testing.T) {
	r := newRig(t)
	for _, body := range []string{
		`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"X"}`,
		strings.Replace(payload("firing", alertJSON("firing", "00000000000000aa", diskLabels, nil)), `"version":"4"`, `"version":"5"`, 1),
		payload("firing", alertJSON("firing", "00000000000000aa", diskLabels, nil), alertJSON("firing", "", diskLabels, nil)),
	} {
		code, answer := r.post(body)
		if code != http.StatusBadRequest {
			t.Errorf("answered %d %q, want 400", code, answer)
		}
	}
	if len(r.open()) != 0 || len(r.hooked) != 0 {
		t.Errorf("a refused payload was recorded: %d open alerts", len(r.open()))
	}
}

// failingReporter can't record anything, as when the disk is full.
type failingReporter struct{}

func (failingReporter) Report(context.Context, string, []monitor.Observation, []string) error {
	return errors.New("database is locked")
}

func TestReceiverAnswers500WhenItCantRecord(t *testing.T) {
	called := false
	recv := &Receiver{Alerts: failingReporter{}, Hook: func(string) { called = true }}
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/alertmanager", strings.NewReader(payload("firing", alertJSON("firing", "00000000000000aa", diskLabels, nil))))
	rec := httptest.NewRecorder()
	recv.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || called {
		t.Errorf("answered %d (hook called: %v), want 500 so that Alertmanager tries again", rec.Code, called)
	}
	if strings.Contains(rec.Body.String(), "locked") {
		t.Errorf("the answer shows the internal error: %q", rec.Body.String())
	}
}

// Through the listener: a wrong token gets 401 and a body over 1 MiB 413, and neither
// is recorded.
func TestReceiverBehindTheListener(t *testing.T) {
	r := newRig(t)
	const token = "0123456789abcdef0123456789abcdef"
	srv, err := httpapi.New("127.0.0.1:0", token, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("POST /alertmanager", "alertmanager", httpapi.Bearer, r.recv)
	if err = srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	send := func(auth, body string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+srv.Addr()+"/alertmanager", strings.NewReader(body))
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
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	good := payload("firing", alertJSON("firing", "00000000000000aa", diskLabels, nil))
	big := payload("firing", alertJSON("firing", "00000000000000bb", diskLabels, map[string]string{"description": strings.Repeat("x", httpapi.MaxBody)}))
	for _, tt := range []struct {
		auth, body string
		want       int
	}{
		{"", good, http.StatusUnauthorized},
		{"Bearer wrong-token-wrong-token", good, http.StatusUnauthorized},
		{"Basic " + token, good, http.StatusUnauthorized},
		{"Bearer " + token, big, http.StatusRequestEntityTooLarge},
	} {
		if got := send(tt.auth, tt.body); got != tt.want {
			t.Errorf("with %q: %d, want %d", tt.auth, got, tt.want)
		}
	}
	if len(r.open()) != 0 || len(r.hooked) != 0 {
		t.Fatalf("refused requests were recorded: %d open alerts", len(r.open()))
	}
	if got := send("Bearer "+token, good); got != http.StatusOK {
		t.Fatalf("with the token: %d", got)
	}
	if len(r.open()) != 1 {
		t.Errorf("%d open alerts after a good delivery, want 1", len(r.open()))
	}
}
