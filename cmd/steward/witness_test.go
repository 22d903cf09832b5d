package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/state"
)

// TestParseAuditArgs: --room belongs to verify, --format and --output to export, and
// anything else is a usage error (exit 2) rather than silently ignored.
func TestParseAuditArgs(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want auditOptions
	}{
		{[]string{"verify"}, 0, auditOptions{verb: "verify", config: "steward.yaml"}},
		{[]string{"verify", "--room", "-c", "s.yaml"}, 0, auditOptions{verb: "verify", config: "s.yaml", room: true}},
		{[]string{"verify", "--config", "s.yaml", "--room=false"}, 0, auditOptions{verb: "verify", config: "s.yaml"}},
		{[]string{"export", "--format", "csv", "--output", "log.csv"}, 0, auditOptions{verb: "export", config: "steward.yaml", format: "csv", output: "log.csv"}},
		{[]string{"export"}, 0, auditOptions{verb: "export", config: "steward.yaml", format: "jsonl"}},
		{[]string{"export", "--room"}, 2, auditOptions{}},
		{[]string{"verify", "--format", "csv"}, 2, auditOptions{}},
		{[]string{"verify", "room"}, 2, auditOptions{}},
		{[]string{"export", "--format", "xml"}, 2, auditOptions{}},
		{[]string{"rewrite"}, 2, auditOptions{}},
		{nil, 2, auditOptions{}},
	}
	t.Setenv("STEWARD_CONFIG", "")
	for _, tt := range tests {
		var stderr strings.Builder
		got, code := parseAuditArgs(tt.args, &stderr)
		if code != tt.code || got != tt.want {
			t.Errorf("parseAuditArgs(%q) = %+v, %d; want %+v, %d", tt.args, got, code, tt.want, tt.code)
		}
		if code != 0 && stderr.Len() == 0 {
			t.Errorf("parseAuditArgs(%q) failed without saying why", tt.args)
		}
	}
}

// fakeHomeserver answers whoami for one access token and serves the admin room's
// history, newest first, and records every request, so a test can tell what the
// witness asked of the homeserver.
type fakeHomeserver struct {
	token  string
	events []map[string]any // oldest first

	mu       sync.Mutex
	requests []string
}

