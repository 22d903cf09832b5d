package monitor

import (
	"context"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/service"
)

// scheduleGrace is how late a scheduled report is still worth posting: one whose time
// passed while Steward was down for longer is skipped, not posted days late.
const scheduleGrace = 24 * time.Hour

// Schedule is a report posted at fixed times: the weekly summary, the daily digest,
// the on-call handover.
type Schedule struct {
	// Key remembers, in KV, the last slot posted (Unix ms), so a restart neither
	// repeats nor skips one.
	Key string
	// LastSlot returns the latest slot at or before now.
	LastSlot func(now time.Time) time.Time
	// Period is the time between slots.
	Period time.Duration
	// Post queues the report; it runs in the transaction that records the slot.
	Post func(ctx context.Context) error
	KV   KV
	Txn  func(ctx context.Context, fn func(ctx context.Context) error) error
}

// Run posts s at each slot until ctx ends. It wakes at least hourly, so a changed
// clock or a daylight-saving shift is noticed.
func (s *Schedule) Run(ctx context.Context) {
	log := zerolog.Ctx(ctx).With().Str("schedule", s.Key).Logger()
	for {
		now := time.Now()
		slot := s.LastSlot(now)
		if err := s.postSlot(ctx, slot, now); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to post a scheduled report")
		}
		if !service.Sleep(ctx, min(time.Until(slot.Add(s.Period)), time.Hour), nil) {
			return
		}
	}
}

// postSlot posts s for slot unless it was posted already or is too late to be worth
// it.
func (s *Schedule) postSlot(ctx context.Context, slot, now time.Time) error {
	raw, err := s.KV.Get(ctx, s.Key)
	if err != nil {
		return err
	}
	if last, _ := strconv.ParseInt(raw, 10, 64); last >= slot.UnixMilli() {
		return nil
	}
	mark := strconv.FormatInt(slot.UnixMilli(), 10)
	if now.Sub(slot) > scheduleGrace {
		zerolog.Ctx(ctx).Info().Str("schedule", s.Key).Time("slot", slot).Msg("Skipping a scheduled report that is more than a day late")
		return s.KV.Set(ctx, s.Key, mark)
	}
	return s.Txn(ctx, func(ctx context.Context) error {
		if err := s.Post(ctx); err != nil {
			return err
		}
		return s.KV.Set(ctx, s.Key, mark)
	})
}

// DailySlot returns the latest time at or before now that is hour o'clock in loc.
func DailySlot(hour int, loc *time.Location, now time.Time) time.Time {
	local := now.In(loc)
	slot := time.Date(local.Year(), local.Month(), local.Day(), hour, 0, 0, 0, loc)
	if slot.After(now) {
		slot = time.Date(local.Year(), local.Month(), local.Day()-1, hour, 0, 0, 0, loc)
	}
	return slot
}

// WeeklySlot returns the latest time at or before now that is day and hour o'clock in
// loc.
func WeeklySlot(day time.Weekday, hour int, loc *time.Location, now time.Time) time.Time {
	slot := DailySlot(hour, loc, now)
	days := (int(slot.Weekday()) - int(day) + 7) % 7
	return time.Date(slot.Year(), slot.Month(), slot.Day()-days, hour, 0, 0, 0, loc)
}

// Notifier tells a room something (the Matrix transport's outbox).
type Notifier interface {
	Notice(ctx context.Context, roomID id.RoomID, msg *render.Message, mentions ...id.UserID) error
}

// Handovers is the schedule that tells the admin room, at each handover, who is on
// duty now; nil without a rotation.
func (o *OnCall) Handovers(notifier Notifier, adminRoom id.RoomID, prefix string, txn func(ctx context.Context, fn func(ctx context.Context) error) error) *Schedule {
	if !o.HasRotation() {
		return nil
	}
	r := o.Rotation
	period := 7 * 24 * time.Hour
	if r.Daily {
		period = 24 * time.Hour
	}
	return &Schedule{
		Key:      "oncall_handover_slot",
		LastSlot: r.Handover,
		Period:   period,
		KV:       o.KV,
		Txn:      txn,
		Post: func(ctx context.Context) error {
			duty, err := o.At(ctx, time.Now())
			if err != nil {
				return err
			}
			msg := render.New("🔁 Handover: ").Pill(duty.Admin).Text(" is on duty until " + duty.Until.UTC().Format("Mon 2 Jan 15:04 UTC") + ". ").
				Code(prefix + "oncall take").Text(" takes over.")
			return notifier.Notice(ctx, adminRoom, msg, duty.Admin)
		},
	}
}
