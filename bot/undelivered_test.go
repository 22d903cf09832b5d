package bot

import (
	"context"
	"fmt"
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
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// TestRefusedReplyIsLoggedAsUndelivered checks that the decision log does not leave
// an "ok" standing for an answer nobody got: once the homeserver refuses a reply for
// good, the command's entry is followed by one, linked to it, saying the answer was not
// delivered, and the admin room is told. The refusal may come before the command has
// ended (its entry is not written yet) or after, or Steward may stop after the
// command's entry and before marking it done (the next start settles it): each way
// there is exactly one such entry, and the chain still verifies.
func TestRefusedReplyIsLoggedAsUndelivered(t *testing.T) {
	for _, refusedWhile := range []string{"command done", "command running", "stop before done"} {
		t.Run(refusedWhile, func(t *testing.T) {
			db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			ctx := zerolog.Nop().WithContext(t.Context())
			const cmd, chat = id.EventID("$containers"), id.RoomID("!chat:example.org")
			o := &Outbox{store: db.Outbox, db: db, wake: make(chan struct{}, 1), adminRoom: opsRoom, self: "@steward:example.org"}
			b := &Bot{db: db, outbox: o}

			// The command arrived and was claimed; the homeserver refuses every
			// message to chat as too large.
			if _, err = db.Inbox.Record(ctx, &state.InboxEntry{EventID: cmd, RoomID: chat, Sender: "@alice:example.org", Body: "!containers", SentAt: time.Now(), ReceivedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if _, err = db.Inbox.Claim(ctx, cmd); err != nil {
				t.Fatal(err)
			}
			hs := &fakeHomeserver{t: t, answer: func(_ int, req sendRequest) (int, string) {
				if req.roomID == chat {
					return http.StatusRequestEntityTooLarge, `{"errcode":"M_TOO_LARGE","error":"event too large"}`
				}
				return http.StatusOK, ""
			}}
			srv := httptest.NewServer(hs)
			t.Cleanup(srv.Close)
			o.client, _ = mautrix.NewClient(srv.URL, "@steward:example.org", "token")
			sender := &outboxSender{client: o.client, outbox: db.Outbox, wakeup: o.wake, sleep: service.Sleep, poll: 10 * time.Millisecond, onRefused: o.refuse}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); sender.run(runCtx) }()
			t.Cleanup(func() { cancel(); <-done })

			var cmdEntry int64
			finish := func() {
				// What the dispatcher and the inbox do when the command returns.
				if cmdEntry, err = db.Audit.Append(ctx, &state.AuditEntry{Actor: "@alice:example.org", RoomID: chat, EventID: cmd, Action: "command.containers", Outcome: state.OutcomeOK}); err != nil {
					t.Fatal(err)
				}
				if refusedWhile == "stop before done" {
					err = b.ReportInterrupted(ctx) // at the next start
				} else {
					err = b.finishCommand(ctx, cmd, state.OutcomeOK)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if refusedWhile == "command done" {
				finish()
			}
			if err = o.Reply(ctx, chat, cmd, "", render.New("500 containers")); err != nil {
				t.Fatal(err)
			}
			waitEmpty(t, db.Outbox) // refused, and the admin room told
			if refusedWhile != "command done" {
				finish()
			}

			entries, err := db.Audit.ForEvent(ctx, cmd)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 {
				t.Fatalf("the command has %d decision log entries, want its own and one saying the answer was not delivered", len(entries))
			}
			got := entries[1]
			if got.Outcome != state.OutcomeUndelivered || got.ParentID != cmdEntry || entries[0].Outcome != state.OutcomeOK ||
				!strings.Contains(got.Detail, "too large") || got.Actor != "@steward:example.org" {
				t.Errorf("entry after the command's: outcome %q, parent %d (want %d), actor %s, detail %q", got.Outcome, got.ParentID, cmdEntry, got.Actor, got.Detail)
			}
			if _, err = db.Audit.Verify(ctx); err != nil {
				t.Errorf("the decision log no longer verifies: %v", err)
			}
			_, accepted := hs.seen()
			if len(accepted) != 1 || !strings.Contains(accepted[0], "!chat:example.org") || !strings.Contains(accepted[0], "too large") {
				t.Errorf("the admin room was told %q, want one notice naming the room", accepted)
			}
		})
	}
}

// TestOutboxRedacts checks a queued redaction: it is sent with the redact endpoint
// (with its reason and a transaction ID fixed when it was queued, so a retry is
// deduplicated), in order with the messages around it; one the homeserver refuses
// (Steward's power lowered meanwhile) is told in the admin room as a message that
// is still visible.
func TestOutboxRedacts(t *testing.T) {
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := zerolog.Nop().WithContext(t.Context())
	const group = id.RoomID("!group:example.org")
	var mu sync.Mutex
	var seen, txns []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		parts := strings.Split(r.URL.Path, "/")
		mu.Lock()
		seen = append(seen, parts[6]+" "+parts[len(parts)-2]+" "+string(raw))
		txns = append(txns, parts[len(parts)-1])
		n := len(seen)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if parts[6] == "redact" && strings.Contains(string(raw), "refuse me") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"errcode":"M_FORBIDDEN","error":"You don't have permission to redact events"}`)
			return
		}
		_, _ = fmt.Fprintf(w, `{"event_id":"$%d"}`, n)
	}))
	t.Cleanup(srv.Close)
	o := &Outbox{store: db.Outbox, db: db, wake: make(chan struct{}, 1), adminRoom: opsRoom, self: "@steward:example.org"}
	o.client, _ = mautrix.NewClient(srv.URL, "@steward:example.org", "token")

	if err = o.Notice(ctx, group, render.New("before")); err != nil {
		t.Fatal(err)
	}
	if err = o.Redact(ctx, group, "$report", "moved to a private ticket"); err != nil {
		t.Fatal(err)
	}
	if err = o.Redact(ctx, group, "$other", "refuse me"); err != nil {
		t.Fatal(err)
	}
	sender := &outboxSender{client: o.client, outbox: db.Outbox, wakeup: o.wake, sleep: service.Sleep, poll: 10 * time.Millisecond, onRefused: o.refuse}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); sender.run(runCtx) }()
	waitEmpty(t, db.Outbox)
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 || !strings.HasPrefix(seen[0], "send ") || !strings.HasPrefix(seen[1], "redact $report ") ||
		!strings.Contains(seen[1], `"reason":"moved to a private ticket"`) || !strings.HasPrefix(seen[2], "redact $other ") ||
		!strings.Contains(seen[3], "I could not remove the message") || !strings.Contains(seen[3], "$other") {
		t.Fatalf("the homeserver saw, in order:\n%s", strings.Join(seen, "\n"))
	}
	msgs, err := db.Outbox.FailedReplies(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Type != event.EventRedaction || msgs[0].TxnID != txns[2] {
		t.Errorf("failed: %+v, want the refused redaction, sent with its queued transaction ID %s", msgs, txns[2])
	}
}
