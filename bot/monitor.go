package bot

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
)

// engineSettings is what the alert engine needs from the config.
func (b *Bot) engineSettings(m *config.Monitor) monitor.Settings {
	return monitor.Settings{
		AdminRoom: b.adminRoom, GroupRoom: b.groupRoom, Prefix: b.cfg.Matrix.CommandPrefix,
		GroupWait: m.GroupWait.D(), AnnounceAfter: m.AnnounceAfter.D(), EscalateAfter: m.EscalateAfter.D(),
		Admins: b.cfg.Matrix.Admins, OnDuty: b.onDuty, BotUserID: b.client.UserID,
	}
}

// checksFrom builds the checks the monitor section asks for.
func (b *Bot) checksFrom(m config.Monitor) []monitor.Check {
	margin := m.Hysteresis
	level := func(t config.Threshold, loadLike bool) *monitor.Level {
		if !t.On() {
			return nil
		}
		l := &monitor.Level{Threshold: monitor.Threshold{Warning: t.Warning, Critical: t.Critical, Margin: margin}, For: t.For.D(), Hint: t.Hint}
		if loadLike {
			// Load is no percentage: the margin is that share of its threshold.
			l.Margin = t.Warning * margin / 100
		}
		return l
	}
	checks := []monitor.Check{&monitor.HostCheck{
		CPU: level(m.CPU, false), Memory: level(m.Memory, false), Swap: level(m.Swap, false), Load: level(m.Load, true),
		Every: m.Interval.D(),
	}}
	if len(m.Disks) > 0 {
		disks := make([]monitor.DiskSpec, 0, len(m.Disks))
		for _, d := range m.Disks {
			disks = append(disks, monitor.DiskSpec{
				Path:     d.Path,
				Space:    monitor.Level{Threshold: monitor.Threshold{Warning: d.Warning, Critical: d.Critical, Margin: margin}, For: d.For.D(), Hint: d.Hint},
				Inodes:   monitor.Level{Threshold: monitor.Threshold{Warning: d.InodesWarning, Critical: d.InodesCritical, Margin: margin}, For: d.For.D(), Hint: d.Hint},
				Forecast: d.Forecast.D(),
			})
		}
		checks = append(checks, &monitor.DiskCheck{Disks: disks, Every: m.Interval.D(), Now: time.Now})
	}
	if m.Containers.On() {
		for _, engine := range b.docker.Engines() {
			checks = append(checks, &monitor.ContainerCheck{
				Host: engine.Name(), Engine: engine, KV: b.db.KV, Every: m.Interval.D(), RestartLoop: m.Containers.RestartLoop,
				RestartWindow: m.Containers.RestartWindow.D(), For: m.Containers.For.D(), Hint: m.Containers.Hint, Now: time.Now,
			})
		}
	}
	checks = append(checks, b.backups.newChecks()...)
	for _, h := range m.HTTP {
		checks = append(checks, monitor.NewHTTPCheck(monitor.HTTPSpec{
			Name: h.Name, URL: h.URL, Every: h.Interval.D(), Timeout: h.Timeout.D(), StatusOK: h.OK,
			LatencyWarning: h.LatencyWarning.D(), CertWarning: h.CertWarning.D(), CertCritical: h.CertCritical.D(),
			For: h.For.D(), Hint: h.Hint, Public: h.Public,
		}))
	}
	return checks
}

// runMonitor runs the checks of the current config until ctx ends, starting them
// again with the new config whenever it is reloaded.
func (b *Bot) runMonitor(ctx context.Context) {
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		m := b.monitorConfig()
		b.alerts.Reconfigure(b.engineSettings(m))
		go func() {
			defer close(done)
			b.alerts.Run(runCtx, b.checksFrom(*m))
		}()
		select {
		case <-ctx.Done():
		case <-b.reloaded:
		}
		stop()
		<-done
		if ctx.Err() != nil {
			return
		}
	}
}

// onDuty is the admin called first when a critical alert is not taken.
func (b *Bot) onDuty(ctx context.Context, t time.Time) (id.UserID, bool) {
	if !b.onCall.HasRotation() {
		return "", false
	}
	duty, err := b.onCall.At(ctx, t)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to tell who is on duty; calling the rotation's admin")
	}
	return duty.Admin, true
}

// announceHandovers tells the admin room, at each handover, who is on duty now.
func (b *Bot) announceHandovers(ctx context.Context) {
	if !b.onCall.HasRotation() {
		return
	}
	r := b.onCall.Rotation
	period := 7 * 24 * time.Hour
	if r.Daily {
		period = 24 * time.Hour
	}
	b.runSchedule(ctx, schedule{
		key:      "oncall_handover_slot",
		lastSlot: r.Handover,
		period:   period,
		post: func(ctx context.Context) error {
			now := time.Now()
			duty, err := b.onCall.At(ctx, now)
			if err != nil {
				return err
			}
			msg := render.New("🔁 Handover: ").Pill(duty.Admin).Text(" is on duty until " + duty.Until.UTC().Format("Mon 2 Jan 15:04 UTC") + ". ").
				Code(b.cfg.Matrix.CommandPrefix + "oncall take").Text(" takes over.")
			content := msg.Notice()
			content.Mentions = &event.Mentions{UserIDs: []id.UserID{duty.Admin}}
			return b.Send(ctx, b.adminRoom, content)
		},
	})
}
