package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

const opsRoom = id.RoomID("!ops:example.org")

// sendRequest is one PUT /rooms/{roomId}/send/{eventType}/{txnId} the fake homeserver saw.
type sendRequest struct {
	at     time.Time
	roomID id.RoomID
	txnID  string
	body   string
	status int
}

// fakeHomeserver answers send requests from a script and records what it saw.
type fakeHomeserver struct {
	t      *testing.T
	answer func(n int, req sendRequest) (status int, body string)

	mu       sync.Mutex
	requests []sendRequest
	accepted []string // bodies of the messages it took, in order
}

func (hs *fakeHomeserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}
	parts := strings.Split(r.URL.Path, "/")
	if r.Method != http.MethodPut || len(parts) != 9 || parts[4] != "rooms" || parts[6] != "send" {
		hs.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.Error(w, `{"errcode":"M_UNRECOGNIZED"}`, http.StatusNotFound)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var content event.MessageEventContent
	if err := json.Unmarshal(raw, &content); err != nil {
		hs.t.Errorf("send body %q is not a message: %v", raw, err)
	}
	req := sendRequest{at: time.Now(), roomID: id.RoomID(parts[5]), txnID: parts[8], body: content.Body}

	hs.mu.Lock()
	n := len(hs.requests) + 1
	status, body := hs.answer(n, req)
	req.status = status
	hs.requests = append(hs.requests, req)
	if status == http.StatusOK {
		hs.accepted = append(hs.accepted, req.body)
		body = fmt.Sprintf(`{"event_id":"$%d"}`, len(hs.accepted))
	}
	hs.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (hs *fakeHomeserver) seen() (requests []sendRequest, accepted []string) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return slices.Clone(hs.requests), slices.Clone(hs.accepted)
}

// startOutbox runs an outbox sender against a fake homeserver until the test ends.
// The poll interval is an hour, so anything sent after the start is sent because of
// a wakeup.
func startOutbox(t *testing.T, hs *fakeHomeserver, ob *state.Outbox) (wakeup chan struct{}, stop func()) {
	t.Helper()
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	client, err := mautrix.NewClient(srv.URL, "@steward:example.org", "token")
	if err != nil {
		t.Fatal(err)
	}
	wakeup = make(chan struct{}, 1)
	sender := &outboxSender{client: client, outbox: ob, wakeup: wakeup, sleep: service.Sleep, poll: time.Hour}

	ctx, cancel := context.WithCancel(zerolog.Nop().WithContext(t.Context()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		sender.run(ctx)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("outbox sender did not stop after its context ended")
		}
	}
	t.Cleanup(stop)
	return wakeup, stop
}

func openOutbox(t *testing.T) *state.Outbox {
	t.Helper()
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db.Outbox
}

func queue(t *testing.T, ob *state.Outbox, roomID id.RoomID, body string) int64 {
	t.Helper()
	msgID, err := ob.Add(t.Context(), roomID, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgNotice, Body: body}, "")
	if err != nil {
		t.Fatal(err)
	}
	return msgID
}

