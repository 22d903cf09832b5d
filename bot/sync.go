package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/state"
)

type ctxKey int

const (
	initialSyncKey ctxKey = iota
	batchKey
)

// maxGapPages bounds how far back a gap is filled (pages of 100 events per room).
const maxGapPages = 20

// isInitialSync reports whether ctx belongs to the very first sync of this database,
// whose timeline is history that must not be replayed as commands.
func isInitialSync(ctx context.Context) bool {
	v, _ := ctx.Value(initialSyncKey).(bool)
	return v
}

// batch is what handlers tell the sync loop about the batch they are handling.
type batch struct {
	// failed is set by a handler that could not record an event; the batch is then
	// fetched again instead of being committed.
	failed atomic.Bool
	// recorded is set when the batch brought a new command.
	recorded atomic.Bool
}

// markBatchFailed tells the sync loop not to commit the current batch.
func markBatchFailed(ctx context.Context) {
	if b, ok := ctx.Value(batchKey).(*batch); ok {
		b.failed.Store(true)
	}
}

// markBatchRecorded notes that the current batch brought a new command.
func markBatchRecorded(ctx context.Context) {
	if b, ok := ctx.Value(batchKey).(*batch); ok {
		b.recorded.Store(true)
	}
}

// syncFilter asks for enough timeline per room that a few minutes of downtime leave no
// gap, and for full member lists, which encryption needs.
var syncFilter = &mautrix.Filter{
	Room: &mautrix.RoomFilter{
		Timeline: &mautrix.FilterPart{Limit: 100},
	},
}

// syncLoop is mautrix's SyncWithContext with the changes that make "nothing lost"
// hold: the next-batch token is stored only after the batch's events were handled
// (commands recorded in the inbox), so a crash in the middle of a batch makes the
// homeserver send it again instead of skipping it (the inbox deduplicates what was
// already recorded); a batch a handler could not record is fetched again; and a gap in
// a room's timeline (more events while Steward was away than one sync returns) is
// filled from the room's history before the batch is handled.
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
		b.syncState.polling(time.Duration(timeout) * time.Millisecond)
		resp, err := b.client.FullSyncRequest(ctx, mautrix.ReqSync{Timeout: timeout, Since: nextBatch, FilterID: filter})
		if err == nil {
			b.syncState.answered()
			err = b.handleBatch(ctx, resp, nextBatch)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, mautrix.MUnknownToken) {
				// Logged out from another session: exit, so the next start logs in again.
				return fmt.Errorf("the homeserver no longer accepts Steward's access token: %w", err)
			}
			b.syncState.failed(err)
			failing = true
			log.Warn().Err(err).Dur("retry_in", delay).Msg("Sync failed")
			if !b.work.Sleep(ctx, delay, nil) {
				return ctx.Err()
			}
			delay = min(delay*2, 30*time.Second)
			continue
		}
		if failing && nextBatch != "" {
			log.Info().Msg("Sync is back")
		}
		failing, delay = false, time.Second
		nextBatch = resp.NextBatch
		b.syncState.succeeded(firstOfRun)
		if firstOfRun {
			b.warnMissingRooms(ctx)
			close(b.firstSync)
			firstOfRun = false
		}
	}
}

// handleBatch fills gaps, dispatches the batch's events and commits the token after
// them.
func (b *Bot) handleBatch(ctx context.Context, resp *mautrix.RespSync, since string) error {
	batchCtx := context.WithValue(ctx, batchKey, new(batch))
	if since == "" {
		zerolog.Ctx(ctx).Info().Msg("First sync: room history is not replayed")
		batchCtx = context.WithValue(batchCtx, initialSyncKey, true)
		b.initialSync.Store(true)
		defer b.initialSync.Store(false)
	} else if err := b.fillGaps(ctx, resp, since); err != nil {
		return fmt.Errorf("fill timeline gap: %w", err)
	}
	if err := b.client.Syncer.ProcessResponse(batchCtx, resp, since); err != nil {
		// A panic in a handler: log it and move on rather than retrying the same batch
		// forever.
		zerolog.Ctx(ctx).Err(err).Msg("Failed to process sync response")
	}
	handled := batchCtx.Value(batchKey).(*batch)
	if handled.failed.Load() {
		return errors.New("an event of the batch could not be recorded")
	}
	if handled.recorded.Load() {
		CrashPoint("batch-handled")
	}
	return b.db.KV.Set(ctx, state.KeyNextBatch, resp.NextBatch)
}

// fillGaps fetches, for each room whose timeline in resp is limited, the messages
// between the previous batch (since) and the start of this one, and puts them in front
// of the timeline so they are handled like any other. State events are left out: the
// batch's state section already says how the room is now. Besides its two rooms,
// Steward is only in members' private chats, whose gaps are filled as well: a chat
// joined in this batch brings what its member wrote before Steward was there, whose
// first message may be the reason they started it (joinedAfter decides what of it
// counts).
func (b *Bot) fillGaps(ctx context.Context, resp *mautrix.RespSync, since string) error {
	for roomID, room := range resp.Rooms.Join {
		if !room.Timeline.Limited || room.Timeline.PrevBatch == "" {
			continue
		}
		var missing []*event.Event
		from := room.Timeline.PrevBatch
		complete := false // reached the previous batch, or the room's beginning
		for page := 0; page < maxGapPages && !complete; page++ {
			msgs, err := b.client.Messages(ctx, roomID, from, since, mautrix.DirectionBackward, nil, 100)
			if err != nil {
				return err
			}
			for _, evt := range msgs.Chunk {
				if evt.StateKey == nil {
					missing = append(missing, evt)
				}
			}
			complete = msgs.End == "" || len(msgs.Chunk) == 0
			from = msgs.End
		}
		if !complete {
			zerolog.Ctx(ctx).Warn().Stringer("room_id", roomID).Int("events", len(missing)).
				Msg("Timeline gap is larger than Steward fills; older commands in it are not seen")
		}
		slices.Reverse(missing)
		zerolog.Ctx(ctx).Info().Stringer("room_id", roomID).Int("events", len(missing)).Msg("Filled a gap in the timeline")
		room.Timeline.Events = append(missing, room.Timeline.Events...)
	}
	return nil
}

// createFilter uploads the sync filter, retrying while the homeserver is away.
func (b *Bot) createFilter(ctx context.Context) (filterID string, err error) {
	err = b.retry(ctx, "Failed to create sync filter", func() error {
		resp, err := b.client.CreateFilter(ctx, syncFilter)
		if err == nil {
			filterID = resp.FilterID
		}
		return err
	})
	return filterID, err
}

// guarded wraps a sync handler so that a panic in it costs only the event it was
// handling: mautrix would otherwise abandon the rest of the batch, whose sync position
// is then committed anyway.
func guarded(name string, handler func(context.Context, *event.Event)) func(context.Context, *event.Event) {
	return func(ctx context.Context, evt *event.Event) {
		defer func() {
			if r := recover(); r != nil {
				zerolog.Ctx(ctx).Error().Any("panic", r).Str("handler", name).Stringer("event_id", evt.ID).
					Msg("Sync handler panicked; skipping the event")
			}
		}()
		handler(ctx, evt)
	}
}
