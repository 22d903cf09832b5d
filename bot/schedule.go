package bot

import (
	"context"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/service"
)

// scheduleGrace is how late a scheduled report is still worth posting: one whose time
// passed while Steward was down for longer is skipped, not posted days late.
const scheduleGrace = 24 * time.Hour

// schedule is a report posted at fixed times: the weekly summary, the daily digest.
type schedule struct {
	// key remembers, in the KV table, the last slot posted (Unix ms), so a restart
	// neither repeats nor skips one.
	key string
	// lastSlot returns the latest slot at or before now.
	lastSlot func(now time.Time) time.Time
	// period is the time between slots.
	period time.Duration
	// post queues the report; it runs in the transaction that records the slot.
	post func(ctx context.Context) error
}

// runSchedule posts s at each slot until ctx ends. It wakes at least hourly, so a
// changed clock or a daylight-saving shift is noticed.
func (b *Bot) runSchedule(ctx context.Context, s schedule) {
	log := zerolog.Ctx(ctx).With().Str("schedule", s.key).Logger()
	for {
		now := time.Now()
		slot := s.lastSlot(now)
		if err := b.postSlot(ctx, s, slot, now); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to post a scheduled report")
		}
		if !service.Sleep(ctx, min(time.Until(slot.Add(s.period)), time.Hour), nil) {
			return
		}
	}
}

// postSlot posts s for slot unless it was posted already or is too late to be worth
// it.
func (b *Bot) postSlot(ctx context.Context, s schedule, slot, now time.Time) error {
	raw, err := b.db.KV.Get(ctx, s.key)
	if err != nil {
		return err
	}
	if last, _ := strconv.ParseInt(raw, 10, 64); last >= slot.UnixMilli() {
		return nil
	}
	mark := strconv.FormatInt(slot.UnixMilli(), 10)
	if now.Sub(slot) > scheduleGrace {
		zerolog.Ctx(ctx).Info().Str("schedule", s.key).Time("slot", slot).Msg("Skipping a scheduled report that is more than a day late")
		return b.db.KV.Set(ctx, s.key, mark)
	}
	return b.db.DoTxn(ctx, func(ctx context.Context) error {
		if err := s.post(ctx); err != nil {
			return err
		}
		return b.db.KV.Set(ctx, s.key, mark)
	})
}

// dailySlot returns the latest time at or before now that is hour o'clock in loc.
func dailySlot(hour int, loc *time.Location, now time.Time) time.Time {
	local := now.In(loc)
	slot := time.Date(local.Year(), local.Month(), local.Day(), hour, 0, 0, 0, loc)
	if slot.After(now) {
		slot = time.Date(local.Year(), local.Month(), local.Day()-1, hour, 0, 0, 0, loc)
	}
	return slot
}