// waitEmpty waits until nothing is queued any more.
func waitEmpty(t *testing.T, ob *state.Outbox) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := ob.Queued(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still queued after 5s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getMessage(t *testing.T, ob *state.Outbox, msgID int64) *state.OutboxMessage {
	t.Helper()
	m, err := ob.Get(t.Context(), msgID)
	if err != nil || m == nil {
		t.Fatalf("Get(%d) = %v, %v", msgID, m, err)
	}
	return m
}

const rateLimited = `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":150}`

// A homeserver that rate-limits and then has an outage must still get every reply,
// in order, each exactly once (same txn ID on every retry so it can deduplicate).
func TestOutboxDeliversInOrderThroughRateLimitAndOutage(t *testing.T) {
	ob := openOutbox(t)
	hs := &fakeHomeserver{t: t, answer: func(n int, _ sendRequest) (int, string) {
		switch n {
		case 1, 2:
			return http.StatusTooManyRequests, rateLimited // Dendrite: the delay is only in the body
		case 3:
			return http.StatusBadGateway, "<html>502 Bad Gateway</html>"
		default:
			return http.StatusOK, ""
		}
	}}
	bodies := []string{"web restarted", "db restarted", "cache restarted"}
	var ids []int64
	for _, body := range bodies {
		ids = append(ids, queue(t, ob, opsRoom, body))
	}

	wakeup, _ := startOutbox(t, hs, ob)
	waitEmpty(t, ob)

	requests, accepted := hs.seen()
	if !slices.Equal(accepted, bodies) {
		t.Fatalf("homeserver accepted %q, want %q in that order", accepted, bodies)
	}
	if len(requests) != 6 {
		t.Errorf("homeserver saw %d sends, want 6 (3 refused, then 3 accepted)", len(requests))
	}

	txnOf := map[string]string{}
	for i, req := range requests {
		if req.roomID != opsRoom {
			t.Errorf("request %d went to %s, want %s", i+1, req.roomID, opsRoom)
		}
		if prev, ok := txnOf[req.body]; ok && prev != req.txnID {
			t.Errorf("%q was retried with txn ID %s after %s; the homeserver could not deduplicate it", req.body, req.txnID, prev)
		}
		txnOf[req.body] = req.txnID
		if req.status == http.StatusTooManyRequests && i+1 < len(requests) {
			if gap := requests[i+1].at.Sub(req.at); gap < 140*time.Millisecond {
				t.Errorf("retry %d came %v after a 429 asking for 150ms", i+2, gap)
			}
		}
	}
	if len(requests) >= 4 && requests[3].body != bodies[0] {
		t.Errorf("after the 502 the sender moved on to %q before %q was delivered", requests[3].body, bodies[0])
	}

	for i, msgID := range ids {
		m := getMessage(t, ob, msgID)
		wantEvent := id.EventID(fmt.Sprintf("$%d", i+1))
		if m.State != state.OutboxSent || m.EventID != wantEvent {
			t.Errorf("message %q: state %q event %q, want %q %q", bodies[i], m.State, m.EventID, state.OutboxSent, wantEvent)
		}
		if txnOf[bodies[i]] != m.TxnID {
			t.Errorf("message %q was sent with txn ID %s, but its stored txn ID is %s", bodies[i], txnOf[bodies[i]], m.TxnID)
		}
		if m.LastError != "" {
			t.Errorf("message %q still has last error %q after being sent", bodies[i], m.LastError)
		}
	}
	if first := getMessage(t, ob, ids[0]); first.Attempts != 4 {
		t.Errorf("first message recorded %d attempts, want 4", first.Attempts)
	}
	if len(txnOf) != 3 {
		t.Errorf("3 messages used %d distinct txn IDs, want 3", len(txnOf))
	}

	// Once idle, a newly queued reply goes out on a wakeup, not on the next poll.
	later := queue(t, ob, opsRoom, "backup finished")
	wake(wakeup)
	waitEmpty(t, ob)
	if m := getMessage(t, ob, later); m.State != state.OutboxSent || m.EventID != "$4" {
		t.Errorf("message queued while idle: state %q event %q, want sent as $4", m.State, m.EventID)
	}
}

// A message the homeserver refuses for good (Steward was kicked from that room) is
// marked failed and does not hold back the replies queued after it.
func TestOutboxRefusedMessageDoesNotBlockQueue(t *testing.T) {
	ob := openOutbox(t)
	const goneRoom = id.RoomID("!gone:example.org")
	hs := &fakeHomeserver{t: t, answer: func(_ int, req sendRequest) (int, string) {
		if req.roomID == goneRoom {
			return http.StatusForbidden, `{"errcode":"M_FORBIDDEN","error":"User @steward:example.org not in room !gone:example.org"}`
		}
		return http.StatusOK, ""
	}}
	refused := queue(t, ob, goneRoom, "disk almost full")
	next := queue(t, ob, opsRoom, "web restarted")

	startOutbox(t, hs, ob)
	waitEmpty(t, ob)

	m := getMessage(t, ob, refused)
	if m.State != state.OutboxFailed || !strings.Contains(m.LastError, "M_FORBIDDEN") {
		t.Errorf("refused message: state %q last error %q, want %q with M_FORBIDDEN", m.State, m.LastError, state.OutboxFailed)
	}
	if m := getMessage(t, ob, next); m.State != state.OutboxSent || m.EventID != "$1" {
		t.Errorf("message after the refused one: state %q event %q, want sent as $1", m.State, m.EventID)
	}
	requests, accepted := hs.seen()
	if !slices.Equal(accepted, []string{"web restarted"}) {
		t.Errorf("homeserver accepted %q, want only %q", accepted, "web restarted")
	}
	if len(requests) != 2 {
		t.Errorf("homeserver saw %d sends, want 2 (a refused message is not retried)", len(requests))
	}
}

func TestClassifySendError(t *testing.T) {
	const backoff = 4 * time.Second
	httpErr := func(status int, header http.Header, errcode string, extra map[string]any) error {
		if header == nil {
			header = http.Header{}
		}
		e := mautrix.HTTPError{Response: &http.Response{StatusCode: status, Header: header}}
		if errcode != "" {
			e.RespError = &mautrix.RespError{ErrCode: errcode, StatusCode: status, ExtraData: extra}
		}
		return e
	}
	retryMS := map[string]any{"retry_after_ms": float64(150)}
	tests := []struct {
		name      string
		err       error
		wait      time.Duration
		permanent bool
	}{
		{"network error", mautrix.HTTPError{Message: "request error", WrappedError: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}, backoff, false},
		{"not an HTTP error", errors.New("failed to encrypt event: no session"), backoff, false},
		{"429 retry_after_ms in body", httpErr(429, nil, "M_LIMIT_EXCEEDED", retryMS), 150 * time.Millisecond, false},
		{"429 wrapped", fmt.Errorf("send reply: %w", httpErr(429, nil, "M_LIMIT_EXCEEDED", retryMS)), 150 * time.Millisecond, false},
		{"429 Retry-After header", httpErr(429, http.Header{"Retry-After": {"2"}}, "M_LIMIT_EXCEEDED", nil), 2 * time.Second, false},
		{"429 without a delay", httpErr(429, nil, "", nil), backoff, false},
		{"M_LIMIT_EXCEEDED on another status", httpErr(400, nil, "M_LIMIT_EXCEEDED", retryMS), 150 * time.Millisecond, false},
		{"500", httpErr(500, nil, "M_UNKNOWN", nil), backoff, false},
		{"502 from a proxy", httpErr(502, nil, "", nil), backoff, false},
		{"503", httpErr(503, nil, "", nil), backoff, false},
		{"401", httpErr(401, nil, "M_UNKNOWN_TOKEN", nil), backoff, false},
		{"408", httpErr(408, nil, "", nil), backoff, false},
		{"400", httpErr(400, nil, "M_BAD_JSON", nil), 0, true},
		{"403", httpErr(403, nil, "M_FORBIDDEN", nil), 0, true},
		{"404", httpErr(404, nil, "M_NOT_FOUND", nil), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, permanent := classifySendError(tt.err, backoff)
			if permanent != tt.permanent {
				t.Errorf("permanent = %v, want %v", permanent, tt.permanent)
			}
			if !tt.permanent && wait != tt.wait {
				t.Errorf("wait = %v, want %v", wait, tt.wait)
			}
		})
	}
}

