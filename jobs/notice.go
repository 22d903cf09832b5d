package jobs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// How the admins are told of pings to names no job has.
const (
	// NoticeEvery is the least time between two notices.
	NoticeEvery = 24 * time.Hour
	// NoticeGather is how long a notice waits after it is due, so that the pings of
	// one batch (cron lines run at the same minute) come into one notice.
	NoticeGather = 15 * time.Second
	// noticeKey holds, in KV, when the last notice was queued (Unix ms), so that a
	// restart neither repeats it nor tells again sooner.
	noticeKey = "jobs.unknown_notice_at"
	// noticeListed bounds the names one notice lists.
	noticeListed = 20
	// noticeIdle is how long the notices sleep with nothing to tell, unless a ping
	// to an unknown name wakes them.
	noticeIdle = time.Hour
)

// UnknownStore holds the names pinged that no job has (state.Jobs).
type UnknownStore interface {
	Unknown(ctx context.Context) ([]*state.UnknownJob, error)
	ClearUnknown(ctx context.Context) error
}

// Notices tells the admin room, at most once a day, that something pings jobs that
// are not configured: a typo in a cron line, a job removed from the config but not
// from its machine. Each notice lists the names pinged since the one before.
type Notices struct {
	Tracker   *Tracker
	Store     UnknownStore
	KV        monitor.KV
	Txn       func(ctx context.Context, fn func(ctx context.Context) error) error
	Notifier  monitor.Notifier
	AdminRoom id.RoomID
	Now       func() time.Time

	// gatherUntil is when a notice that is due goes out; zero while none is.
	gatherUntil time.Time
}

// Run tells the admins of unknown names when it is time, until ctx ends.
func (n *Notices) Run(ctx context.Context) {
	log := zerolog.Ctx(ctx).With().Str("component", "jobs").Logger()
	for {
		wait, err := n.step(ctx)
		if err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to tell the admins of pings to jobs that are not configured")
			wait = time.Minute
		}
		if !service.Sleep(ctx, wait, n.Tracker.unknown) {
			return
		}
	}
}

// step queues the notice if one is due and its gathering time is over, and returns
// how long to wait before looking again.
func (n *Notices) step(ctx context.Context) (time.Duration, error) {
	unknown, err := n.unconfigured(ctx)
	if err != nil || len(unknown) == 0 {
		n.gatherUntil = time.Time{}
		return noticeIdle, err
	}
	now := n.Now()
	raw, err := n.KV.Get(ctx, noticeKey)
	if err != nil {
		return 0, err
	}
	last, _ := strconv.ParseInt(raw, 10, 64)
	if due := time.UnixMilli(last).Add(NoticeEvery); last != 0 && now.Before(due) {
		return due.Sub(now), nil
	}
	if n.gatherUntil.IsZero() {
		n.gatherUntil = now.Add(NoticeGather)
	}
	if now.Before(n.gatherUntil) {
		return n.gatherUntil.Sub(now), nil
	}
	err = n.Txn(ctx, func(ctx context.Context) error {
		// Read again in the transaction: what is cleared is what the notice lists.
		unknown, err := n.unconfigured(ctx)
		if err != nil || len(unknown) == 0 {
			return err
		}
		if err = n.Notifier.Notice(ctx, n.AdminRoom, n.notice(unknown, now)); err != nil {
			return err
		}
		if err = n.Store.ClearUnknown(ctx); err != nil {
			return err
		}
		return n.KV.Set(ctx, noticeKey, strconv.FormatInt(now.UnixMilli(), 10))
	})
	if err != nil {
		return 0, err
	}
	n.gatherUntil = time.Time{}
	zerolog.Ctx(ctx).Info().Int("names", len(unknown)).Msg("Told the admins of pings to jobs that are not configured")
	return noticeIdle, nil
}

// unconfigured returns the names pinged that no configured job has (a name that was
// unknown before a restart may be configured now).
func (n *Notices) unconfigured(ctx context.Context) ([]*state.UnknownJob, error) {
	all, err := n.Store.Unknown(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the pings to unknown jobs: %w", err)
	}
	var list []*state.UnknownJob
	for _, u := range all {
		if _, ok := n.Tracker.byName[u.Name]; !ok {
			list = append(list, u)
		}
	}
	return list, nil
}

// notice says which names were pinged, the most pinged first, and what to do.
func (n *Notices) notice(unknown []*state.UnknownJob, now time.Time) *render.Message {
	msg := render.New("❓ Something pings jobs that are not configured; their pings were answered 404:")
	items := make([]*render.Message, 0, min(len(unknown), noticeListed))
	for i, u := range unknown {
		if i == noticeListed {
			break
		}
		pings := "1 ping"
		if u.Count != 1 {
			pings = fmt.Sprintf("%d pings", u.Count)
		}
		items = append(items, new(render.Message).Code(u.Name).Text(fmt.Sprintf(": %s, the last at %s", pings, render.Clock(u.LastSeen, now))))
	}
	msg.List(items...)
	if len(unknown) > noticeListed {
		msg.Text(fmt.Sprintf("…and %d more names.", len(unknown)-noticeListed)).Line()
	}
	msg.Text("If they are yours, add them to jobs in the config file and restart Steward, or correct their ping URLs.")
	if names := n.configured(); names != "" {
		msg.Text(" The jobs configured are " + names + ".")
	} else {
		msg.Text(" No jobs are configured.")
	}
	return msg
}

func (n *Notices) configured() string {
	names := make([]string, 0, len(n.Tracker.specs))
	for _, s := range n.Tracker.specs {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}
