package bot

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// updateCheckKey remembers when the images were last checked (Unix ms), so a restart
// neither checks at once every time nor skips a check.
const updateCheckKey = "update_check_at"

// updateSeenPrefix remembers, per image reference, the newest digest the admin room
// was told about, so each new version is told once.
const updateSeenPrefix = "update_seen:"

// checkUpdates asks the registries for newer images every docker.update_check, and
// tells the admin room about the new ones.
func (b *Bot) checkUpdates(ctx context.Context) {
	every := b.cfg.Docker.UpdateCheck.D()
	if every <= 0 {
		return
	}
	log := zerolog.Ctx(ctx).With().Str("component", "update_check").Logger()
	var lastTry int64
	for {
		raw, err := b.db.KV.Get(ctx, updateCheckKey)
		if err != nil {
			log.Err(err).Msg("Failed to read when images were last checked")
		}
		last, _ := strconv.ParseInt(raw, 10, 64)
		// A check that could not be recorded still counts, so a database that
		// refuses writes does not make Steward ask the registries nonstop.
		last = max(last, lastTry)
		if wait := time.Until(time.UnixMilli(last).Add(every)); wait > 0 {
			if !service.Sleep(ctx, min(wait, time.Hour), nil) {
				return
			}
			continue
		}
		lastTry = time.Now().UnixMilli()
		if err = b.reportUpdates(ctx); err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("Failed to check images for updates")
		}
		if err = b.db.KV.Set(ctx, updateCheckKey, strconv.FormatInt(time.Now().UnixMilli(), 10)); err != nil {
			log.Err(err).Msg("Failed to record the update check")
		}
	}
}

// reportUpdates checks every container's image once and tells the admin room about
// digests it has not told before.
func (b *Bot) reportUpdates(ctx context.Context) error {
	containers, err := b.docker.Containers(ctx, "")
	if unreachable := (*dockerctl.UnreachableError)(nil); errors.As(err, &unreachable) {
		// The hosts that answered are checked; the others alert through the monitor.
		zerolog.Ctx(ctx).Warn().Err(err).Msg("Checking images for updates without some hosts")
	} else if err != nil {
		return err
	}
	updates := b.docker.CheckUpdates(ctx, containers)
	return b.db.DoTxn(ctx, func(ctx context.Context) error {
		var items []*render.Message
		told := make(map[string]bool)
		for _, u := range updates {
			if u.State != dockerctl.UpdateAvailable {
				continue
			}
			seen, err := b.db.KV.Get(ctx, updateSeenPrefix+u.Image)
			if err != nil {
				return err
			}
			if seen == u.Latest && !told[u.Image] {
				continue
			}
			told[u.Image] = true
			if err = b.db.KV.Set(ctx, updateSeenPrefix+u.Image, u.Latest); err != nil {
				return err
			}
			items = append(items, render.New("").Code(u.Ref()).Text(" runs ").Code(u.Image).
				Text(" ("+dockerctl.ShortDigest(u.Running)+"); the registry now has "+dockerctl.ShortDigest(u.Latest)+"."))
		}
		if len(items) == 0 {
			return nil
		}
		zerolog.Ctx(ctx).Info().Int("containers", len(items)).Msg("Newer images found")
		msg := render.New("🆕 Newer images are available under the same tags:").List(items...).
			Text("Send ").Code(b.cfg.Matrix.CommandPrefix + "updates").Text(" for the full list.")
		return b.Send(ctx, b.adminRoom, msg.Notice())
	})
}

// recoverUpdates puts right the container updates a stop cut short, before anything
// else runs, and tells the admin room what it did. After a reboot the Docker Engine
// may come up after Steward: it is given about a minute, and reports whether the
// interrupted updates are settled; if not, retryRecoverUpdates goes on in the
// background.
func (b *Bot) recoverUpdates(ctx context.Context) (settled bool) {
	log := zerolog.Ctx(ctx)
	wait := 2 * time.Second
	for attempt := 0; ; attempt++ {
		jobs, err := b.updaters.Recover(ctx)
		b.reportRecovered(ctx, jobs)
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

// retryRecoverUpdates tries to settle the interrupted updates every minute until they
// are.
func (b *Bot) retryRecoverUpdates(ctx context.Context) {
	for service.Sleep(ctx, time.Minute, nil) {
		jobs, err := b.updaters.Recover(ctx)
		b.reportRecovered(ctx, jobs)
		if err == nil {
			return
		}
	}
}

// reportRecovered tells the admin room about the interrupted updates Recover settled.
func (b *Bot) reportRecovered(ctx context.Context, jobs []*state.UpdateJob) {
	log := zerolog.Ctx(ctx)
	for _, job := range jobs {
		if job.Outcome == "" {
			continue // not settled yet
		}
		log.Warn().Str("container", job.Container).Str("step", job.Step).Str("outcome", job.Outcome).Msg("Recovered an interrupted container update")
		msg := render.New("Steward stopped while it was updating ").Code(dockerctl.JoinRef(job.Host, job.Container)).Text(" (at step " + job.Step + "). ")
		switch job.Outcome {
		case dockerctl.OutcomeDone:
			msg.Text("The new container had already proved healthy, so I finished the update.")
		case dockerctl.OutcomeRolledBack:
			msg.Text("I put the previous container back as it was; it runs again. Send the update again when ready.")
		default:
			msg.Text("I could not put things right: " + job.Detail + ". Please check it by hand (" + b.cfg.Matrix.CommandPrefix + "containers).")
		}
		err := b.db.DoTxn(ctx, func(ctx context.Context) error {
			if _, err := b.db.Audit.Append(ctx, &state.AuditEntry{
				Actor: b.client.UserID, Action: "update.recovered", Arguments: dockerctl.JoinRef(job.Host, job.Container) + " " + job.Image,
				Outcome: job.Outcome, Detail: job.Detail,
			}); err != nil {
				return err
			}
			return b.Send(ctx, b.adminRoom, msg.Notice())
		})
		if err != nil {
			log.Err(err).Msg("Failed to report a recovered update")
		}
	}
}