// TestCrashCutSendIsNotSentTwice: a message Steward was sending when it died may still
// be on its way into the homeserver after the restart, so it does not show in the first
// sync. The sender waits a moment after that sync; when the message comes down the sync
// meanwhile, it is marked sent and never sent again.
func TestCrashCutSendIsNotSentTwice(t *testing.T) {
	ob := openOutbox(t)
	msgID := queue(t, ob, opsRoom, "Pong!")
	if err := ob.MarkSending(t.Context(), msgID); err != nil { // the send a crash cut off
		t.Fatal(err)
	}
	msg, err := ob.Next(t.Context())
	if err != nil || msg == nil || msg.ID != msgID {
		t.Fatalf("Next = %+v, %v; want the message caught mid-send", msg, err)
	}
	hs := &fakeHomeserver{t: t, answer: func(int, sendRequest) (int, string) { return http.StatusOK, "" }}
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	client, err := mautrix.NewClient(srv.URL, "@steward:example.org", "token")
	if err != nil {
		t.Fatal(err)
	}
	synced := make(chan struct{})
	sender := &outboxSender{client: client, outbox: ob, wakeup: make(chan struct{}, 1), sleep: service.Sleep, poll: 50 * time.Millisecond,
		synced: synced, settle: time.Second}
	ctx, cancel := context.WithCancel(zerolog.Nop().WithContext(t.Context()))
	done := make(chan struct{})
	go func() { defer close(done); sender.run(ctx) }()

	// The first sync comes without it; the homeserver finishes the cut-off request
	// just after, and the next sync brings the event back.
	close(synced)
	time.Sleep(100 * time.Millisecond)
	if found, err := ob.MarkSentByTxn(t.Context(), msg.TxnID, "$sent-before-the-crash"); err != nil {
		t.Fatal(err)
	} else if !found {
		t.Fatal("the message was sent again before the sync could bring its event back")
	}
	time.Sleep(1500 * time.Millisecond) // past the settle time, and a few polls
	cancel()
	<-done
	if requests, _ := hs.seen(); len(requests) != 0 {
		t.Errorf("the message was sent again %d times after its event came back", len(requests))
	}
}

