package dockerctl

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// Notifier tells a room something (the Matrix transport's outbox).
type Notifier interface {
	Notice(ctx context.Context, roomID id.RoomID, msg *render.Message, mentions ...id.UserID) error
}

// updateCheckKey remembers when the images were last checked (Unix ms), so a restart
// neither checks at once every time nor skips a check.
const updateCheckKey = "update_check_at"

// updateSeenPrefix remembers, per image reference, the newest digest the admin room
// was told about, so each new version is told once.
const updateSeenPrefix = "update_seen:"

// Announcer tells the admin room about newer images and about the updates a stop cut
// short and that Steward put right.
type Announcer struct {
	Fleet    *Fleet
	Updaters Updaters
	// Every is how often the registries are asked (docker.update_check); 0 never.
	Every time.Duration
	// KV remembers when the images were checked and which versions were told.
	KV interface {
		Get(ctx context.Context, key string) (string, error)
		Set(ctx context.Context, key, value string) error
	}
	Audit interface {
		Append(ctx context.Context, e *state.AuditEntry) (int64, error)
	}
	Txn       func(ctx context.Context, fn func(ctx context.Context) error) error
	Notifier  Notifier
	AdminRoom id.RoomID
	// Prefix is the command prefix, for the hints in messages; Actor is Steward's
	// own ID, for the decision log.
	Prefix string
	Actor  id.UserID
}

// CheckUpdates asks the registries for newer images every Every, and tells the admin
// room about the new ones.
func (a *Announcer) CheckUpdates(ctx context.Context) {
	if a.Every <= 0 {
		return
	}
	log := zerolog.Ctx(ctx).With().Str("component", "update_check").Logger()
	var lastTry int64
	for {
		raw, err := a.KV.Get(ctx, updateCheckKey)
		if err != nil {
			log.Err(err).Msg("Failed to read when images were last checked")
		}
		last, _ := strconv.ParseInt(raw, 10, 64)
		// A check that could not be recorded still counts, so a database that
		// refuses writes does not make Steward ask the registries nonstop.
		last = max(last, lastTry)
		if wait := time.Until(time.UnixMilli(last).Add(a.Every)); wait > 0 {
			if !service.Sleep(ctx, min(wait, time.Hour), nil) {
				return
			}
			continue
		}
		lastTry = time.Now().UnixMilli()
		if err = a.reportUpdates(ctx); err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("Failed to check images for updates")
		}
		if err = a.KV.Set(ctx, updateCheckKey, strconv.FormatInt(time.Now().UnixMilli(), 10)); err != nil {
			log.Err(err).Msg("Failed to record the update check")
		}
	}
}

// reportUpdates checks every container's image once and tells the admin room about
// digests it has not told before.
func (a *Announcer) reportUpdates(ctx context.Context) error {
	containers, err := a.Fleet.Containers(ctx, "")
	if unreachable := (*UnreachableError)(nil); errors.As(err, &unreachable) {
		// The hosts that answered are checked; the others alert through the monitor.
		zerolog.Ctx(ctx).Warn().Err(err).Msg("Checking images for updates without some hosts")
	} else if err != nil {
		return err
	}
	updates := a.Fleet.CheckUpdates(ctx, containers)
	return a.Txn(ctx, func(ctx context.Context) error {
		var items []*render.Message
		told := make(map[string]bool)
		for _, u := range updates {
			if u.State != UpdateAvailable {
				continue
			}
			seen, err := a.KV.Get(ctx, updateSeenPrefix+u.Image)
			if err != nil {
				return err
			}
			if seen == u.Latest && !told[u.Image] {
				continue
			}
			told[u.Image] = true
			if err = a.KV.Set(ctx, updateSeenPrefix+u.Image, u.Latest); err != nil {
				return err
			}
			items = append(items, render.New("").Code(u.Ref()).Text(" runs ").Code(u.Image).
				Text(" ("+ShortDigest(u.Running)+"); the registry now has "+ShortDigest(u.Latest)+"."))
		}
		if len(items) == 0 {
			return nil
		}
		zerolog.Ctx(ctx).Info().Int("containers", len(items)).Msg("Newer images found")
		msg := render.New("🆕 Newer images are available under the same tags:").List(items...).
			Text("Send ").Code(a.Prefix + "updates").Text(" for the full list.")
		return a.Notifier.Notice(ctx, a.AdminRoom, msg)
	})
}

// Recover puts right the container updates a stop cut short, before anything else
// runs, and tells the admin room what it did. After a reboot the Docker Engine may come
// up after Steward: it is given about a minute. It reports whether the interrupted
// updates are settled; if not, KeepRecovering goes on in the background.
func (a *Announcer) Recover(ctx context.Context) (settled bool) {
	log := zerolog.Ctx(ctx)
	wait := 2 * time.Second
	for attempt := 0; ; attempt++ {
		jobs, err := a.Updaters.Recover(ctx)
		a.reportRecovered(ctx, jobs)
		if err == nil {
			return true
		}
		log.Warn().Err(err).Msg("Can't settle interrupted container updates yet")
		if attempt == 5 || !service.Sleep(ctx, wait, nil) {
			return false
		}
		wait *= 2
	}
}

// KeepRecovering tries to settle the interrupted updates every minute until they are.
func (a *Announcer) KeepRecovering(ctx context.Context) {
	for service.Sleep(ctx, time.Minute, nil) {
		jobs, err := a.Updaters.Recover(ctx)
		a.reportRecovered(ctx, jobs)
		if err == nil {
			return
		}
	}
}

// reportRecovered tells the admin room about the interrupted updates Recover settled.
func (a *Announcer) reportRecovered(ctx context.Context, jobs []*state.UpdateJob) {
	log := zerolog.Ctx(ctx)
	for _, job := range jobs {
		if job.Outcome == "" {
			continue // not settled yet
		}
		log.Warn().Str("container", job.Container).Str("step", job.Step).Str("outcome", job.Outcome).Msg("Recovered an interrupted container update")
		msg := render.New("Steward stopped while it was updating ").Code(JoinRef(job.Host, job.Container)).Text(" (at step " + job.Step + "). ")
		switch job.Outcome {
		case OutcomeDone:
			msg.Text("The new container had already proved healthy, so I finished the update.")
		case OutcomeRolledBack:
			msg.Text("I put the previous container back as it was; it runs again. Send the update again when ready.")
		default:
			msg.Text("I could not put things right: " + job.Detail + ". Please check it by hand (" + a.Prefix + "containers).")
		}
		err := a.Txn(ctx, func(ctx context.Context) error {
			if _, err := a.Audit.Append(ctx, &state.AuditEntry{
				Actor: a.Actor, Action: "update.recovered", Arguments: JoinRef(job.Host, job.Container) + " " + job.Image,
				Outcome: job.Outcome, Detail: job.Detail,
			}); err != nil {
				return err
			}
			return a.Notifier.Notice(ctx, a.AdminRoom, msg)
		})
		if err != nil {
			log.Err(err).Msg("Failed to report a recovered update")
		}
	}
}
