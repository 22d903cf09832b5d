package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
	"github.com/steward-bot/steward/state/upgrades"
)

const room = id.RoomID("!ops:example.org")

func openAt(t testing.TB, path string) *state.DB {
	t.Helper()
	db, err := state.Open(t.Context(), path, zerolog.Nop())
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return db
}

func openTemp(t testing.TB) *state.DB {
	t.Helper()
	db := openAt(t, filepath.Join(t.TempDir(), "steward.db"))
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// must turns a (value, error) result into the value, failing t on error:
// must(kv.Get(ctx, key))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func notice(body string) *event.MessageEventContent {
	return &event.MessageEventContent{MsgType: event.MsgNotice, Body: body}
}

func bodyOf(t *testing.T, m *state.OutboxMessage) string {
	t.Helper()
	var c event.MessageEventContent
	if err := json.Unmarshal(m.Content, &c); err != nil {
		t.Fatalf("outbox message %d content %s: %v", m.ID, m.Content, err)
	}
	return c.Body
}

// A restart must not lose the sync position, a command that arrived but did not run,
// or a reply that was not yet delivered.
func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "steward.db")

	db := openAt(t, path)
	var version int
	if err := db.Raw.QueryRow(ctx, "SELECT version FROM steward_version").Scan(&version); err != nil {
		t.Fatalf("reading migration version: %v", err)
	}
	if want := len(upgrades.Table); version != want {
		t.Fatalf("migration version = %d after Open, want %d", version, want)
	}
	if err := db.KV.Set(ctx, state.KeyNextBatch, "s72594_4483_1934"); err != nil {
		t.Fatal(err)
	}
	must(db.Inbox.Record(ctx, &state.InboxEntry{
		EventID: "$cmd", RoomID: room, Sender: "@alice:example.org", Body: "!restart web",
		SentAt: time.UnixMilli(1000), ReceivedAt: time.UnixMilli(2000),
	}))(t)
	msgID := must(db.Outbox.Add(ctx, room, event.EventMessage, notice("web restarted"), ""))(t)
	txnID := must(db.Outbox.Get(ctx, msgID))(t).TxnID
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path) // migrations must not run again or fail on an existing file
	defer db.Close()
	if got := must(db.KV.Get(ctx, state.KeyNextBatch))(t); got != "s72594_4483_1934" {
		t.Errorf("sync token after reopen = %q, want %q", got, "s72594_4483_1934")
	}
	pending := must(db.Inbox.InState(ctx, state.InboxReceived))(t)
	if len(pending) != 1 || pending[0].EventID != "$cmd" || pending[0].Body != "!restart web" {
		t.Errorf("received commands after reopen = %v, want only $cmd", inboxIDs(pending))
	}
	next := must(db.Outbox.Next(ctx))(t)
	if next == nil || next.ID != msgID || next.TxnID != txnID || bodyOf(t, next) != "web restarted" {
		t.Errorf("outbox head after reopen = %s, want message %d with txn %s", describe(next), msgID, txnID)
	}
}

func TestKV(t *testing.T) {
	ctx := t.Context()
	kv := openTemp(t).KV

	if got := must(kv.Get(ctx, "never.set"))(t); got != "" {
		t.Errorf("Get(missing) = %q, want empty", got)
	}

	check(t, kv.Set(ctx, state.KeyFilterID, "1"))
	check(t, kv.Set(ctx, state.KeyFilterID, "2"))
	if got := must(kv.Get(ctx, state.KeyFilterID))(t); got != "2" {
		t.Errorf("Get after two Sets = %q, want the second value %q", got, "2")
	}

	if !must(kv.SetOnce(ctx, "warned.no_backup", "a"))(t) {
		t.Error("first SetOnce = false, want true")
	}
	if must(kv.SetOnce(ctx, "warned.no_backup", "b"))(t) {
		t.Error("second SetOnce = true, want false (the warning would be repeated)")
	}
	if got := must(kv.Get(ctx, "warned.no_backup"))(t); got != "a" {
		t.Errorf("value after second SetOnce = %q, want the first value %q", got, "a")
	}

}

