package bot

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/steward-bot/steward/state"
)

type ctxKey int

const initialSyncKey ctxKey = iota

// isInitialSync reports whether ctx belongs to the very first sync of this database,
// whose timeline is history that must not be replayed as commands.
func isInitialSync(ctx context.Context) bool {
	v, _ := ctx.Value(initialSyncKey).(bool)
	return v
}

// syncFilter asks for enough timeline per room that a few minutes of downtime leave no
// gap, and for full member lists, which encryption needs.
var syncFilter = &mautrix.Filter{
	Room: &mautrix.RoomFilter{
		Timeline: &mautrix.FilterPart{Limit: 100},
	},
}

// syncLoop is mautrix's SyncWithContext with one change that matters: the next-batch
// token is stored only after the batch's events were handled (commands recorded in the
// inbox), so a crash in the middle of a batch makes the homeserver send it again
// instead of skipping it. The inbox deduplicates what was already recorded.
func (b *Bot) syncLoop(ctx context.Context) error {
	log := zerolog.Ctx(ctx)
	nextBatch, err := b.db.KV.Get(ctx, state.KeyNextBatch)
	if err != nil {
		return err
	}
	filter, err := b.createFilter(ctx)
	if err != nil {
		return err
	}
	delay := time.Second
	failing, firstOfRun := true, true
	for {
		timeout := 30000
		if failing || nextBatch == "" {
			timeout = 0
		}
		resp, err := b.client.FullSyncRequest(ctx, mautrix.ReqSync{Timeout: timeout, Since: nextBatch, FilterID: filter})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failing = true
			log.Warn().Err(err).Dur("retry_in", delay).Msg("Sync failed")
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			delay = min(delay*2, 30*time.Second)
			continue
		}
		if failing && nextBatch != "" {
			log.Info().Msg("Sync is back")
		}
		failing, delay = false, time.Second

		batchCtx := ctx
		if nextBatch == "" {
			log.Info().Msg("First sync: room history is not replayed")
			batchCtx = context.WithValue(ctx, initialSyncKey, true)
		}
		if err = b.client.Syncer.ProcessResponse(batchCtx, resp, nextBatch); err != nil {
			// A panic in a handler: log it and move on rather than retrying the same
			// batch forever.
			log.Err(err).Msg("Failed to process sync response")
		}
		if err = b.db.KV.Set(ctx, state.KeyNextBatch, resp.NextBatch); err != nil {
			return err
		}
		nextBatch = resp.NextBatch
		if firstOfRun {
			b.warnMissingRooms(ctx)
			firstOfRun = false
		}
	}
}

// createFilter uploads the sync filter, retrying while the homeserver is away.
func (b *Bot) createFilter(ctx context.Context) (filterID string, err error) {
	err = retry(ctx, "Failed to create sync filter", func() error {
		resp, err := b.client.CreateFilter(ctx, syncFilter)
		if err == nil {
			filterID = resp.FilterID
		}
		return err
	})
	return filterID, err
}
