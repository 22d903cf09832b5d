package retention_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/approval"
	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/retention"
	"github.com/steward-bot/steward/state"
)

const (
	adminRoom id.RoomID = "!admins:x"
	groupRoom id.RoomID = "!group:x"
	admin     id.UserID = "@alice:x"
	mallory   id.UserID = "@mallory:x"
)

// outboxMessenger queues what the commands say in the real outbox, as the bot does.
type outboxMessenger struct{ db *state.DB }

func (m outboxMessenger) Reply(ctx context.Context, roomID id.RoomID, replyTo, _ id.EventID, msg *render.Message) error {
	_, err := m.db.Outbox.Add(ctx, roomID, event.EventMessage, msg.Notice(), replyTo)
	return err
}

func (m outboxMessenger) Post(ctx context.Context, roomID id.RoomID, replyTo, _ id.EventID, msg *render.Message) (int64, error) {
	return m.db.Outbox.Add(ctx, roomID, event.EventMessage, msg.Notice(), replyTo)
}

func (m outboxMessenger) React(ctx context.Context, roomID id.RoomID, msgID int64, key string) error {
	_, err := m.db.Outbox.AddRelated(ctx, roomID, event.EventReaction, map[string]any{"key": key}, msgID)
	return err
}

func (m outboxMessenger) Edit(ctx context.Context, roomID id.RoomID, msgID int64, msg *render.Message) error {
	_, err := m.db.Outbox.AddRelated(ctx, roomID, event.EventMessage, msg.Notice(), msgID)
	return err
}

func (m outboxMessenger) Announce(ctx context.Context, roomID id.RoomID, msg *render.Message) error {
	_, err := m.db.Outbox.Add(ctx, roomID, event.EventMessage, msg.Notice(), "")
	return err
}

// rooms: mallory is a member of the group room, every room is encrypted.
type rooms struct{}

func (rooms) IsJoined(_ context.Context, roomID id.RoomID, userID id.UserID) bool {
	return roomID == groupRoom && (userID == mallory || userID == admin)
}
func (rooms) IsEncrypted(context.Context, id.RoomID) (bool, error) { return true, nil }

// flood runs n long unknown commands from mallory through the inbox and the
// processor as the bot does (recorded, claimed, handled, finished), delivers what
// they queued, and prunes every 100 messages as the retention service would.
type flood struct {
	db     *state.DB
	proc   *commands.Processor
	pruner *retention.Pruner
	sent   int
}

func (f *flood) send(t *testing.T, n int) {
	t.Helper()
	ctx := zerolog.Nop().WithContext(t.Context())
	for range n {
		f.sent++
		now := time.Now()
		entry := &state.InboxEntry{
			EventID: id.EventID(fmt.Sprintf("$flood%d", f.sent)), RoomID: groupRoom, Sender: mallory, DeviceID: "PHONE",
			Trust: id.TrustStateCrossSignedTOFU, Encrypted: true, SentAt: now, ReceivedAt: now,
			Body: fmt.Sprintf("!frobnicate%d %s", f.sent, strings.Repeat(fmt.Sprintf("lorem ipsum %d ", f.sent), 300)),
		}
		if added, err := f.db.Inbox.Record(ctx, entry); err != nil || !added {
			t.Fatalf("record message %d: %v, %v", f.sent, added, err)
		}
		if claimed, err := f.db.Inbox.Claim(ctx, entry.EventID); err != nil || !claimed {
			t.Fatalf("claim message %d: %v, %v", f.sent, claimed, err)
		}
		outcome := f.proc.Handle(ctx, &commands.Input{
			Body: entry.Body, Sender: entry.Sender, DeviceID: entry.DeviceID, Trust: entry.Trust, Encrypted: true,
			RoomID: entry.RoomID, EventID: entry.EventID, SentAt: entry.SentAt, ReceivedAt: entry.ReceivedAt,
		})
		if outcome != state.OutcomeUnknown && outcome != state.OutcomeRateLimited {
			t.Fatalf("message %d: outcome %q, want unknown_command or rate_limited", f.sent, outcome)
		}
		if err := f.db.Inbox.Finish(ctx, entry.EventID, outcome); err != nil {
			t.Fatal(err)
		}
		if f.sent%100 == 0 {
			f.deliver(t)
			f.pruner.PruneAll(ctx)
		}
	}
}

// deliver marks everything queued as sent, as the outbox sender would.
func (f *flood) deliver(t *testing.T) {
	t.Helper()
	for {
		msg, err := f.db.Outbox.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if msg == nil {
			return
		}
		if err = f.db.Outbox.MarkSent(t.Context(), msg.ID, id.EventID(fmt.Sprintf("$sent%d", msg.ID))); err != nil {
			t.Fatal(err)
		}
	}
}

