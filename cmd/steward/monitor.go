package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/backup"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/health"
	"github.com/steward-bot/steward/jobs"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/state"
)

// monitorRunner runs the alert engine's checks of the monitor section in force, and
// starts them again when a reload changes it.
type monitorRunner struct {
	cfg       *config.Config
	engine    *monitor.Engine
	onCall    *monitor.OnCall
	docker    *dockerctl.Fleet
	kv        *state.KV
	backups   *backup.Checks
	adminRoom id.RoomID
	groupRoom id.RoomID
	botUserID id.UserID
	// sources are the names of the alerts senders outside Steward report (Alertmanager),
	// which the engine keeps across restarts of the checks.
	sources []string
	// decisionLog refuses to anchor a rewritten decision log; its check alerts on it.
	decisionLog health.DecisionLogWitness
	// self is Steward's check of itself, given its interval and margin from the monitor
	// section in force.
	self health.SelfCheck
	// jobs are the jobs that ping Steward, from the config it started with (a reload
	// leaves them to the next restart).
	jobs *jobs.Tracker
	// upstream is where silences over the sources' alerts are made too (Alertmanager,
	// with alertmanager.url); nil for none.
	upstream monitor.Upstream

	// current is the monitor section in force; Apply replaces it and signals
	// reloaded.
	current  atomic.Pointer[config.Monitor]
	reloaded chan struct{}
}

// newMonitorRunner makes the runner and its engine, the engine set up from the
// config the runner was given; a reload later reaches it through Apply.
func newMonitorRunner(r *monitorRunner, db *state.DB, msgr monitor.Messenger) *monitorRunner {
	r.reloaded = make(chan struct{}, 1)
	r.current.Store(&r.cfg.Monitor)
	r.engine = monitor.NewEngine(r.settings(r.Current()), db.Alerts, db.Silences, msgr, db.Audit, db.DoTxn, time.Now)
	return r
}

// Current is the monitor section in force, read atomically: Apply may swap it from
// a reload while the checks run.
func (r *monitorRunner) Current() *config.Monitor { return r.current.Load() }

// Apply puts m in force: the checks restart with it.
func (r *monitorRunner) Apply(m *config.Monitor) {
	r.current.Store(m)
	select {
	case r.reloaded <- struct{}{}:
	default:
	}
}

// Run runs the checks of the current config until ctx ends, starting them again with
// the new config whenever it is reloaded.
func (r *monitorRunner) Run(ctx context.Context) {
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		m := r.Current()
		r.engine.Reconfigure(r.settings(m))
		go func() {
			defer close(done)
			r.engine.Run(runCtx, r.checks(*m), r.sources...)
		}()
		select {
		case <-ctx.Done():
		case <-r.reloaded:
		}
		stop()
		<-done
		if ctx.Err() != nil {
			return
		}
	}
}

// settings is what the alert engine needs from the config.
func (r *monitorRunner) settings(m *config.Monitor) monitor.Settings {
	return monitor.Settings{
		AdminRoom: r.adminRoom, GroupRoom: r.groupRoom, Prefix: r.cfg.Matrix.CommandPrefix,
		GroupWait: m.GroupWait.D(), AnnounceAfter: m.AnnounceAfter.D(), EscalateAfter: m.EscalateAfter.D(),
		Admins: r.cfg.Matrix.Admins, OnDuty: r.onDuty, BotUserID: r.botUserID, Upstream: r.upstream,
	}
}

// checks builds the checks the monitor section asks for.
func (r *monitorRunner) checks(m config.Monitor) []monitor.Check {
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
		for _, engine := range r.docker.Engines() {
			checks = append(checks, &monitor.ContainerCheck{
				Host: engine.Name(), Engine: engine, KV: r.kv, Every: m.Interval.D(), RestartLoop: m.Containers.RestartLoop,
				RestartWindow: m.Containers.RestartWindow.D(), For: m.Containers.For.D(), Hint: m.Containers.Hint, Now: time.Now,
			})
		}
	}
	checks = append(checks, r.backups.New()...)
	self := r.self
	self.Every, self.DiskFull = m.Interval.D(), health.DataDirFull
	self.DiskFull.Margin = margin
	checks = append(checks, &self, &health.DecisionLogCheck{Witness: r.decisionLog, Every: m.Interval.D()})
	if len(r.jobs.Specs()) > 0 {
		checks = append(checks, r.jobs.Check())
	}
	for _, h := range m.HTTP {
		checks = append(checks, monitor.NewHTTPCheck(monitor.HTTPSpec{
			Name: h.Name, URL: h.URL, Every: h.Interval.D(), Timeout: h.Timeout.D(), StatusOK: h.OK,
			LatencyWarning: h.LatencyWarning.D(), CertWarning: h.CertWarning.D(), CertCritical: h.CertCritical.D(),
			For: h.For.D(), Hint: h.Hint, Public: h.Public,
		}))
	}
	return checks
}

// onDuty is the admin called first when a critical alert is not taken.
func (r *monitorRunner) onDuty(ctx context.Context, t time.Time) (id.UserID, bool) {
	if !r.onCall.HasRotation() {
		return "", false
	}
	duty, err := r.onCall.At(ctx, t)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to tell who is on duty; calling the rotation's admin")
	}
	return duty.Admin, true
}
