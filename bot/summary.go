package bot

import (
	"context"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/config"
)

// summaryKey remembers the last weekly summary posted, as the Unix time (ms) of its
// slot, so a restart neither repeats nor skips one.
const summaryKey = "weekly_summary_slot"

// summaryGrace is how late a summary is still worth posting: one whose slot passed
// while Steward was down for longer is skipped, not posted days late.
const summaryGrace = 24 * time.Hour

// lastSlot returns the latest time at or before now that is ws's weekday and hour in
// its time zone.
func lastSlot(ws *config.WeeklySummary, now time.Time) time.Time {
	local := now.In(ws.Location)
	days := (int(local.Weekday()) - int(ws.Weekday()) + 7) % 7
	day := local.AddDate(0, 0, -days)
	slot := time.Date(day.Year(), day.Month(), day.Day(), ws.Hour, 0, 0, 0, ws.Location)
	if slot.After(now) {
		day = day.AddDate(0, 0, -7)
		slot = time.Date(day.Year(), day.Month(), day.Day(), ws.Hour, 0, 0, 0, ws.Location)
	}
	return slot
}

// postWeeklySummaries posts the decision log's weekly summary to the admin room at the
// configured day and hour, until ctx ends. It wakes at least hourly, so a changed
// clock or a daylight-saving shift is noticed.
func (b *Bot) postWeeklySummaries(ctx context.Context) {
	ws := b.cfg.DecisionLog.WeeklySummary
	if ws == nil {
		return
	}
	log := zerolog.Ctx(ctx).With().Str("component", "weekly_summary").Logger()
	for {
		now := time.Now()
		slot := lastSlot(ws, now)
		if err := b.postSummaryFor(ctx, slot, now); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to post the weekly summary")
		}
		next := slot.AddDate(0, 0, 7)
		if !sleep(ctx, min(time.Until(next), time.Hour), nil) {
			return
		}
	}
}

// postSummaryFor posts the summary of slot unless it was posted already or is too
// late to be worth it.
func (b *Bot) postSummaryFor(ctx context.Context, slot, now time.Time) error {
	raw, err := b.db.KV.Get(ctx, summaryKey)
	if err != nil {
		return err
	}
	if last, _ := strconv.ParseInt(raw, 10, 64); last >= slot.UnixMilli() {
		return nil
	}
	if now.Sub(slot) > summaryGrace {
		zerolog.Ctx(ctx).Info().Time("slot", slot).Msg("Skipping a weekly summary that is more than a day late")
		return b.db.KV.Set(ctx, summaryKey, strconv.FormatInt(slot.UnixMilli(), 10))
	}
	msg, err := b.proc.Summary(ctx, 7*24*time.Hour)
	if err != nil {
		return err
	}
	return b.db.DoTxn(ctx, func(ctx context.Context) error {
		if err := b.Send(ctx, b.adminRoom, msg.Notice()); err != nil {
			return err
		}
		return b.db.KV.Set(ctx, summaryKey, strconv.FormatInt(slot.UnixMilli(), 10))
	})
}