// dbSize is the database's size as it would be on disk with the write-ahead log
// checkpointed (page_count × page_size), and the part of it in use (less the free
// pages SQLite reuses before it grows the file).
func dbSize(t *testing.T, db *state.DB) (file, used int64) {
	t.Helper()
	ctx := t.Context()
	if _, err := db.Raw.Exec(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	var pages, free, size int64
	for pragma, dst := range map[string]*int64{"page_count": &pages, "freelist_count": &free, "page_size": &size} {
		if err := db.Raw.QueryRow(ctx, "PRAGMA "+pragma).Scan(dst); err != nil {
			t.Fatal(err)
		}
	}
	return pages * size, (pages - free) * size
}

func count(t *testing.T, db *state.DB, query string) int64 {
	t.Helper()
	var n int64
	if err := db.Raw.QueryRow(t.Context(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A member sending thousands of long (about 5 KB) unknown commands can't grow the
// database without bound: with retention pruning what was handled, and the text of
// what did not run cut to state.KeptText, the database grows by the decision log's
// short entry per message, not by the messages. Measured after N and after 10N.
func TestFloodOfLongUnknownCommandsIsBounded(t *testing.T) {
	ctx := t.Context()
	db, err := state.Open(ctx, filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	messenger := outboxMessenger{db}
	engine := approval.NewEngine(approval.Settings{Prefix: "!", Admins: []id.UserID{admin}, BotUserID: "@steward:x", TTL: time.Hour},
		approval.Deps{Store: db.Approvals, Log: db.Audit, Messenger: messenger, Once: db.KV, Txn: db.DoTxn, Now: time.Now})
	registry := commands.NewRegistry(&commands.Command{
		Name: "ping", Section: "General", Help: "Answers.", Role: commands.RoleMember, Effect: commands.ReadsOnly,
		Func: func(ctx context.Context, ce *commands.Event) error { return ce.Reply(ctx, render.New("Pong")) },
	})
	proc := commands.NewProcessor(commands.Settings{
		Prefix: "!", Admins: []id.UserID{admin}, AdminRoom: adminRoom, GroupRoom: groupRoom, BotUserID: "@steward:x",
		StaleAfter: time.Hour, RequireVerified: true,
	}, registry, commands.Deps{
		Messenger: messenger, Rooms: rooms{}, Audit: db.Audit, Once: db.KV, Approvals: engine, Requests: db.Approvals,
		Txn: db.DoTxn, Limiter: commands.NewLimiter(5, 20, time.Now), Now: time.Now,
	})
	// Pruned as soon as handled (After 0), so the test needs no month to pass: the
	// horizon never runs ahead of the messages still to come, whose clock is the same.
	pruner := &retention.Pruner{
		Tables: []retention.Table{
			{Name: "inbox", Prune: db.Inbox.Prune}, {Name: "outbox", Prune: db.Outbox.PruneFor(adminRoom)},
			{Name: "approval", Prune: db.Approvals.Prune}, {Name: "undecrypted", Prune: db.Undecrypted.Prune},
		},
		After: 0, Every: time.Hour, Batch: 50, Now: time.Now,
	}
	f := &flood{db: db, proc: proc, pruner: pruner}

	const n = 200
	empty, _ := dbSize(t, db)
	f.send(t, n)
	atN, usedN := dbSize(t, db)
	f.send(t, 9*n)
	at10N, used10N := dbSize(t, db)

	msgLen := len(fmt.Sprintf("!frobnicate%d %s", 1, strings.Repeat("lorem ipsum 1 ", 300)))
	perMessage := float64(at10N-atN) / (9 * n)
	t.Logf("database: %d bytes empty, %d after %d messages (%d in use), %d after %d (%d in use): %.0f bytes per message of about %d bytes",
		empty, atN, n, usedN, at10N, 10*n, used10N, perMessage, msgLen)

	// The per-message cost is capped by the truncation: the decision log's entry
	// with the kept text and its hashes, far below the message itself.
	const capPerMessage = state.KeptText + 700
	if perMessage > capPerMessage {
		t.Errorf("the database grew %.0f bytes per message, want at most %d (the message is %d bytes)", perMessage, capPerMessage, msgLen)
	}
	// What was handled and pruned is gone: the inbox and outbox hold only what came
	// after the last pruning.
	if rows := count(t, db, "SELECT COUNT(*) FROM inbox"); rows != 0 {
		t.Errorf("%d inbox rows left after pruning, want 0", rows)
	}
	if rows := count(t, db, "SELECT COUNT(*) FROM outbox"); rows != 0 {
		t.Errorf("%d outbox rows left after pruning, want 0", rows)
	}
	// The decision log keeps every entry, whole, but with the text cut.
	if rows := count(t, db, "SELECT COUNT(*) FROM audit"); rows != 10*n {
		t.Errorf("%d decision log entries, want one per message (%d)", rows, 10*n)
	}
	if longest := count(t, db, "SELECT MAX(length(arguments) + length(action)) FROM audit"); longest > 2*(state.KeptText+1) {
		t.Errorf("the longest decision log entry keeps %d characters of the command, want at most %d", longest, 2*(state.KeptText+1))
	}
	if _, err := db.Audit.Verify(ctx); err != nil {
		t.Errorf("the decision log's chain no longer verifies: %v", err)
	}
	// A redelivered message the inbox has forgotten is not taken for a new one.
	again := &state.InboxEntry{EventID: "$flood1", RoomID: groupRoom, Sender: mallory, Body: "!frobnicate1", SentAt: time.Now().Add(-time.Minute), ReceivedAt: time.Now()}
	if added, err := db.Inbox.Record(ctx, again); err != nil || added {
		t.Errorf("a forgotten message delivered again was recorded as new (%v, %v): it would run twice", added, err)
	}
}
