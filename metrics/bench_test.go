package metrics

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/state"
)

// big is a database of a group a few years in: 100,000 decision log entries, 20,000
// alerts (50 firing), 50,000 messages sent.
func big(b *testing.B) Sources {
	ctx := b.Context()
	db, err := state.Open(ctx, filepath.Join(b.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	now := time.Now().UnixMilli()
	err = db.DoTxn(ctx, func(ctx context.Context) error {
		for i := range 100_000 {
			if _, err := db.Raw.Exec(ctx, "INSERT INTO audit (ts, actor, action, outcome) VALUES ($1, '@alice:example.org', $2, 'ok')",
				now, fmt.Sprintf("command.c%d", i%30)); err != nil {
				return err
			}
		}
		for i := range 20_000 {
			st := "resolved"
			if i < 50 {
				st = "firing"
			}
			if _, err := db.Raw.Exec(ctx, `INSERT INTO alert (fingerprint, check_name, subject, severity, worst, state, summary, since, updated_at)
				VALUES ($1, $2, 's', 3, 3, $3, 's', $4, $4)`, fmt.Sprintf("fp%d", i), fmt.Sprintf("http:c%d", i%40), st, now); err != nil {
				return err
			}
		}
		for i := range 50_000 {
			if _, err := db.Raw.Exec(ctx, `INSERT INTO outbox (room_id, event_type, content, txn_id, created_at, state)
				VALUES ('!r:example.org', 'm.room.message', '{}', $1, $2, 'sent')`, fmt.Sprintf("t%d", i), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return Sources{
		Alerts: db.Alerts, Outbox: db.Outbox, Undecrypted: db.Undecrypted, Decisions: db.Audit,
		Updates: db.UpdateJobs, Restores: db.BackupRuns, Transport: fakeTransport{last: time.Now()}, Backups: fakeBackups{},
	}
}

func scrape(b *testing.B, c *Collector) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScrapeFirst is the first scrape after a start: the decision log is
// counted whole.
func BenchmarkScrapeFirst(b *testing.B) {
	src := big(b)
	for b.Loop() {
		scrape(b, NewCollector(b.Context(), src))
	}
}

// BenchmarkScrape is every scrape after: the decision log is read from where the
// last one stopped.
func BenchmarkScrape(b *testing.B) {
	src := big(b)
	c := NewCollector(b.Context(), src)
	scrape(b, c)
	for b.Loop() {
		scrape(b, c)
	}
}
