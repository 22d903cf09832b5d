package bot

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// A stop that a failing sync causes (the access token revoked), not a signal, ends the
// crypto helper's waits for room keys too, and they report "no session". The message
// waiting for its key must stay kept for the next start, and no admin be told it could
// not be decrypted.
func TestKeyWaitsEndedByAFailedSyncKeepTheMessage(t *testing.T) {
	const adminRoom = id.RoomID("!admins:example.org")
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/filter"):
			_, _ = w.Write([]byte(`{"filter_id":"1"}`))
		case strings.HasSuffix(r.URL.Path, "/sync"):
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errcode":"M_UNKNOWN_TOKEN","error":"logged out"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer hs.Close()
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := New(nil, db, service.NewWork(t.Context()), Options{}, zerolog.Nop())
	if b.client, err = mautrix.NewClient(hs.URL, "@steward:example.org", "token"); err != nil {
		t.Fatal(err)
	}
	b.adminRoom, b.baseCtx = adminRoom, t.Context() // as Connect leaves them
	b.Handle(&fakeHandler{})
	if err = db.KV.Set(t.Context(), state.KeyNextBatch, "s1"); err != nil {
		t.Fatal(err)
	}
	kept := &event.Event{
		ID: "$waiting", RoomID: adminRoom, Sender: "@alice:example.org", Type: event.EventEncrypted,
		Timestamp: time.Now().UnixMilli(),
		Content:   event.Content{VeryRaw: []byte(`{"algorithm":"m.megolm.v1.aes-sha2","session_id":"s","ciphertext":"c","sender_key":"k","device_id":"D"}`)},
	}
	if err = db.Undecrypted.Add(t.Context(), kept); err != nil {
		t.Fatal(err)
	}

	err = service.Run(t.Context(), service.Stage{Services: []service.Service{service.Func("sync", b.Sync)}})
	if err == nil || !strings.Contains(err.Error(), "no longer accepts") {
		t.Fatalf("Run = %v, want the sync's failure", err)
	}
	// What the crypto helper's wait for the message's key does once the sync's context
	// has ended.
	b.onDecryptError(kept, cryptohelper.NoSessionFound)

	left, err := db.Undecrypted.All(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].ID != kept.ID {
		t.Errorf("after the stop the kept messages are %v, want %s still kept for the next start", left, kept.ID)
	}
	if n, err := db.Outbox.Queued(t.Context()); err != nil || n != 0 {
		t.Errorf("after the stop %d message(s) are queued (%v), want no word of a failed decryption", n, err)
	}
}
