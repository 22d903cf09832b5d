package bot

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// accountData is a homeserver that keeps only account data, as the anchor uses it.
type accountData struct {
	mu   sync.Mutex
	puts []state.AuditHead
}

func (a *accountData) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/account_data/"+anchorType) {
		http.Error(w, `{"errcode":"M_UNRECOGNIZED"}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var head state.AuditHead
	_ = json.Unmarshal(body, &head)
	a.mu.Lock()
	a.puts = append(a.puts, head)
	a.mu.Unlock()
	_, _ = w.Write([]byte("{}"))
}

func (a *accountData) anchored() []state.AuditHead {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]state.AuditHead(nil), a.puts...)
}

// anchorBot is a Bot with a database, an outbox and a client whose homeserver only
// keeps account data, with checkpoints every 3 entries.
func anchorBot(t *testing.T) (*Bot, *accountData) {
	t.Helper()
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	hs := &accountData{}
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	cfg := &config.Config{DecisionLog: config.DecisionLog{CheckpointEvery: 3, CheckpointInterval: config.Duration(24 * time.Hour)}}
	b := New(cfg, db, service.NewWork(t.Context()), Options{}, zerolog.Nop())
	if b.client, err = mautrix.NewClient(srv.URL, "@steward:example.org", "token"); err != nil {
		t.Fatal(err)
	}
	b.adminRoom = "!admins:example.org"
	return b, hs
}

func appendN(t *testing.T, db *state.DB, n int) {
	t.Helper()
	for range n {
		if _, err := db.Audit.Append(context.Background(), &state.AuditEntry{Actor: "@alice:example.org", Action: "command.ping", Outcome: state.OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
}

func sqlExec(t *testing.T, db *state.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Raw.RawDB.ExecContext(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// rehashLog recomputes every link and hash, as someone who knows how the chain is
// made would after editing an entry.
func rehashLog(t *testing.T, db *state.DB) {
	t.Helper()
	var entries []*state.AuditEntry
	if err := db.Audit.Each(context.Background(), func(e *state.AuditEntry) error { entries = append(entries, e); return nil }); err != nil {
		t.Fatal(err)
	}
	prev := ""
	for _, e := range entries {
		e.PrevHash = prev
		e.Hash = e.ComputeHash()
		sqlExec(t, db, "UPDATE audit SET prev_hash=?, hash=? WHERE id=?", e.PrevHash, e.Hash, e.ID)
		prev = e.Hash
	}
}

// TestAnchorRefusesARewrittenLog runs the anchor as KeepAnchored does while the log is
// rewritten on the host: cut back (DELETE FROM audit WHERE id > N), or edited and
// re-hashed so the chain verifies. Neither head is anchored, the fault stays (and
// with it the monitor's alert) while the log grows on the rewritten past, and it
// ends once the log extends the anchor again.
func TestAnchorRefusesARewrittenLog(t *testing.T) {
	tamper := map[string]func(t *testing.T, db *state.DB){
		"cut back": func(t *testing.T, db *state.DB) { sqlExec(t, db, "DELETE FROM audit WHERE id > 2") },
		"edited and re-hashed": func(t *testing.T, db *state.DB) {
			sqlExec(t, db, "UPDATE audit SET actor='@mallory:example.org' WHERE id=2")
			rehashLog(t, db)
		},
	}
	for name, rewrite := range tamper {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			b, hs := anchorBot(t)
			var last logHead
			appendN(t, b.db, 4)
			if err := b.anchorHead(ctx, &last); err != nil || last.ID != 4 || len(hs.anchored()) != 1 {
				t.Fatalf("the first head was not anchored: %v, %+v, %+v", err, last, hs.anchored())
			}
			good := last
			var saved []*state.AuditEntry
			_ = b.db.Audit.Each(ctx, func(e *state.AuditEntry) error { saved = append(saved, e); return nil })

			rewrite(t, b.db)
			appendN(t, b.db, 2) // Steward goes on logging on the rewritten past
			for range 2 {
				if err := b.anchorHead(ctx, &last); err != nil {
					t.Fatal(err)
				}
			}
			if last != good || len(hs.anchored()) != 1 {
				t.Errorf("a rewritten log was anchored: last %+v, anchored %+v", last, hs.anchored())
			}
			fault := b.DecisionLogFault()
			if fault == nil || fault.EntryID != 4 {
				t.Fatalf("DecisionLogFault = %v, want the anchored entry #4 named", fault)
			}

			// The admins put the log back from a copy: it extends the anchor again.
			sqlExec(t, b.db, "DELETE FROM audit")
			for _, e := range saved {
				sqlExec(t, b.db, "INSERT INTO audit (id, ts, actor, actor_device, room_id, event_id, action, arguments, outcome, detail, parent_id, prev_hash, hash) VALUES (?, ?, ?, '', '', '', ?, '', ?, '', NULL, ?, ?)",
					e.ID, e.Time.UnixMilli(), e.Actor, e.Action, e.Outcome, e.PrevHash, e.Hash)
			}
			appendN(t, b.db, 1)
			if err := b.anchorHead(ctx, &last); err != nil {
				t.Fatal(err)
			}
			if b.DecisionLogFault() != nil || last.ID <= good.ID || len(hs.anchored()) != 2 {
				t.Errorf("the restored log was not anchored again: fault %v, last %+v", b.DecisionLogFault(), last)
			}
		})
	}
}

// TestCheckpointsArePostedEveryNEntries checks that a checkpoint goes to the admin
// room's outbox with its machine-readable field every checkpoint_every entries, and
// that a rewritten log gets none.
func TestCheckpointsArePostedEveryNEntries(t *testing.T) {
	ctx := t.Context()
	b, _ := anchorBot(t)
	var last logHead
	checkpoints := func() []state.AuditHead {
		t.Helper()
		rows, err := b.db.Raw.RawDB.QueryContext(ctx, "SELECT content FROM outbox WHERE room_id=? ORDER BY id", b.adminRoom)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var heads []state.AuditHead
		for rows.Next() {
			var raw string
			_ = rows.Scan(&raw)
			var content struct {
				Checkpoint *state.AuditHead `json:"org.steward.checkpoint"`
				Body       string           `json:"body"`
			}
			if err = json.Unmarshal([]byte(raw), &content); err != nil || content.Checkpoint == nil {
				t.Fatalf("not a checkpoint: %v: %s", err, raw)
			}
			if !strings.Contains(content.Body, CheckpointLine(*content.Checkpoint)) {
				t.Errorf("the checkpoint's body lacks its line: %s", content.Body)
			}
			heads = append(heads, *content.Checkpoint)
		}
		return heads
	}
	step := func(n int) {
		t.Helper()
		appendN(t, b.db, n)
		if err := b.anchorHead(ctx, &last); err != nil {
			t.Fatal(err)
		}
	}
	step(1) // the first head: checkpointed at once, nothing was before
	step(1)
	step(1)
	step(1) // 3 entries after #1
	got := checkpoints()
	if len(got) != 2 || got[0].ID != 1 || got[1].ID != 4 {
		t.Fatalf("checkpoints %+v, want #1 and #4", got)
	}
	if hash, _ := b.db.Audit.HashOf(ctx, 4); got[1].Hash != hash {
		t.Errorf("checkpoint #4 has hash %s, the log %s", got[1].Hash, hash)
	}
	sqlExec(t, b.db, "DELETE FROM audit WHERE id > 2")
	step(5)
	if n := len(checkpoints()); n != 2 {
		t.Errorf("a rewritten log was checkpointed: %d checkpoints", n)
	}
}
