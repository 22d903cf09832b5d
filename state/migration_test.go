package state_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/state"
	"github.com/steward-bot/steward/state/upgrades"
)

// Migration 10 makes room for the info severity below warning: alerts a Steward before
// it stored keep their severities (warning stays warning, critical critical), and what
// it adds reads back.
func TestMigrationKeepsSeverities(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "steward.db")
	raw, err := dbutil.NewWithDialect(fmt.Sprintf("file:%s?_txlock=immediate", path), "sqlite3-fk-wal-fullsync")
	check(t, err)
	old := raw.Child("steward_version", upgrades.Table[:9], dbutil.ZeroLogger(zerolog.Nop()))
	old.Owner = "steward"
	check(t, old.Upgrade(ctx))
	// As version 9 stored them: 1 warning, 2 critical.
	for i, sev := range []int{1, 2} {
		_, err = raw.Exec(ctx, `INSERT INTO alert (fingerprint, check_name, subject, severity, worst, state, summary, since, updated_at)
			VALUES ($1, 'disk', '/', $2, 2, 'firing', 'full', 1, 1)`, fmt.Sprintf("disk:%d", i), sev)
		check(t, err)
	}
	check(t, raw.Close())

	db := openAt(t, path)
	defer db.Close()
	open := must(db.Alerts.Open(ctx, ""))(t)
	if len(open) != 2 {
		t.Fatalf("%d alerts after the migration, want 2", len(open))
	}
	if open[0].Severity != state.SeverityWarning || open[1].Severity != state.SeverityCritical {
		t.Errorf("severities %v, %v after the migration, want warning, critical", open[0].Severity, open[1].Severity)
	}
	if open[0].Worst != state.SeverityCritical {
		t.Errorf("worst %v after the migration, want critical", open[0].Worst)
	}
	a := open[0]
	a.Labels, a.Link, a.Detail = map[string]string{"instance": "node1"}, "http://x/graph", "last lines"
	check(t, db.Alerts.Update(ctx, a))
	got := must(db.Alerts.Get(ctx, a.ID))(t)
	if got.Labels["instance"] != "node1" || got.Link != a.Link || got.Detail != a.Detail {
		t.Errorf("read back %+v, want the labels, link and detail written", got)
	}
}

// An ended silence with an upstream is unsettled until MarkSettled; one without an
// upstream, or still running, never is.
func TestUnsettledSilences(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	now := time.Now()
	var ids []int64
	for _, upstream := range []string{"a1,a2", "", "b1"} {
		s := &state.Silence{Matcher: "am:*", Reason: "r", CreatedBy: "@a:x", CreatedAt: now, EndsAt: now.Add(time.Hour)}
		check(t, db.Silences.Add(ctx, s))
		if upstream != "" {
			check(t, db.Silences.SetUpstream(ctx, s.ID, upstream))
		}
		ids = append(ids, s.ID)
	}
	for _, id := range ids[:2] {
		must(db.Silences.End(ctx, id, now, "@a:x"))(t)
	}
	got := must(db.Silences.Unsettled(ctx))(t)
	if len(got) != 1 || got[0].ID != ids[0] || got[0].Upstream != "a1,a2" {
		t.Fatalf("unsettled %+v, want only the first (ended, with an upstream)", got)
	}
	check(t, db.Silences.MarkSettled(ctx, ids[0]))
	if got = must(db.Silences.Unsettled(ctx))(t); len(got) != 0 {
		t.Errorf("unsettled %+v after MarkSettled", got)
	}
}

// Migration 12 gives the messages a Steward before it queued the admins' priority: they
// go in the order they had, before what members queue after the upgrade, and are not
// overtaken by what the admins get after it.
func TestMigrationKeepsOutboxOrder(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "steward.db")
	raw, err := dbutil.NewWithDialect(fmt.Sprintf("file:%s?_txlock=immediate", path), "sqlite3-fk-wal-fullsync")
	check(t, err)
	old := raw.Child("steward_version", upgrades.Table[:11], dbutil.ZeroLogger(zerolog.Nop()))
	old.Owner = "steward"
	check(t, old.Upgrade(ctx))
	for i, body := range []string{"first", "second"} {
		_, err = raw.Exec(ctx, `INSERT INTO outbox (room_id, event_type, content, txn_id, created_at) VALUES ($1, 'm.room.message', $2, $3, 1)`,
			"!dm:x", fmt.Sprintf(`{"body":%q}`, body), fmt.Sprintf("txn%d", i))
		check(t, err)
	}
	check(t, raw.Close())

	db := openAt(t, path)
	defer db.Close()
	must(db.Outbox.AddAt(ctx, state.PriorityMembers, "!dm:x", event.EventMessage, notice("a member's, after the upgrade"), "", 0))(t)
	must(db.Outbox.AddAt(ctx, state.PriorityAdmins, "!admins:x", event.EventMessage, notice("the admins', after the upgrade"), "", 0))(t)
	for _, want := range []string{"first", "second", "the admins'", "a member's"} {
		next := must(db.Outbox.Next(ctx))(t)
		if next == nil || !strings.Contains(string(next.Content), want) {
			t.Fatalf("next message %+v, want %q", next, want)
		}
		check(t, db.Outbox.MarkSent(ctx, next.ID, "$x"))
	}
}

// TestOpenCurrentMigratesNothing: the commands that run beside a running Steward open
// its database as it is. One an older Steward wrote is refused, not brought forward
// under it, and so is one a newer Steward wrote; the current one opens.
func TestOpenCurrentMigratesNothing(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "steward.db")
	raw, err := dbutil.NewWithDialect(fmt.Sprintf("file:%s?_txlock=immediate", path), "sqlite3-fk-wal-fullsync")
	check(t, err)
	old := raw.Child("steward_version", upgrades.Table[:len(upgrades.Table)-1], dbutil.ZeroLogger(zerolog.Nop()))
	old.Owner = "steward"
	check(t, old.Upgrade(ctx))
	check(t, raw.Close())

	if db, err := state.OpenCurrent(ctx, path, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "start Steward itself once") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("OpenCurrent on an older database: %v, want refused", err)
	}
	db := openAt(t, path) // Steward's own start brings it forward
	var version int
	check(t, db.Raw.QueryRow(ctx, "SELECT version FROM steward_version").Scan(&version))
	if version != len(upgrades.Table) {
		t.Fatalf("after Open the database is at version %d, want %d", version, len(upgrades.Table))
	}
	_, err = db.Raw.Exec(ctx, "UPDATE steward_version SET version=version+1")
	check(t, err)
	check(t, db.Close())
	if db, err := state.OpenCurrent(ctx, path, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "newer than this steward") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("OpenCurrent on a newer database: %v, want refused", err)
	}
	raw, err = dbutil.NewWithDialect(fmt.Sprintf("file:%s?_txlock=immediate", path), "sqlite3-fk-wal-fullsync")
	check(t, err)
	_, err = raw.Exec(ctx, "UPDATE steward_version SET version=version-1")
	check(t, err)
	check(t, raw.Close())
	db, err = state.OpenCurrent(ctx, path, zerolog.Nop())
	check(t, err)
	check(t, db.Close())
}
