// Package retention keeps Steward's working records from growing without bound: the
// command inbox, the sent messages, the decided approval requests and the messages
// that never decrypted are dropped once nothing needs them and they are older than
// retention.after. What is still needed (a command not yet run, a message not yet
// sent, an open request, what duplicate suppression and crash recovery rely on) is
// decided by each table's Prune, next to its other queries. The decision log is never
// touched: it is append-only and hash-chained.
package retention

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/service"
)

// Table is one table that prunes itself: Prune deletes up to limit rows older than
// before that nothing needs any more, and says how many it deleted.
type Table struct {
	Name  string
	Prune func(ctx context.Context, before time.Time, limit int) (int64, error)
}

// Pruner is the service that prunes the tables, every Every, in batches of Batch
// rows, each its own short write, with a pause between them: other writers (the sync
// recording commands, the outbox marking messages sent) wait for SQLite's one write
// lock at most a batch long.
type Pruner struct {
	Tables []Table
	// After is how old a row must be to go (retention.after).
	After time.Duration
	// Every is how often it runs; Batch the rows per write; Pause the wait between
	// two batches.
	Every time.Duration
	Batch int
	Pause time.Duration
	Now   func() time.Time
}

// Defaults for the service as Steward runs it.
const (
	DefaultEvery = time.Hour
	DefaultBatch = 500
	DefaultPause = 50 * time.Millisecond
)

// Run prunes once at start, then every Every, until ctx ends.
func (p *Pruner) Run(ctx context.Context) {
	for {
		p.PruneAll(ctx)
		if !service.Sleep(ctx, p.Every, nil) {
			return
		}
	}
}

// PruneAll prunes every table down to what is younger than After or still needed,
// and returns how many rows it deleted from each. A failing table is logged and
// left for the next run; the others are pruned all the same.
func (p *Pruner) PruneAll(ctx context.Context) map[string]int64 {
	log := zerolog.Ctx(ctx)
	before := p.Now().Add(-p.After)
	deleted := make(map[string]int64, len(p.Tables))
	for _, t := range p.Tables {
		for ctx.Err() == nil {
			n, err := t.Prune(ctx, before, p.Batch)
			deleted[t.Name] += n
			if err != nil {
				if ctx.Err() == nil {
					log.Err(err).Str("table", t.Name).Msg("Failed to prune old rows")
				}
				break
			}
			if n < int64(p.Batch) || !service.Sleep(ctx, p.Pause, nil) {
				break
			}
		}
		if deleted[t.Name] > 0 {
			log.Info().Str("table", t.Name).Int64("rows", deleted[t.Name]).Time("older_than", before).Msg("Pruned old rows")
		}
	}
	return deleted
}