func TestInboxRecordIsOncePerEvent(t *testing.T) {
	ctx := t.Context()
	in := openTemp(t).Inbox
	e := &state.InboxEntry{EventID: "$a", RoomID: room, Sender: "@alice:example.org", Body: "!status",
		SentAt: time.UnixMilli(1000), ReceivedAt: time.UnixMilli(1001)}

	if !must(in.Record(ctx, e))(t) {
		t.Fatal("first Record = false, want true")
	}
	redelivered := *e
	redelivered.Body = "!status --changed"
	if must(in.Record(ctx, &redelivered))(t) {
		t.Error("Record of a re-delivered event = true, want false (the command would run twice)")
	}
	if got := must(in.Get(ctx, "$a"))(t); got.Body != "!status" {
		t.Errorf("body after re-delivery = %q, want the original %q", got.Body, "!status")
	}
	if got := must(in.Get(ctx, "$missing"))(t); got != nil {
		t.Errorf("Get(missing) = %+v, want nil", got)
	}
}

func TestInboxClaimExactlyOnce(t *testing.T) {
	ctx := t.Context()
	in := openTemp(t).Inbox
	must(in.Record(ctx, &state.InboxEntry{EventID: "$a", RoomID: room, Sender: "@alice:example.org",
		Body: "!update all", SentAt: time.UnixMilli(1), ReceivedAt: time.UnixMilli(2)}))(t)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
		errs []error
	)
	start := make(chan struct{})
	for range 10 {
		wg.Go(func() {
			<-start
			won, err := in.Claim(ctx, "$a")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if won {
				wins++
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent Claim errors: %v", errs)
	}
	if wins != 1 {
		t.Fatalf("%d of 10 concurrent Claims won, want exactly 1", wins)
	}
	if got := must(in.Get(ctx, "$a"))(t).State; got != state.InboxStarted {
		t.Errorf("state after Claim = %q, want %q", got, state.InboxStarted)
	}

	check(t, in.Finish(ctx, "$a", state.OutcomeOK))
	got := must(in.Get(ctx, "$a"))(t)
	if got.State != state.InboxDone || got.Outcome != state.OutcomeOK {
		t.Errorf("after Finish: state=%q outcome=%q, want %q %q", got.State, got.Outcome, state.InboxDone, state.OutcomeOK)
	}
	if must(in.Claim(ctx, "$a"))(t) {
		t.Error("Claim of a finished command = true, want false")
	}
	if must(in.Claim(ctx, "$never-recorded"))(t) {
		t.Error("Claim of an unknown event = true, want false")
	}
}

func TestInboxInStateOldestFirst(t *testing.T) {
	ctx := t.Context()
	in := openTemp(t).Inbox
	// Recorded out of order, as events of different rooms can arrive in one sync.
	for _, e := range []struct {
		id     id.EventID
		sentAt int64
	}{{"$b", 2000}, {"$c", 3000}, {"$a", 1000}, {"$d", 4000}} {
		must(in.Record(ctx, &state.InboxEntry{EventID: e.id, RoomID: room, Sender: "@alice:example.org",
			Body: "!ps", SentAt: time.UnixMilli(e.sentAt), ReceivedAt: time.UnixMilli(5000)}))(t)
	}
	must(in.Claim(ctx, "$c"))(t)

	var got []id.EventID
	for _, e := range must(in.InState(ctx, state.InboxReceived))(t) {
		got = append(got, e.EventID)
	}
	want := []id.EventID{"$a", "$b", "$d"}
	if !slices.Equal(got, want) {
		t.Errorf("InState(received) = %v, want %v", got, want)
	}
	started := must(in.InState(ctx, state.InboxStarted))(t)
	if len(started) != 1 || started[0].EventID != "$c" {
		t.Errorf("InState(started) = %v, want only $c", inboxIDs(started))
	}
}

func TestInboxFieldsRoundTrip(t *testing.T) {
	ctx := t.Context()
	in := openTemp(t).Inbox
	sent := time.Date(2025, 3, 1, 12, 0, 0, 123_456_789, time.UTC)
	received := sent.Add(1500*time.Millisecond + 999*time.Microsecond)
	want := state.InboxEntry{
		EventID:    "$cmd",
		RoomID:     room,
		Sender:     "@alice:example.org",
		DeviceID:   "ALICEPHONE",
		Trust:      id.TrustStateBlacklisted,
		Encrypted:  true,
		ThreadRoot: "$root",
		Body:       "!logs web --since 1h",
		SentAt:     sent,
		ReceivedAt: received,
	}
	must(in.Record(ctx, &want))(t)
	got := must(in.Get(ctx, "$cmd"))(t)

	want.SentAt = sent.Truncate(time.Millisecond)
	want.ReceivedAt = received.Truncate(time.Millisecond)
	want.State = state.InboxReceived
	if !got.SentAt.Equal(want.SentAt) || !got.ReceivedAt.Equal(want.ReceivedAt) {
		t.Errorf("times = %v / %v, want %v / %v", got.SentAt, got.ReceivedAt, want.SentAt, want.ReceivedAt)
	}
	got.SentAt, got.ReceivedAt = want.SentAt, want.ReceivedAt
	if *got != want {
		t.Errorf("round trip:\n got %+v\nwant %+v", *got, want)
	}

	// The other values of the booleans and enums must survive too.
	plain := state.InboxEntry{EventID: "$plain", RoomID: room, Sender: "@bob:example.org", Body: "!help",
		Trust: id.TrustStateCrossSignedVerified, SentAt: sent, ReceivedAt: sent}
	must(in.Record(ctx, &plain))(t)
	got = must(in.Get(ctx, "$plain"))(t)
	if got.Encrypted || got.Trust != id.TrustStateCrossSignedVerified || got.ThreadRoot != "" || got.DeviceID != "" {
		t.Errorf("plain entry read back as encrypted=%v trust=%v thread=%q device=%q", got.Encrypted, got.Trust, got.ThreadRoot, got.DeviceID)
	}
}

func TestOutboxQueueOrder(t *testing.T) {
	ctx := t.Context()
	ob := openTemp(t).Outbox

	if got := must(ob.Next(ctx))(t); got != nil {
		t.Fatalf("Next on an empty outbox = %s, want nil", describe(got))
	}
	before := time.Now().Truncate(time.Millisecond)
	var ids []int64
	txns := map[string]bool{}
	for _, body := range []string{"first", "second", "third"} {
		ids = append(ids, must(ob.Add(ctx, room, event.EventMessage, notice(body), ""))(t))
	}
	for i, msgID := range ids {
		m := must(ob.Get(ctx, msgID))(t)
		if i > 0 && msgID <= ids[i-1] {
			t.Errorf("IDs %v are not increasing", ids)
		}
		if m.TxnID == "" || txns[m.TxnID] {
			t.Errorf("message %d txn ID %q is empty or reused", msgID, m.TxnID)
		}
		txns[m.TxnID] = true
		if m.State != state.OutboxQueued || m.Attempts != 0 || m.RoomID != room || m.Type.Type != event.EventMessage.Type {
			t.Errorf("new message %d = %s, want queued m.room.message for %s with no attempts", msgID, describe(m), room)
		}
		if m.CreatedAt.Before(before) || m.CreatedAt.After(time.Now()) {
			t.Errorf("message %d CreatedAt = %v, want around now", msgID, m.CreatedAt)
		}
	}
	if n := must(ob.Queued(ctx))(t); n != 3 {
		t.Errorf("Queued = %d, want 3", n)
	}

	head := must(ob.Next(ctx))(t)
	if head.ID != ids[0] || bodyOf(t, head) != "first" {
		t.Fatalf("Next = %d %q, want the oldest (%d \"first\")", head.ID, bodyOf(t, head), ids[0])
	}

	// A rate limit or an outage keeps the message at the head, with the same txn ID.
	check(t, ob.MarkAttempt(ctx, head.ID, errString("M_LIMIT_EXCEEDED (HTTP 429): Too many requests")))
	check(t, ob.MarkAttempt(ctx, head.ID, errString("HTTP 502")))
	retry := must(ob.Next(ctx))(t)
	if retry.ID != head.ID || retry.TxnID != head.TxnID {
		t.Fatalf("Next after MarkAttempt = %d (txn %s), want %d (txn %s) again", retry.ID, retry.TxnID, head.ID, head.TxnID)
	}
	if retry.Attempts != 2 || retry.LastError != "HTTP 502" || retry.State != state.OutboxQueued {
		t.Errorf("after two attempts: attempts=%d last_error=%q state=%q, want 2 %q %q", retry.Attempts, retry.LastError, retry.State, "HTTP 502", state.OutboxQueued)
	}

	check(t, ob.MarkSent(ctx, head.ID, "$first"))
	sent := must(ob.Get(ctx, head.ID))(t)
	if sent.State != state.OutboxSent || sent.EventID != "$first" || sent.LastError != "" || sent.Attempts != 3 {
		t.Errorf("after MarkSent = %s, want sent as $first, error cleared, 3 attempts", describe(sent))
	}
	next := must(ob.Next(ctx))(t)
	if next.ID != ids[1] || bodyOf(t, next) != "second" {
		t.Fatalf("Next after MarkSent = %d %q, want %d \"second\"", next.ID, bodyOf(t, next), ids[1])
	}

	check(t, ob.MarkFailed(ctx, next.ID, errString("M_FORBIDDEN (HTTP 403): not in room")))
	failed := must(ob.Get(ctx, next.ID))(t)
	if failed.State != state.OutboxFailed || failed.LastError != "M_FORBIDDEN (HTTP 403): not in room" {
		t.Errorf("after MarkFailed = %s, want failed with the error kept", describe(failed))
	}
	last := must(ob.Next(ctx))(t)
	if last.ID != ids[2] {
		t.Fatalf("Next after MarkFailed = %d, want %d (a refused message must not block the queue)", last.ID, ids[2])
	}
	if n := must(ob.Queued(ctx))(t); n != 1 {
		t.Errorf("Queued = %d, want 1", n)
	}
	check(t, ob.MarkSent(ctx, last.ID, "$third"))
	if got := must(ob.Next(ctx))(t); got != nil {
		t.Errorf("Next after everything is sent or failed = %s, want nil", describe(got))
	}
	if n := must(ob.Queued(ctx))(t); n != 0 {
		t.Errorf("Queued = %d, want 0", n)
	}
	if got := must(ob.Get(ctx, 9999))(t); got != nil {
		t.Errorf("Get(unknown) = %s, want nil", describe(got))
	}
}

func TestOutboxContentRoundTrip(t *testing.T) {
	ctx := t.Context()
	ob := openTemp(t).Outbox
	content := &event.MessageEventContent{
		MsgType:       event.MsgNotice,
		Body:          "web: restarted (exit 137 → 0) ✓",
		Format:        event.FormatHTML,
		FormattedBody: "<b>web</b>: restarted &amp; healthy",
		Mentions:      &event.Mentions{},
		RelatesTo:     (&event.RelatesTo{}).SetThread("$root", "$cmd"),
	}
	msgID := must(ob.Add(ctx, room, event.EventMessage, content, ""))(t)
	m := must(ob.Get(ctx, msgID))(t)

	want := must(json.Marshal(content))(t)
	var gotV, wantV map[string]any
	check(t, json.Unmarshal(m.Content, &gotV))
	check(t, json.Unmarshal(want, &wantV))
	// The content also carries its transaction ID, so Steward knows it when it reads
	// the message back from room history.
	if got := state.TxnMarker(m.Content); got != m.TxnID {
		t.Errorf("content carries transaction ID %q, want %q", got, m.TxnID)
	}
	delete(gotV, state.TxnMarkerKey)
	if string(must(json.Marshal(gotV))(t)) != string(must(json.Marshal(wantV))(t)) {
		t.Errorf("content read back as\n%s\nwant\n%s", m.Content, want)
	}

	if _, err := ob.Add(ctx, room, event.EventMessage, func() {}, ""); err == nil {
		t.Error("Add of content that cannot be encoded succeeded, want an error")
	}
	if n := must(ob.Queued(ctx))(t); n != 1 {
		t.Errorf("Queued after a failed Add = %d, want 1", n)
	}
}

func TestAudit(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	au := db.Audit

	before := time.Now().Truncate(time.Millisecond)
	cmd := &state.AuditEntry{Actor: "@alice:example.org", ActorDevice: "ALICEPHONE", RoomID: room, EventID: "$cmd",
		Action: "restart", Arguments: "web", Outcome: state.OutcomeOK}
	cmdID := must(au.Append(ctx, cmd))(t)
	if cmdID == 0 || cmd.ID != cmdID {
		t.Fatalf("Append returned %d and set ID %d, want the same non-zero ID", cmdID, cmd.ID)
	}
	if cmd.Time.Before(before) || cmd.Time.After(time.Now()) {
		t.Errorf("zero Time was set to %v, want now", cmd.Time)
	}

	fixed := time.Date(2025, 3, 1, 12, 0, 0, 250_000_000, time.UTC)
	result := &state.AuditEntry{Time: fixed, Actor: "@steward:example.org", RoomID: room, EventID: "$cmd",
		Action: "restart.result", Outcome: state.OutcomeError, Detail: "exit 1", ParentID: cmdID}
	resultID := must(au.Append(ctx, result))(t)
	if resultID <= cmdID {
		t.Errorf("second Append ID %d is not after %d", resultID, cmdID)
	}
	if !result.Time.Equal(fixed) {
		t.Errorf("Append changed a set Time to %v", result.Time)
	}
	other := &state.AuditEntry{Actor: "@bob:example.org", EventID: "$other", Action: "ps", Outcome: state.OutcomeRefused}
	otherID := must(au.Append(ctx, other))(t)

	var nulls int
	check(t, db.Raw.QueryRow(ctx, "SELECT COUNT(*) FROM audit WHERE parent_id IS NULL").Scan(&nulls))
	if nulls != 2 {
		t.Errorf("%d rows have a NULL parent_id, want 2 (ParentID 0 must be stored as NULL)", nulls)
	}

	forCmd := must(au.ForEvent(ctx, "$cmd"))(t)
	if len(forCmd) != 2 {
		t.Fatalf("ForEvent($cmd) returned %d entries, want 2", len(forCmd))
	}
	if forCmd[0].ID != cmdID || forCmd[1].ID != resultID {
		t.Errorf("ForEvent($cmd) IDs = %d, %d, want %d, %d (oldest first)", forCmd[0].ID, forCmd[1].ID, cmdID, resultID)
	}
	if forCmd[0].ParentID != 0 {
		t.Errorf("command entry ParentID = %d, want 0", forCmd[0].ParentID)
	}
	gotResult := forCmd[1]
	if gotResult.ParentID != cmdID || !gotResult.Time.Equal(fixed) || gotResult.Detail != "exit 1" ||
		gotResult.Outcome != state.OutcomeError || gotResult.Action != "restart.result" {
		t.Errorf("result entry read back as %+v, want %+v", gotResult, result)
	}
	gotCmd := forCmd[0]
	if gotCmd.ActorDevice != "ALICEPHONE" || gotCmd.Arguments != "web" || gotCmd.RoomID != room || gotCmd.Actor != "@alice:example.org" {
		t.Errorf("command entry read back as %+v, want %+v", gotCmd, cmd)
	}
	if got := must(au.ForEvent(ctx, "$nothing"))(t); len(got) != 0 {
		t.Errorf("ForEvent of an unknown event = %v, want none", auditIDs(got))
	}

	recent := must(au.Find(ctx, state.AuditFilter{Limit: 2}))(t)
	if len(recent) != 2 || recent[0].ID != otherID || recent[1].ID != resultID {
		t.Errorf("Find(limit 2) = %v, want IDs [%d %d] (newest first)", auditIDs(recent), otherID, resultID)
	}
	if all := must(au.Find(ctx, state.AuditFilter{Limit: 10}))(t); len(all) != 3 {
		t.Errorf("Find(limit 10) returned %d entries, want all 3", len(all))
	}
}

func inboxIDs(entries []*state.InboxEntry) []id.EventID {
	ids := make([]id.EventID, len(entries))
	for i, e := range entries {
		ids[i] = e.EventID
	}
	return ids
}

// describe prints an outbox message readably (its content is raw JSON bytes).
func describe(m *state.OutboxMessage) string {
	if m == nil {
		return "<nil>"
	}
	return fmt.Sprintf("{id=%d room=%s type=%s state=%s attempts=%d event=%s error=%q txn=%s content=%s}",
		m.ID, m.RoomID, m.Type.Type, m.State, m.Attempts, m.EventID, m.LastError, m.TxnID, m.Content)
}

func auditIDs(entries []*state.AuditEntry) []int64 {
	ids := make([]int64, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids
}

type errString string

func (e errString) Error() string { return string(e) }

// TestOutboxSendCutOffByACrash: a message caught mid-send stays at the head of the
// queue (it may or may not have reached the homeserver), and once the sync shows it
// arrived under its transaction ID it is marked sent and not delivered again.
func TestOutboxSendCutOffByACrash(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "steward.db")
	db := openAt(t, path)
	first := must(db.Outbox.Add(ctx, room, event.EventMessage, notice("first"), ""))(t)
	must(db.Outbox.Add(ctx, room, event.EventMessage, notice("second"), ""))(t)
	check(t, db.Outbox.MarkSending(ctx, first))
	check(t, db.Close()) // the crash

	db = openAt(t, path)
	defer db.Close()
	head := must(db.Outbox.Next(ctx))(t)
	if head == nil || head.ID != first || head.State != state.OutboxSending {
		t.Fatalf("head after the crash = %+v, want message %d in state sending", head, first)
	}
	if n := must(db.Outbox.Queued(ctx))(t); n != 2 {
		t.Errorf("Queued = %d, want 2 (the cut-off send still counts)", n)
	}
	if !must(db.Outbox.MarkSentByTxn(ctx, head.TxnID, "$arrived"))(t) {
		t.Fatal("MarkSentByTxn did not find the cut-off message")
	}
	if must(db.Outbox.MarkSentByTxn(ctx, head.TxnID, "$arrived"))(t) {
		t.Error("MarkSentByTxn matched an already sent message again")
	}
	if got := must(db.Outbox.Get(ctx, first))(t); got.State != state.OutboxSent || got.EventID != "$arrived" {
		t.Errorf("cut-off message = %s %s, want sent as $arrived", got.State, got.EventID)
	}
	if next := must(db.Outbox.Next(ctx))(t); next == nil || bodyOf(t, next) != "second" {
		t.Errorf("next = %+v, want the second message", next)
	}
	// A failed attempt puts a message back in the queue.
	next := must(db.Outbox.Next(ctx))(t)
	check(t, db.Outbox.MarkSending(ctx, next.ID))
	check(t, db.Outbox.MarkAttempt(ctx, next.ID, errors.New("homeserver away")))
	if again := must(db.Outbox.Next(ctx))(t); again.ID != next.ID || again.State != state.OutboxQueued {
		t.Errorf("after a failed attempt: %+v, want message %d queued", again, next.ID)
	}
}

// TestUndecryptedKeepsEventsAcrossRestarts: a message waiting for its room key
// survives a restart intact (so it can be decrypted then), is forgotten once handled,
// and expires after a while.
func TestUndecryptedKeepsEventsAcrossRestarts(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "steward.db")
	db := openAt(t, path)
	evt := &event.Event{
		ID: "$late", RoomID: room, Sender: "@alice:example.org", Type: event.EventEncrypted, Timestamp: 1700000000000,
		Content: event.Content{Parsed: &event.EncryptedEventContent{Algorithm: id.AlgorithmMegolmV1, SessionID: "sess", MegolmCiphertext: []byte("AwgA")}},
	}
	check(t, db.Undecrypted.Add(ctx, evt))
	check(t, db.Undecrypted.Add(ctx, evt)) // seen again in a re-fetched batch
	check(t, db.Close())

	db = openAt(t, path)
	defer db.Close()
	kept := must(db.Undecrypted.All(ctx))(t)
	if len(kept) != 1 {
		t.Fatalf("kept %d events, want 1", len(kept))
	}
	got := kept[0]
	if got.ID != evt.ID || got.RoomID != room || got.Sender != evt.Sender || got.Timestamp != evt.Timestamp {
		t.Errorf("kept event = %+v, want the original", got)
	}
	if c := got.Content.AsEncrypted(); c.SessionID != "sess" || string(c.MegolmCiphertext) != "AwgA" {
		t.Errorf("kept content = %+v, want the original ciphertext", c)
	}
	check(t, db.Undecrypted.Expire(ctx, time.Now().Add(-time.Hour)))
	if n := len(must(db.Undecrypted.All(ctx))(t)); n != 1 {
		t.Errorf("a fresh event expired: %d left", n)
	}
	check(t, db.Undecrypted.Forget(ctx, evt.ID))
	if n := len(must(db.Undecrypted.All(ctx))(t)); n != 0 {
		t.Errorf("%d events left after Forget, want 0", n)
	}
	check(t, db.Undecrypted.Add(ctx, evt))
	check(t, db.Undecrypted.Expire(ctx, time.Now().Add(time.Hour)))
	if n := len(must(db.Undecrypted.All(ctx))(t)); n != 0 {
		t.Errorf("%d events left after expiry, want 0", n)
	}
}

// A worker told about a new row must be told after the row is committed, not before
// (it would look too early and miss it), and not at all when the transaction fails.
func TestAfterCommit(t *testing.T) {
	ctx := t.Context()
	db := openAt(t, filepath.Join(t.TempDir(), "steward.db"))
	var order []string
	err := db.DoTxn(ctx, func(ctx context.Context) error {
		state.AfterCommit(ctx, func() { order = append(order, "hook") })
		err := db.DoTxn(ctx, func(ctx context.Context) error { // joins the outer one
			state.AfterCommit(ctx, func() { order = append(order, "inner hook") })
			return nil
		})
		order = append(order, "body")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ", "); got != "body, hook, inner hook" {
		t.Errorf("order = %s, want the hooks after the transaction's body, once it committed", got)
	}
	order = nil
	_ = db.DoTxn(ctx, func(ctx context.Context) error {
		state.AfterCommit(ctx, func() { order = append(order, "hook") })
		return errors.New("rolled back")
	})
	if len(order) != 0 {
		t.Errorf("a hook ran for a transaction that failed: %v", order)
	}
	state.AfterCommit(ctx, func() { order = append(order, "now") })
	if len(order) != 1 {
		t.Error("outside a transaction, the hook did not run at once")
	}
}