func (f *fakeHomeserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errcode":"M_UNKNOWN_TOKEN","error":"Unknown token"}`)
		return
	}
	switch r.URL.Path {
	case "/_matrix/client/v3/account/whoami":
		fmt.Fprint(w, `{"user_id":"@steward:example.org","device_id":"STEWARDDEV"}`)
	case "/_matrix/client/v3/rooms/!admins:example.org/messages":
		chunk := slices.Clone(f.events)
		slices.Reverse(chunk)
		_ = json.NewEncoder(w).Encode(map[string]any{"chunk": chunk, "start": "s1", "end": ""})
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`)
	}
}

func (f *fakeHomeserver) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// checkpointEvent is a checkpoint message of Steward's as the room holds it (in clear
// here: the fake homeserver has no encryption; the e2e test reads encrypted ones).
func checkpointEvent(eventID string, head state.AuditHead) map[string]any {
	return map[string]any{
		"type": "m.room.message", "event_id": eventID, "sender": "@steward:example.org", "origin_server_ts": 1700000000000,
		"room_id": "!admins:example.org",
		"content": map[string]any{"msgtype": "m.notice", "body": "Decision log checkpoint", "org.steward.checkpoint": head},
	}
}

// witnessFixture is a data_dir as Steward leaves it after its first start (a log, a
// session, a pickle key and an Olm account), and a config pointing at hs.
func witnessFixture(t *testing.T, hs *httptest.Server) (cfgPath string, db *state.DB) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "password", "pw\n")
	cfgPath = writeFile(t, dir, "steward.yaml", strings.Replace(validConfig, "http://127.0.0.1:8008", hs.URL, 1))
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	pickleKey := make([]byte, 32)
	_, _ = rand.Read(pickleKey)
	if err := os.WriteFile(filepath.Join(dataDir, "pickle.key"), pickleKey, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	db, err := state.Open(ctx, filepath.Join(dataDir, "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := crypto.NewSQLCryptoStore(db.Raw, dbutil.NoopLogger, "", "STEWARDDEV", pickleKey)
	if err = store.DB.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	if err = store.PutAccount(ctx, crypto.NewOlmAccount()); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"session.access_token", "syt_secret_token"}, {"session.device_id", "STEWARDDEV"}} {
		if err = db.KV.Set(ctx, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	for range 6 {
		if _, err = db.Audit.Append(ctx, &state.AuditEntry{Actor: "@alice:example.org", Action: "command.ping", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	return cfgPath, db
}

// TestAuditVerifyRoom runs `steward audit verify --room` against a homeserver that
// holds checkpoints of the log: it exits 0 when the log fits them, 1 naming the
// checkpoint once the log is cut back, 1 for a redacted one, counts a message it
// can't decrypt without failing for it, and asks the homeserver
// for nothing but who it is and the room's history: no sync, no key upload, no login.
func TestAuditVerifyRoom(t *testing.T) {
	fake := &fakeHomeserver{token: "syt_secret_token"}
	hs := httptest.NewServer(fake)
	defer hs.Close()
	cfg, db := witnessFixture(t, hs)
	ctx := t.Context()
	for _, entryID := range []int64{2, 4} {
		hash, _ := db.Audit.HashOf(ctx, entryID)
		fake.events = append(fake.events, checkpointEvent(fmt.Sprintf("$cp%d", entryID), state.AuditHead{ID: entryID, Hash: hash}))
	}
	fake.events = append(fake.events, map[string]any{ // one of Steward's replies: not a checkpoint
		"type": "m.room.message", "event_id": "$reply", "sender": "@steward:example.org", "origin_server_ts": 1700000000000,
		"content": map[string]any{"msgtype": "m.notice", "body": "Pong"},
	})

	fake.events = append(fake.events, map[string]any{ // one sealed with a session this database doesn't hold
		"type": "m.room.encrypted", "event_id": "$sealed", "sender": "@steward:example.org", "origin_server_ts": 1700000000000,
		"content": map[string]any{"algorithm": "m.megolm.v1.aes-sha2", "sender_key": "abc", "device_id": "OLDDEVICE",
			"session_id": strings.Repeat("s", 43), "ciphertext": strings.Repeat("A", 80)},
	})

	code, out, errOut := runCLI("audit", "verify", "--room", "--config", cfg)
	if code != 0 || !strings.Contains(out, "intact: 6 entries") || !strings.Contains(out, "fits all 2 checkpoints") ||
		!strings.Contains(out, "One of Steward's messages in the admin room could not be decrypted") ||
		!strings.Contains(out, "Checkpoints: 2 compared, all fit; 1 of Steward's messages unreadable.") {
		t.Fatalf("verify --room on an intact log: exit %d\n%s%s", code, out, errOut)
	}
	for _, req := range fake.Requests() {
		if req != "GET /_matrix/client/v3/account/whoami" && req != "GET /_matrix/client/v3/rooms/!admins:example.org/messages" {
			t.Errorf("the witness asked the homeserver for %s; it must only read", req)
		}
	}
	if strings.Contains(out+errOut, "syt_secret_token") {
		t.Error("the access token reached the output")
	}

	// A log cut back to before the newest checkpoint: still a valid chain.
	if _, err := db.Raw.RawDB.ExecContext(ctx, "DELETE FROM audit WHERE id > 3"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI("audit", "verify", "--room", "--config", cfg)
	if code != 1 || !strings.Contains(out, "intact: 3 entries") || !strings.Contains(errOut, "the checkpoint of entry #4") ||
		!strings.Contains(errOut, "Checkpoints: 2 compared, the checkpoint of entry #4 does not fit; 1 of Steward's messages unreadable.") {
		t.Errorf("verify --room on a cut-back log: exit %d\n%s%s", code, out, errOut)
	}

	// The newest checkpoint redacted: the log fits what is left, and the redaction is
	// the alarm.
	fake.events[1] = map[string]any{
		"type": "m.room.message", "event_id": "$cp4", "sender": "@steward:example.org", "origin_server_ts": 1700000000000, "content": map[string]any{},
		"unsigned": map[string]any{"redacted_because": map[string]any{"type": "m.room.redaction", "sender": "@mallory:example.org", "event_id": "$r", "content": map[string]any{}}},
	}
	code, _, errOut = runCLI("audit", "verify", "--room", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "A decision log checkpoint was redacted: the one posted") || !strings.Contains(errOut, "($cp4)") ||
		!strings.Contains(errOut, "Checkpoints: 1 compared, all fit; 1 REDACTED; 1 of Steward's messages unreadable.") {
		t.Errorf("verify --room with a redacted checkpoint: exit %d\n%s", code, errOut)
	}
}

// TestAuditVerifyRoomCantRead: a revoked token, a homeserver that is down and a
// database Steward never logged in with are each said plainly, with exit 1, after the
// hash chain was checked.
func TestAuditVerifyRoomCantRead(t *testing.T) {
	fake := &fakeHomeserver{token: "another_token"}
	hs := httptest.NewServer(fake)
	cfg, db := witnessFixture(t, hs)
	code, out, errOut := runCLI("audit", "verify", "--room", "--config", cfg)
	if code != 1 || !strings.Contains(out, "intact: 6 entries") || !strings.Contains(errOut, "no longer accepts Steward's access token") {
		t.Errorf("verify --room with a revoked token: exit %d\n%s%s", code, out, errOut)
	}

	hs.Close()
	code, _, errOut = runCLI("audit", "verify", "--room", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "can't read the admin room: the homeserver "+hs.URL+" did not answer") {
		t.Errorf("verify --room with the homeserver down: exit %d\n%s", code, errOut)
	}

	if err := db.KV.Set(t.Context(), "session.access_token", ""); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI("audit", "verify", "--room", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "has not logged in with this database yet") {
		t.Errorf("verify --room before Steward's first start: exit %d\n%s", code, errOut)
	}
}

// TestAuditVerifyRoomHiddenCheckpoints: the two ways someone with the host and
// Steward's access token could hide the checkpoints of a rewritten log from --room
// fail it. A message the current device sent that no longer decrypts lost its key
// from the database (Steward keeps every key it makes); and a message redacted with
// Steward's own account is a possible checkpoint whatever the outbox says, since
// Steward redacts nothing of its own in the admin room and the outbox is the host's.
func TestAuditVerifyRoomHiddenCheckpoints(t *testing.T) {
	fake := &fakeHomeserver{token: "syt_secret_token"}
	hs := httptest.NewServer(fake)
	defer hs.Close()
	cfg, db := witnessFixture(t, hs)
	ctx := t.Context()
	hash, _ := db.Audit.HashOf(ctx, 2)
	sealed := map[string]any{
		"type": "m.room.encrypted", "event_id": "$stripped", "sender": "@steward:example.org", "origin_server_ts": 1700000000000,
		"content": map[string]any{"algorithm": "m.megolm.v1.aes-sha2", "sender_key": "abc", "device_id": "STEWARDDEV",
			"session_id": strings.Repeat("s", 43), "ciphertext": strings.Repeat("A", 80)},
	}
	fake.events = []map[string]any{checkpointEvent("$cp2", state.AuditHead{ID: 2, Hash: hash}), sealed}
	code, out, errOut := runCLI("audit", "verify", "--room", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "The key of one of Steward's messages is gone from its database") ||
		!strings.Contains(errOut, "Checkpoints: 1 compared, all fit; 1 of Steward's messages unreadable (1 KEYS MISSING).") {
		t.Errorf("verify --room with a message of the current device that no longer decrypts: exit %d\n%s%s", code, out, errOut)
	}

	// The outbox, rewritten on the host, says the redacted message was a reply.
	msgID, err := db.Outbox.Add(ctx, "!admins:example.org", event.EventMessage, &event.MessageEventContent{MsgType: event.MsgNotice, Body: "Pong"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err = db.Outbox.MarkSent(ctx, msgID, "$cp4"); err != nil {
		t.Fatal(err)
	}
	redacted := func(by string) map[string]any {
		return map[string]any{
			"type": "m.room.message", "event_id": "$cp4", "sender": "@steward:example.org", "origin_server_ts": 1700000000000, "content": map[string]any{},
			"unsigned": map[string]any{"redacted_because": map[string]any{"type": "m.room.redaction", "sender": by, "event_id": "$r", "content": map[string]any{}}},
		}
	}
	fake.events = []map[string]any{checkpointEvent("$cp2", state.AuditHead{ID: 2, Hash: hash}), redacted("@alice:example.org")}
	code, out, errOut = runCLI("audit", "verify", "--room", "--config", cfg)
	if code != 0 || !strings.Contains(out, "Checkpoints: 1 compared, all fit.") {
		t.Errorf("verify --room with a reply an admin redacted: exit %d\n%s%s", code, out, errOut)
	}
	fake.events[1] = redacted("@steward:example.org")
	code, out, errOut = runCLI("audit", "verify", "--room", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "A decision log checkpoint was redacted") || !strings.Contains(errOut, "1 REDACTED") {
		t.Errorf("verify --room with a message redacted by Steward's own account: exit %d\n%s%s", code, out, errOut)
	}
}
