package main

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// readConfig loads the config file and checks policy.commands against the commands
// that exist (the command package's knowledge, so not config's); its problems come as
// config's own do, with key and line. A start, check-config and a reload all read the
// config through it.
func readConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err = commands.Builtin(commands.Features{}).Tighten(cfg.Policy); err != nil {
		return nil, err
	}
	return cfg, nil
}

// problemLines lists a refused config's problems, one a line.
func problemLines(err error) []string {
	var problems *config.Problems
	if errors.As(err, &problems) {
		lines := make([]string, 0, len(*problems))
		for _, p := range *problems {
			lines = append(lines, p.String())
		}
		return lines
	}
	return strings.Split(err.Error(), "\n")
}

// reloader reads the config file again, for !reload and SIGHUP.
type reloader struct {
	path    string
	running *config.Config
	monitor *monitorRunner
	// signals delivers the operator's requests to reload (SIGHUP).
	signals <-chan os.Signal

	db        *state.DB
	notifier  monitor.Notifier
	adminRoom id.RoomID
	actor     id.UserID
}

var _ commands.Reloader = (*reloader)(nil)

// Reload reads the config file again. A config with problems is refused whole, with
// every problem listed, and the running one is kept. A good one has its monitor
// section applied at once (the checks restart with it); changes elsewhere wait for the
// next restart, and the answer says which.
func (r *reloader) Reload(ctx context.Context) (*render.Message, error) {
	if r.path == "" {
		return nil, errors.New("Steward was not started from a config file")
	}
	cfg, err := readConfig(r.path)
	if err != nil {
		msg := render.New("The config file has problems, so I kept the running config:")
		var items []*render.Message
		for _, line := range problemLines(err) {
			items = append(items, render.New(line))
		}
		return msg.List(items...), reloadRefused{err}
	}
	old := r.monitor.Current()
	msg := render.New("Reloaded the config.")
	if config.SameSettings(old, &cfg.Monitor) {
		// The checks keep running, with what they learnt (restart counts, the
		// disks' fill history).
		msg.Text(" The monitor settings are unchanged.")
	} else {
		r.monitor.Apply(&cfg.Monitor)
		msg.Text(" The monitor settings are applied: the checks restart with them.")
	}
	// What runs is the config Steward started with, but for the monitor section
	// in force; the daily digest's schedule is still the one Steward started with,
	// whatever an earlier reload said.
	running := *r.running
	running.Monitor = *old
	running.Monitor.DailyDigest = r.running.Monitor.DailyDigest
	if later := config.RestartNeeded(&running, cfg); len(later) > 0 {
		msg.Text(" Changes to " + strings.Join(later, ", ") + " take effect when Steward restarts.")
	}
	return msg, nil
}

// reloadRefused is a reload refused for a bad config: the running config stays.
type reloadRefused struct{ err error }

func (r reloadRefused) Error() string { return "config refused: " + r.err.Error() }

// OnSignal reloads the config whenever the operator sends SIGHUP, and tells the admin
// room how it went.
func (r *reloader) OnSignal(ctx context.Context) {
	if r.signals == nil {
		return
	}
	log := zerolog.Ctx(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.signals:
		}
		msg, err := r.Reload(ctx)
		entry := &state.AuditEntry{Actor: r.actor, Action: "config.reload", Arguments: "SIGHUP", Outcome: state.OutcomeOK}
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
		err = r.db.DoTxn(ctx, func(ctx context.Context) error {
			if _, err := r.db.Audit.Append(ctx, entry); err != nil {
				return err
			}
			return r.notifier.Notice(ctx, r.adminRoom, msg)
		})
		if err != nil {
			log.Err(err).Msg("Failed to report the reload")
		}
	}
}
