package state_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"

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
