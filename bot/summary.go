package bot

import (
	"context"
	"time"

	"github.com/steward-bot/steward/config"
)

// lastSlot returns the latest time at or before now that is ws's weekday and hour in
// its time zone.
func lastSlot(ws *config.WeeklySummary, now time.Time) time.Time {
	slot := dailySlot(ws.Hour, ws.Location, now)
	days := (int(slot.Weekday()) - int(ws.Weekday()) + 7) % 7
	return time.Date(slot.Year(), slot.Month(), slot.Day()-days, ws.Hour, 0, 0, 0, ws.Location)
}

// postWeeklySummaries posts the decision log's weekly summary to the admin room at the
// configured day and hour.
func (b *Bot) postWeeklySummaries(ctx context.Context) {
	ws := b.cfg.DecisionLog.WeeklySummary
	if ws == nil {
		return
	}
	b.runSchedule(ctx, schedule{
		key:      "weekly_summary_slot",
		lastSlot: func(now time.Time) time.Time { return lastSlot(ws, now) },
		period:   7 * 24 * time.Hour,
		post: func(ctx context.Context) error {
			msg, err := b.summaries.Summary(ctx, 7*24*time.Hour)
			if err != nil {
				return err
			}
			return b.Send(ctx, b.adminRoom, msg.Notice())
		},
	})
}

// postDailyDigests posts the alerts of the last 24 hours to the admin room at the
// configured hour.
func (b *Bot) postDailyDigests(ctx context.Context) {
	dd := b.cfg.Monitor.DailyDigest
	if dd == nil {
		return
	}
	b.runSchedule(ctx, schedule{
		key:      "daily_digest_slot",
		lastSlot: func(now time.Time) time.Time { return dailySlot(dd.Hour, dd.Location, now) },
		period:   24 * time.Hour,
		post: func(ctx context.Context) error {
			msg, err := b.alerts.Digest(ctx, 24*time.Hour)
			if err != nil {
				return err
			}
			return b.Send(ctx, b.adminRoom, msg.Notice())
		},
	})
}
