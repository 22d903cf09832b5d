package bot

import (
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
)

// TestWitnessDecryptsWithoutWriting encrypts a checkpoint the way the running bot does
// (a Megolm session of its own, in its database) and reads it with the witness's
// read-only machine: the checkpoint comes out, nothing is written to the store (the
// running bot owns it), and a message index the running bot already saw for another
// event is still refused as a replay.
func TestWitnessDecryptsWithoutWriting(t *testing.T) {
	ctx := t.Context()
	const room = id.RoomID("!admins:example.org")
	const steward = id.UserID("@steward:example.org")
	path := filepath.Join(t.TempDir(), DatabaseFile)
	db, err := state.Open(ctx, path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pickleKey := make([]byte, 32)
	_, _ = rand.Read(pickleKey)
	store := crypto.NewSQLCryptoStore(db.Raw, dbutil.NoopLogger, "", "STEWARDDEV", pickleKey)
	if err = store.DB.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	account := crypto.NewOlmAccount()
	if err = store.PutAccount(ctx, account); err != nil {
		t.Fatal(err)
	}
	// The running bot's session for the admin room, and its own inbound copy.
	outbound, err := crypto.NewOutboundGroupSession(room, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	outbound.Shared = true
	inbound, err := crypto.NewInboundGroupSession(account.IdentityKey(), account.SigningKey(), room, outbound.Internal.Key(), 0, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err = store.PutGroupSession(ctx, inbound); err != nil {
		t.Fatal(err)
	}
	head := state.AuditHead{ID: 7, Hash: "c0ffee"}
	encrypted := func(eventID id.EventID) *event.Event {
		t.Helper()
		plaintext, _ := json.Marshal(map[string]any{
			"room_id": room, "type": "m.room.message",
			"content": map[string]any{"msgtype": "m.notice", "body": CheckpointLine(head), CheckpointField: head},
		})
		ciphertext, err := outbound.Encrypt(plaintext)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(&event.EncryptedEventContent{
			Algorithm: id.AlgorithmMegolmV1, SenderKey: account.IdentityKey(), DeviceID: "STEWARDDEV",
			SessionID: outbound.ID(), MegolmCiphertext: ciphertext,
		})
		return &event.Event{Type: event.EventEncrypted, ID: eventID, Sender: steward, RoomID: room, Timestamp: time.Now().UnixMilli(), Content: event.Content{VeryRaw: raw}}
	}
	indexRows := func() (n int) {
		t.Helper()
		if err := db.Raw.QueryRow(ctx, "SELECT COUNT(*) FROM crypto_message_index").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	cli, err := mautrix.NewClient("http://127.0.0.1:1", steward, "token")
	if err != nil {
		t.Fatal(err)
	}
	cli.DeviceID = "STEWARDDEV"
	mach, closeDB, err := openReadOnlyMachine(ctx, cli, path, pickleKey)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	w := &Witness{client: cli, decrypter: machineDecrypter{mach}, adminRoom: room, outbox: db.Outbox}

	cp, ok := w.readCheckpoint(ctx, encrypted("$first"))
	if !ok || cp.Unreadable || cp.AuditHead != head || cp.EventID != "$first" {
		t.Fatalf("the witness read %+v (%v), want the checkpoint of entry #7", cp, ok)
	}
	if n := indexRows(); n != 0 {
		t.Errorf("the witness recorded %d message indexes: it must leave the running bot's store alone", n)
	}
	// The read-only connection refuses any write a change in mautrix might add.
	roStore := mach.CryptoStore.(readOnlyStore)
	if _, err = roStore.DB.Exec(ctx, "DELETE FROM crypto_message_index"); err == nil {
		t.Error("the witness's connection to the store accepts writes")
	}

	// Index 1 as the running bot saw it, with another event: a replay.
	replay := encrypted("$replayed")
	if _, err = db.Raw.Exec(ctx, `INSERT INTO crypto_message_index (session_id, "index", event_id, timestamp) VALUES ($1, 1, '$original', 1)`, outbound.ID()); err != nil {
		t.Fatal(err)
	}
	if cp, ok = w.readCheckpoint(ctx, replay); !ok || !cp.Unreadable || !cp.KeysMissing {
		t.Errorf("a replayed message index read as %+v (%v), want it refused as unreadable, from this device", cp, ok)
	}

	// An event the history gives without its room ID is the admin room's.
	roomless := encrypted("$roomless")
	roomless.RoomID = ""
	if cp, ok = w.readCheckpoint(ctx, roomless); !ok || cp.Unreadable || cp.KeysMissing {
		t.Errorf("an event without its room ID read as %+v (%v), want the checkpoint", cp, ok)
	}
}
