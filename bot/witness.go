package bot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/state"
)

// A checkpoint witnesses the log only when it is read back from the room, where the
// host can't change it. The running bot does that for !log verify; `steward audit
// verify --room` does it on the host, next to a running Steward or a stopped one, with
// a Witness of its own (OpenWitness): Steward's access token and keys from its
// database, and nothing else of the bot. It must not disturb a Steward that is
// running: it does not sync (that would take to-device messages, room keys among them,
// meant for the running bot), upload keys, share sessions or log in, and it reads the
// encryption store through a read-only connection.

// Witness reads the decision log's checkpoints back from the admin room's history.
type Witness struct {
	client    *mautrix.Client
	decrypter decrypter
	adminRoom id.RoomID
	// outbox tells a redacted checkpoint from another redacted message of Steward's.
	outbox *state.Outbox
	// close releases what OpenWitness opened; nil for the running bot's witness.
	close func() error
}

// decrypter decrypts one of Steward's own Megolm events: the running bot's crypto
// helper, or OpenWitness's read-only machine.
type decrypter interface {
	Decrypt(ctx context.Context, evt *event.Event) (*event.Event, error)
}

// maxCheckpointPages bounds how far back Checkpoints reads the admin room's history
// (pages of 100 of Steward's own events).
const maxCheckpointPages = 200

// Checkpoints reads the checkpoints Steward posted in the admin room back from the
// room's history, oldest first. A message of Steward's that was redacted is returned
// as a redacted checkpoint, unless an admin redacted it and the outbox knows it was
// something else; one that can't be decrypted is returned as unreadable (and with its
// keys missing when the current device sent it). The database is not trusted for what
// the checkpoints say: that comes from the room. Nor for where to start reading: the
// history is read from the room's newest event, not from the sync token in the
// database, which someone on the host could move back to hide the newest checkpoints.
func (w *Witness) Checkpoints(ctx context.Context) ([]state.Checkpoint, error) {
	filter := &mautrix.FilterPart{Senders: []id.UserID{w.client.UserID}}
	var found []state.Checkpoint
	from := ""
	for page := 0; page < maxCheckpointPages; page++ {
		msgs, err := w.client.Messages(ctx, w.adminRoom, from, "", mautrix.DirectionBackward, filter, 100)
		if err != nil {
			return nil, fmt.Errorf("read the admin room's history: %w", err)
		}
		for _, evt := range msgs.Chunk {
			if cp, ok := w.readCheckpoint(ctx, evt); ok {
				found = append(found, cp)
			}
		}
		if msgs.End == "" || len(msgs.Chunk) == 0 {
			slices.Reverse(found)
			return found, nil
		}
		from = msgs.End
	}
	zerolog.Ctx(ctx).Warn().Int("checkpoints", len(found)).Msg("The admin room's history is longer than Steward reads for checkpoints; the oldest are not compared")
	slices.Reverse(found)
	return found, nil
}