// A message too large for the homeserver is shortened with a note before it is
// queued, never lost: a reply, an edit (which carries its text twice) and a long
// single line alike.
func TestOutboxShortensTooLargeMessages(t *testing.T) {
	ob := openOutbox(t)
	o := &Outbox{store: ob, wake: make(chan struct{}, 1)}
	ctx := zerolog.Nop().WithContext(t.Context())
	rows := make([][]string, 2000)
	for i := range rows {
		rows[i] = []string{fmt.Sprintf("container-%04d", i), "running", "nginx:1.27 <healthy>"}
	}
	big := render.New("Containers").Table([]string{"name", "state", "image"}, rows)
	if big.Fits() {
		t.Fatal("the test message should be too large")
	}
	msgID, err := o.Post(ctx, opsRoom, "$cmd", "", big)
	if err != nil {
		t.Fatal(err)
	}
	if err = o.Edit(ctx, opsRoom, msgID, big); err != nil {
		t.Fatal(err)
	}
	if err = o.Send(ctx, opsRoom, render.New(strings.Repeat("<", 40000)).Notice()); err != nil {
		t.Fatal(err)
	}
	for id := msgID; id < msgID+3; id++ {
		m := getMessage(t, ob, id)
		var content event.MessageEventContent
		if err := json.Unmarshal(m.Content, &content); err != nil {
			t.Fatal(err)
		}
		if len(m.Content) > render.MaxContent {
			t.Errorf("message %d queued with %d bytes, over %d", id, len(m.Content), render.MaxContent)
		}
		if content.NewContent != nil {
			content = *content.NewContent // an edit's text
		}
		if !strings.Contains(content.Body, "too long for Matrix") {
			t.Errorf("message %d has no note that it was cut: …%s", id, content.Body[max(0, len(content.Body)-200):])
		}
	}
	var first event.MessageEventContent
	_ = json.Unmarshal(getMessage(t, ob, msgID).Content, &first)
	if !strings.HasPrefix(first.Body, "Containers") || !strings.Contains(first.Body, "container-0000") || first.RelatesTo.GetReplyTo() != "$cmd" {
		t.Errorf("the shortened reply lost its start or its reply: %.200s", first.Body)
	}
}

