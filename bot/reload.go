package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

var _ commands.Reloader = (*Bot)(nil)

// Reload reads the config file again. A config with problems is refused whole, with
// every problem listed, and the running one is kept. A good one has its monitor
// section applied at once (the checks restart with it); changes elsewhere wait for the
// next restart, and the answer says which.
func (b *Bot) Reload(ctx context.Context) (*render.Message, error) {
	if b.opts.ConfigPath == "" {
		return nil, errors.New("Steward was not started from a config file")
	}
	cfg, err := config.Load(b.opts.ConfigPath)
	if err == nil {
		err = commands.Builtin(commands.Features{}).Tighten(cfg.Policy.Commands)
	}
	if err != nil {
		msg := render.New("The config file has problems, so I kept the running config:")
		var problems *config.Problems
		var items []*render.Message
		if errors.As(err, &problems) {
			for _, p := range *problems {
				items = append(items, render.New(p.String()))
			}
		} else {
			for line := range strings.SplitSeq(err.Error(), "\n") {
				items = append(items, render.New(line))
			}
		}
		return msg.List(items...), reloadRefused{err}
	}
	old := b.monitorConfig()
	msg := render.New("Reloaded the config.")
	if sameSettings(old, &cfg.Monitor) {
		// The checks keep running, with what they learnt (restart counts, the
		// disks' fill history).
		msg.Text(" The monitor settings are unchanged.")
	} else {
		b.monitorCfg.Store(&cfg.Monitor)
		select {
		case b.reloaded <- struct{}{}:
		default:
		}
		msg.Text(" The monitor settings are applied: the checks restart with them.")
	}
	var later []string
	if !sameSettings(old.DailyDigest, cfg.Monitor.DailyDigest) {
		later = append(later, "monitor.daily_digest")
	}
	for _, section := range []struct {
		name     string
		old, new any
	}{
		{"matrix", b.cfg.Matrix, cfg.Matrix}, {"data_dir", b.cfg.DataDir, cfg.DataDir}, {"log", b.cfg.Log, cfg.Log},
		{"rate_limit", b.cfg.RateLimit, cfg.RateLimit}, {"policy", b.cfg.Policy, cfg.Policy}, {"decision_log", b.cfg.DecisionLog, cfg.DecisionLog},
		{"oncall", b.cfg.OnCall, cfg.OnCall}, {"docker", b.cfg.Docker, cfg.Docker}, {"backups", b.cfg.Backups, cfg.Backups},
	} {
		if !sameSettings(section.old, section.new) {
			later = append(later, section.name)
		}
	}
	if len(later) > 0 {
		msg.Text(" Changes to " + strings.Join(later, ", ") + " take effect when Steward restarts.")
	}
	return msg, nil
}

// sameSettings compares two parts of a config by their values, as JSON: pointers by
// what they point to, and a loaded time zone (a new *time.Location on every load, with
// nothing exported) by the name written next to it.
func sameSettings(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// reloadRefused is a reload refused for a bad config: the running config stays.
type reloadRefused struct{ err error }

func (r reloadRefused) Error() string { return "config refused: " + r.err.Error() }

// monitorConfig is the monitor section in force.
func (b *Bot) monitorConfig() *config.Monitor {
	return b.monitorCfg.Load()
}

// reloadOnSignal reloads the config whenever the operator sends SIGHUP, and tells the
// admin room how it went.
func (b *Bot) reloadOnSignal(ctx context.Context) {
	if b.opts.ReloadSignals == nil {
		return
	}
	log := zerolog.Ctx(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.opts.ReloadSignals:
		}
		msg, err := b.Reload(ctx)
		entry := &state.AuditEntry{Actor: b.client.UserID, Action: "config.reload", Arguments: "SIGHUP", Outcome: state.OutcomeOK}
		switch {
		case errors.As(err, new(reloadRefused)):
			log.Warn().Err(err).Msg("Refused to reload a config with problems")
			entry.Outcome, entry.Detail = state.OutcomeRefused, err.Error()
		case err != nil:
			log.Err(err).Msg("Failed to reload the config")
			continue
		default:
			log.Info().Msg("Reloaded the config")
			entry.Detail = msg.Plain()
		}
		err = b.db.DoTxn(ctx, func(ctx context.Context) error {
			if _, err := b.db.Audit.Append(ctx, entry); err != nil {
				return err
			}
			return b.Send(ctx, b.adminRoom, msg.Notice())
		})
		if err != nil {
			log.Err(err).Msg("Failed to report the reload")
		}
	}
}