// readCheckpoint reads evt, one of Steward's events in the admin room, as a
// checkpoint.
func (w *Witness) readCheckpoint(ctx context.Context, evt *event.Event) (state.Checkpoint, bool) {
	if evt.Sender != w.client.UserID || evt.StateKey != nil || (evt.Type != event.EventEncrypted && evt.Type != event.EventMessage) {
		return state.Checkpoint{}, false
	}
	cp := state.Checkpoint{EventID: evt.ID, Time: time.UnixMilli(evt.Timestamp)}
	if by := evt.Unsigned.RedactedBecause; by != nil {
		// Steward redacts none of its own messages in the admin room, so a redaction
		// sent with its own account is someone using its access token, who could
		// just as well have changed the outbox: only an admin's redaction is told
		// apart by what the outbox says the message was.
		cp.Redacted = by.Sender == w.client.UserID || w.wasCheckpoint(ctx, evt.ID)
		return cp, cp.Redacted
	}
	raw := evt.Content.VeryRaw
	if evt.Type == event.EventEncrypted {
		evt.Type.Class = event.MessageEventType
		if evt.RoomID == "" {
			// Read from the admin room's history, which an event may not repeat; the
			// room is what the decrypted payload must name, and a message that
			// fails for lack of it would be taken for one whose key is gone.
			evt.RoomID = w.adminRoom
		}
		var decrypted *event.Event
		err := evt.Content.ParseRaw(evt.Type)
		if err == nil {
			decrypted, err = w.decrypter.Decrypt(ctx, evt)
		}
		if err != nil {
			zerolog.Ctx(ctx).Debug().Err(err).Stringer("event_id", evt.ID).Msg("Failed to decrypt own message while reading checkpoints")
			cp.Unreadable = true
			// Steward keeps the room key of every message it sends: one from this
			// very device that does not decrypt lost its key from the database.
			if content, ok := evt.Content.Parsed.(*event.EncryptedEventContent); ok && content.DeviceID == w.client.DeviceID {
				cp.KeysMissing = true
			}
			return cp, true
		}
		raw = decrypted.Content.VeryRaw
	}
	head, ok := checkpointOf(raw)
	cp.AuditHead = head
	return cp, ok
}

// wasCheckpoint reports whether Steward's event eventID may have been a checkpoint:
// the outbox says it was, or no longer knows it.
func (w *Witness) wasCheckpoint(ctx context.Context, eventID id.EventID) bool {
	msgID, err := w.outbox.IDByEvent(ctx, eventID)
	if err != nil || msgID == 0 {
		return true
	}
	msg, err := w.outbox.Get(ctx, msgID)
	if err != nil || msg == nil {
		return true
	}
	_, ok := checkpointOf(msg.Content)
	return ok
}

// Close releases the read-only connection OpenWitness opened.
func (w *Witness) Close() error {
	if w.close == nil {
		return nil
	}
	return w.close()
}

// ErrRoomUnreadable means the witness could not read the admin room: the homeserver
// is down, or it no longer accepts Steward's access token.
var ErrRoomUnreadable = errors.New("can't read the admin room")