// A message refused for its size is told in the admin room, also when it was for the
// admin room itself.
func TestOutboxReportsMessageRefusedAsTooLarge(t *testing.T) {
	ob := openOutbox(t)
	o := &Outbox{store: ob, wake: make(chan struct{}, 1), adminRoom: opsRoom}
	ctx := zerolog.Nop().WithContext(t.Context())
	tooBig := mautrix.HTTPError{Response: &http.Response{StatusCode: http.StatusRequestEntityTooLarge},
		RespError: &mautrix.RespError{ErrCode: "M_TOO_LARGE", Err: "event too large"}}
	for _, room := range []id.RoomID{opsRoom, "!chat:example.org"} {
		o.reportRefused(ctx, &state.OutboxMessage{RoomID: room, Content: []byte(`{"body":"…"}`)}, tooBig)
	}
	o.reportRefused(ctx, &state.OutboxMessage{RoomID: opsRoom}, mautrix.HTTPError{Response: &http.Response{StatusCode: http.StatusForbidden}})
	var bodies []string
	for {
		m, err := ob.Next(ctx)
		if err != nil || m == nil {
			break
		}
		var content event.MessageEventContent
		_ = json.Unmarshal(m.Content, &content)
		bodies = append(bodies, content.Body)
		if err := ob.MarkSent(ctx, m.ID, "$x"); err != nil {
			t.Fatal(err)
		}
	}
	if len(bodies) != 2 || !strings.Contains(bodies[0], "to this room: the homeserver refused it as too large") ||
		!strings.Contains(bodies[1], "!chat:example.org") || !strings.Contains(bodies[1], "too large") {
		t.Errorf("admin room told %q", bodies)
	}
}

// What the commands built to fit (render's Fits, FitsEdit) is never cut again by the
// outbox's net: the listing cut at whole rows, as a reply in a ticket's thread too,
// and an alert's message edited as its state changes keep their table and all their
// rows. The net only catches what nobody measured.
func TestOutboxDoesNotCutWhatFits(t *testing.T) {
	ob := openOutbox(t)
	o := &Outbox{store: ob, wake: make(chan struct{}, 1)}
	ctx := zerolog.Nop().WithContext(t.Context())
	// The largest listing that fits, and the largest that fits an edit: a row short
	// of the limit.
	largest := func(fits func(*render.Message) bool) *render.Message {
		var rows [][]string
		var last *render.Message
		for i := 0; ; i++ {
			rows = append(rows, []string{fmt.Sprintf("container-%04d", i), "running", "nginx:1.27"})
			msg := render.New("Containers").Table([]string{"name", "state", "image"}, rows)
			if !fits(msg) {
				return last
			}
			last = msg
		}
	}
	listing := largest((*render.Message).Fits)
	alert := largest((*render.Message).FitsEdit)
	msgID := must(o.Post(ctx, opsRoom, "$cmd", "", listing))(t)
	if err := o.Reply(ctx, opsRoom, "$cmd2", "$thread_root_event_id_as_long_as_a_homeservers", listing); err != nil {
		t.Fatal(err)
	}
	if err := o.Edit(ctx, opsRoom, msgID, alert); err != nil {
		t.Fatal(err)
	}
	for id := msgID; id < msgID+3; id++ {
		var content event.MessageEventContent
		if err := json.Unmarshal(getMessage(t, ob, id).Content, &content); err != nil {
			t.Fatal(err)
		}
		if content.NewContent != nil {
			content = *content.NewContent
		}
		if strings.Contains(content.Body, "too long for Matrix") || content.FormattedBody == "" {
			t.Errorf("message %d, made to fit, was cut again by the outbox: …%s", id, content.Body[max(0, len(content.Body)-200):])
		}
	}
}