// OpenWitness makes a Witness from Steward's database (db, at data_dir) without the
// bot: a Matrix client with the stored access token, and an Olm machine loaded from
// the stored keys that decrypts and does nothing else. It checks that the homeserver
// accepts the token for Steward's device before anything is read.
func OpenWitness(ctx context.Context, cfg *config.Config, db *state.DB) (*Witness, error) {
	token, err := db.KV.Get(ctx, keyAccessToken)
	if err != nil {
		return nil, err
	}
	deviceID, err := db.KV.Get(ctx, keyDeviceID)
	if err != nil {
		return nil, err
	}
	if token == "" || deviceID == "" {
		return nil, errors.New("Steward has not logged in with this database yet: start it once first")
	}
	// Read, never created: a new pickle key would not open the stored keys.
	pickleKey, err := os.ReadFile(filepath.Join(cfg.DataDir, PickleKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read Steward's pickle key: %w", err)
	}
	cli, err := mautrix.NewClient(cfg.Matrix.Homeserver, cfg.Matrix.UserID, token)
	if err != nil {
		return nil, fmt.Errorf("matrix client: %w", err)
	}
	cli.DeviceID = id.DeviceID(deviceID)
	cli.Log = zerolog.Ctx(ctx).With().Str("component", "matrix").Logger()
	whoami, err := cli.Whoami(ctx)
	switch {
	case errors.Is(err, mautrix.MUnknownToken):
		return nil, fmt.Errorf("%w: the homeserver no longer accepts Steward's access token (was its device signed out?)", ErrRoomUnreadable)
	case err != nil:
		return nil, fmt.Errorf("%w: the homeserver %s did not answer: %w", ErrRoomUnreadable, cfg.Matrix.Homeserver, err)
	case whoami.UserID != cli.UserID || whoami.DeviceID != cli.DeviceID:
		return nil, fmt.Errorf("%w: the stored access token belongs to %s (device %s), not to %s (device %s)", ErrRoomUnreadable, whoami.UserID, whoami.DeviceID, cli.UserID, cli.DeviceID)
	}
	adminRoom := id.RoomID(cfg.Matrix.AdminRoom)
	if !strings.HasPrefix(cfg.Matrix.AdminRoom, "!") {
		resp, err := cli.ResolveAlias(ctx, id.RoomAlias(cfg.Matrix.AdminRoom))
		if err != nil {
			return nil, fmt.Errorf("%w: resolve %s: %w", ErrRoomUnreadable, cfg.Matrix.AdminRoom, err)
		}
		adminRoom = resp.RoomID
	}

	mach, closeDB, err := openReadOnlyMachine(ctx, cli, filepath.Join(cfg.DataDir, DatabaseFile), pickleKey)
	if err != nil {
		return nil, err
	}
	return &Witness{client: cli, decrypter: machineDecrypter{mach}, adminRoom: adminRoom, outbox: db.Outbox, close: closeDB}, nil
}

// openReadOnlyMachine loads Steward's Olm account from the database at path, over a
// connection of its own that SQLite opens read-only, so that nothing the machine might
// do writes to the store: a write fails instead. Only decryption is set up: no
// key fetching for unknown devices (a checkpoint is Steward's own, in a session it
// created), no ratchet tracking (which stores the sessions back), and no migration of
// the store (Upgrade writes; the running bot or the next start does it).
func openReadOnlyMachine(ctx context.Context, cli *mautrix.Client, path string, pickleKey []byte) (*crypto.OlmMachine, func() error, error) {
	ro, err := dbutil.NewWithDialect("file:"+path+"?mode=ro&_busy_timeout=10000", "sqlite3")
	if err != nil {
		return nil, nil, fmt.Errorf("open the encryption store read-only: %w", err)
	}
	log := zerolog.Ctx(ctx).With().Str("component", "crypto").Logger()
	store := crypto.NewSQLCryptoStore(ro, dbutil.ZeroLogger(log), "", cli.DeviceID, pickleKey)
	account, err := store.GetAccount(ctx)
	if err == nil && account == nil {
		err = errors.New("the database holds no encryption keys")
	}
	if err != nil {
		_ = ro.Close()
		return nil, nil, fmt.Errorf("load Steward's encryption keys: %w", err)
	}
	mach := crypto.NewOlmMachine(cli, &log, readOnlyStore{store}, nil)
	mach.DisableDecryptKeyFetching = true
	mach.DisableRatchetTracking = true
	if err = mach.Load(ctx); err != nil {
		_ = ro.Close()
		return nil, nil, fmt.Errorf("load Steward's encryption keys: %w", err)
	}
	return mach, ro.Close, nil
}

// readOnlyStore is the crypto store with the one write that decryption always makes
// turned into a read: ValidateMessageIndex records the event each message index was
// first seen in (replay protection) and compares later ones with it. The witness
// compares with what the running bot recorded and records nothing.
type readOnlyStore struct {
	*crypto.SQLCryptoStore
}

var _ crypto.Store = readOnlyStore{}

// ValidateMessageIndex reports whether the message at index of sessionID is the one
// recorded for that index, or the first one seen.
func (s readOnlyStore) ValidateMessageIndex(ctx context.Context, sessionID id.SessionID, eventID id.EventID, index uint, timestamp int64) (bool, error) {
	var seenEvent id.EventID
	var seenAt int64
	err := s.DB.QueryRow(ctx, `SELECT event_id, timestamp FROM crypto_message_index WHERE session_id=$1 AND "index"=$2`, sessionID, index).Scan(&seenEvent, &seenAt)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	return seenEvent == eventID && seenAt == timestamp, nil
}

// machineDecrypter decrypts with an Olm machine, as the crypto helper does for the
// running bot.
type machineDecrypter struct{ mach *crypto.OlmMachine }

func (d machineDecrypter) Decrypt(ctx context.Context, evt *event.Event) (*event.Event, error) {
	return d.mach.DecryptMegolmEvent(ctx, evt)
}
