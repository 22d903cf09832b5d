package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/alertmanager"
	"github.com/steward-bot/steward/approval"
	"github.com/steward-bot/steward/backup"
	"github.com/steward-bot/steward/bot"
	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/health"
	"github.com/steward-bot/steward/httpapi"
	"github.com/steward-bot/steward/jobs"
	"github.com/steward-bot/steward/metrics"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/retention"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
	"github.com/steward-bot/steward/tickets"
)

// How long a shutdown waits for running commands, then for the outbox to deliver what
// they queued. What is not sent by then stays queued for the next start.
const (
	commandGrace = 10 * time.Second
	outboxGrace  = 5 * time.Second
)

// runOptions are the choices of `steward run` made outside the config file.
type runOptions struct {
	bot.Options
	// configPath is the config file, read again on a reload.
	configPath string
	// reloadSignals delivers the operator's requests to reload the config (SIGHUP).
	reloadSignals <-chan os.Signal
}

// serve builds Steward from cfg and runs it until ctx ends or a part of it fails for
// good. It returns once every part has stopped and the database is closed.
func serve(ctx context.Context, cfg *config.Config, opts runOptions, log zerolog.Logger) error {
	ctx = log.WithContext(ctx)

	// The database, under data_dir, with everything Steward remembers.
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()

	// The Matrix transport: login, encryption, the configured rooms. Commands taken
	// from its inbox run on work, which a shutdown gives time to finish.
	work := service.NewWork(ctx)
	matrix := bot.New(cfg, db, work, opts.Options, log)
	connected := fallbackWhileConnecting(ctx, cfg, db)
	err = matrix.Connect(ctx)
	connected()
	if err != nil {
		return err
	}
	defer matrix.Close()

	// The Docker Engines, each connecting when first used.
	docker, err := dockerctl.ConnectFleet(endpoints(cfg.Docker))
	if err != nil {
		return err
	}
	defer docker.Close()

	p := &parts{cfg: cfg, db: db, matrix: matrix, outbox: matrix.Outbox(), work: work, docker: docker}
	p.buildUpdates()
	p.buildBackups()
	if err = p.buildHealth(); err != nil {
		return err
	}
	p.buildJobs()
	if err = p.buildMonitor(); err != nil {
		return err
	}
	p.buildTickets()
	p.buildApprovals()
	if err = p.buildCommands(opts); err != nil {
		return err
	}
	if err = p.buildListener(ctx); err != nil {
		return err
	}
	matrix.Handle(dispatcher{proc: p.proc, router: p.router})

	if err = p.recover(work.Context()); err != nil {
		// Recovery may have started approved commands in the background already;
		// they end before the database closes.
		work.Stop()
		return err
	}
	return service.Run(ctx, p.stages(log)...)
}

// parts are the pieces of a running Steward, built in the order serve lists, each
// from the config and the pieces before it.
type parts struct {
	cfg    *config.Config
	db     *state.DB
	matrix *bot.Bot
	outbox *bot.Outbox
	work   *service.Work
	docker *dockerctl.Fleet

	updaters       dockerctl.Updaters
	updates        *dockerctl.Announcer
	updatesSettled bool

	backups        *backup.Manager
	backupChecks   *backup.Checks
	scheduler      *backup.Scheduler
	backupRecovery *backup.Recovery

	jobs       *jobs.Tracker
	jobNotices *jobs.Notices

	onCall   *monitor.OnCall
	monitors *monitorRunner

	tracker   *tickets.Tracker
	router    *tickets.Router
	members   *commands.Limiter
	reminders *tickets.Reminders

	approvals *approval.Engine
	summaries *commands.Summaries

	reload   *reloader
	registry *commands.Registry
	proc     *commands.Processor

	transport transportHealth
	readiness *health.Readiness
	systemd   *health.Systemd

	metrics *prometheus.Registry
	http    *httpapi.Server
}

// buildUpdates makes the updaters that replace containers with newer images,
// journaling each step, one per engine, and what tells the admin room about new images.
func (p *parts) buildUpdates() {
	p.updaters = make(dockerctl.Updaters)
	for _, engine := range p.docker.Engines() {
		p.updaters[engine.Name()] = &dockerctl.Updater{
			Host: engine.Name(), Runtime: engine, Journal: p.db.UpdateJobs, Settle: p.cfg.Docker.Settle.D(), Now: time.Now, Poll: 500 * time.Millisecond,
			Hook: func(step string) { bot.CrashPoint("update-" + step) },
		}
	}
	p.updates = &dockerctl.Announcer{
		Fleet: p.docker, Updaters: p.updaters, Every: p.cfg.Docker.UpdateCheck.D(), KV: p.db.KV, Audit: p.db.Audit, Txn: p.db.DoTxn,
		Notifier: p.outbox, AdminRoom: p.matrix.AdminRoom(), Prefix: p.cfg.Matrix.CommandPrefix, Actor: p.matrix.UserID(),
	}
}

// buildBackups makes the backup side: the manager commands use, the checks the alert
// engine runs, the scheduler of integrity checks and drills.
func (p *parts) buildBackups() {
	cfg := p.cfg.Backups
	sets := make([]*backup.Set, 0, len(cfg.Sets))
	for _, s := range cfg.Sets {
		sets = append(sets, setFrom(s))
	}
	backup.LinkOffsite(sets)
	tool := &backup.Restic{CacheDir: filepath.Join(p.cfg.DataDir, "restic-cache")}
	p.backups = backup.NewManager(sets)
	p.backupChecks = &backup.Checks{Manager: p.backups, Every: cfg.Interval.D()}
	p.scheduler = &backup.Scheduler{
		Sets: sets, Tool: tool, Runs: p.db.BackupRuns, ScratchRoot: cfg.StagingDir, Now: time.Now, Done: p.backupChecks.Wake,
	}
	p.backups.Tool, p.backups.RunStore, p.backups.Scheduler, p.backups.Now = tool, p.db.BackupRuns, p.scheduler, time.Now
	p.backups.Restorer = &backup.Restorer{
		Tool: tool, Runs: p.db.BackupRuns, StagingDir: cfg.StagingDir, Now: time.Now,
		Containers: restoreContainers{p.docker},
		Hook:       func(step string) { bot.CrashPoint("restore-" + step) },
	}
	p.backupRecovery = &backup.Recovery{
		Manager: p.backups, Runs: p.db.BackupRuns, Audit: p.db.Audit, Txn: p.db.DoTxn,
		Notifier: p.outbox, AdminRoom: p.matrix.AdminRoom(), Actor: p.matrix.UserID(),
	}
}

// buildJobs makes the tracker of the jobs outside Steward that ping it (cron lines,
// borgmatic): their pings' routes, their check, !jobs; and the daily notice of pings
// to jobs that are not configured.
func (p *parts) buildJobs() {
	specs := make([]jobs.Spec, 0, len(p.cfg.Jobs))
	for _, j := range p.cfg.Jobs {
		specs = append(specs, jobs.Spec{Name: j.Name, Every: j.Every.D(), Grace: j.Grace.D(), Hint: j.Hint})
	}
	p.jobs = jobs.NewTracker(specs, p.db.Jobs, time.Now)
	p.jobNotices = &jobs.Notices{
		Tracker: p.jobs, Store: p.db.Jobs, KV: p.db.KV, Txn: p.db.DoTxn,
		Notifier: p.outbox, AdminRoom: p.matrix.AdminRoom(), Now: time.Now,
	}
}

// buildMonitor makes the on-call rotation and the alert engine with its checks. With
// a listener, the alerts Alertmanager sends are kept across restarts of the checks;
// with alertmanager.url, silences over them are made in Alertmanager too.
func (p *parts) buildMonitor() error {
	oc := p.cfg.OnCall
	p.onCall = &monitor.OnCall{KV: p.db.KV, Rotation: monitor.Rotation{
		Admins: oc.Rotation, Daily: oc.Daily(), Weekday: oc.Weekday(), Hour: oc.Hour, Zone: oc.Location,
	}}
	runner := &monitorRunner{
		cfg: p.cfg, onCall: p.onCall, docker: p.docker, kv: p.db.KV, backups: p.backupChecks, jobs: p.jobs,
		adminRoom: p.matrix.AdminRoom(), groupRoom: p.matrix.GroupRoom(), botUserID: p.matrix.UserID(), decisionLog: p.matrix,
		self: health.SelfCheck{
			Transport: p.transport, Outbox: p.db.Outbox, Ready: p.readiness, Admins: p.cfg.Matrix.Admins, DataDir: p.cfg.DataDir,
			Unreachable: p.cfg.HTTP.ReadySyncAge.D(), Now: time.Now,
		},
	}
	if p.cfg.HTTP.Listen != "" {
		runner.sources = append(runner.sources, alertmanager.Source)
	}
	if p.cfg.Alertmanager.URL != "" {
		client, err := alertmanager.NewClient(p.cfg.Alertmanager.URL)
		if err != nil {
			return err
		}
		runner.upstream = client
	}
	p.monitors = newMonitorRunner(runner, p.db, p.outbox)
	return nil
}

// buildTickets makes the tickets: members' requests and reports, carried to the
// admins and back. Who is a member is the command processor's knowledge, built next.
func (p *parts) buildTickets() {
	cfg := p.cfg.Tickets
	// One bucket per member for what they say outside commands: tickets' messages,
	// invitations to private chats, reactions.
	p.members = commands.NewLimiter(p.cfg.RateLimit.MessageBurst, p.cfg.RateLimit.MessagesPerMinute, time.Now)
	p.tracker = &tickets.Tracker{
		Settings: tickets.Settings{
			AdminRoom: p.matrix.AdminRoom(), GroupRoom: p.matrix.GroupRoom(), Admins: p.cfg.Matrix.Admins, Prefix: p.cfg.Matrix.CommandPrefix,
			AbuseDeadline: cfg.AbuseDeadline.D(), RemindBefore: cfg.RemindBefore.D(), MaxPerDay: cfg.MaxPerDay,
		},
		Store: p.db.Tickets, Matrix: ticketMatrix{p.matrix}, Once: p.db.KV, Txn: p.db.DoTxn, Now: time.Now, Private: p.matrix.IsPrivateChat,
	}
	p.router = &tickets.Router{
		Tracker: p.tracker, Lookup: p.db.Tickets, ThreadMessage: p.matrix.ThreadMessage, Replier: p.outbox, IsPrivateChat: p.matrix.IsPrivateChat,
		IsAdmin:          func(ctx context.Context, user id.UserID) bool { return p.proc.RoleOf(ctx, user) == commands.RoleAdmin },
		IsMember:         func(ctx context.Context, user id.UserID) bool { return p.proc.RoleOf(ctx, user) >= commands.RoleMember },
		VerifiedRequired: p.cfg.Matrix.VerifiedDevicesRequired(), SignReplies: cfg.SignReplies, Limiter: p.members,
	}
	p.matrix.Pace(p.members)
	p.reminders = &tickets.Reminders{Tracker: p.tracker, Scrub: p.db.Tickets.Scrub, Retention: cfg.Retention.D(), StartedAt: time.Now()}
}

// buildApprovals makes the approval stage: the requests to the admins for what needs
// their agreement, the votes, the expiry, and the exactly-once run of what they approve.
func (p *parts) buildApprovals() {
	cfg := p.cfg
	p.approvals = approval.NewEngine(approval.Settings{
		Prefix:           cfg.Matrix.CommandPrefix,
		Admins:           cfg.Matrix.Admins,
		BotUserID:        p.matrix.UserID(),
		TTL:              cfg.Policy.ApprovalTTL.D(),
		AllowSingleAdmin: cfg.Policy.AllowSingleAdmin,
	}, approval.Deps{
		Store: p.db.Approvals, Log: p.db.Audit, Messenger: p.outbox, Once: p.db.KV,
		Txn: p.db.DoTxn, Background: p.work.Go, Now: time.Now,
	})
}

// buildCommands makes the commands, each family given what it works with, tightened by
// policy.commands, and the processor that dispatches them, handing what needs approval
// to the approval stage.
func (p *parts) buildCommands(opts runOptions) error {
	cfg := p.cfg
	p.reload = &reloader{
		path: opts.configPath, running: cfg, monitor: p.monitors, signals: opts.reloadSignals,
		db: p.db, notifier: p.outbox, adminRoom: p.matrix.AdminRoom(), actor: p.matrix.UserID(),
	}
	p.summaries = &commands.Summaries{
		Prefix: cfg.Matrix.CommandPrefix, Log: p.db.Audit, Requests: p.db.Approvals, Backups: p.backups, Now: time.Now,
	}
	registry := commands.Builtin(commands.Features{
		Disks:            diskPaths(cfg),
		Alerts:           p.monitors.engine,
		OnCall:           p.onCall,
		Reloader:         p.reload,
		Containers:       p.docker,
		Updater:          p.updaters,
		Backups:          p.backups,
		Tickets:          ticketCommands{Tracker: p.tracker, router: p.router, store: p.db.Tickets, matrix: p.matrix},
		TicketCategories: cfg.Tickets.Categories,
		Moderator:        p.matrix,
		Summaries:        p.summaries,
		Jobs:             p.jobs,
		LogWitness:       logWitness{p.matrix, p.db.Audit},
		Identities:       p.matrix,
	})
	if err := registry.Tighten(cfg.Policy); err != nil {
		return err
	}
	p.registry = registry
	p.proc = commands.NewProcessor(commands.Settings{
		Prefix:           cfg.Matrix.CommandPrefix,
		Admins:           cfg.Matrix.Admins,
		AdminRoom:        p.matrix.AdminRoom(),
		GroupRoom:        p.matrix.GroupRoom(),
		BotUserID:        p.matrix.UserID(),
		StaleAfter:       cfg.Matrix.StaleAfter.D(),
		RequireVerified:  cfg.Matrix.VerifiedDevicesRequired(),
		AllowUnencrypted: cfg.Matrix.AllowUnencrypted,
	}, registry, commands.Deps{
		Messenger:  p.outbox,
		Rooms:      p.matrix,
		Audit:      p.db.Audit,
		Once:       p.db.KV,
		Approvals:  p.approvals,
		Requests:   p.db.Approvals,
		Acks:       p.monitors.engine,
		Background: p.work.Go,
		Txn:        p.db.DoTxn,
		Limiter:    commands.NewLimiter(cfg.RateLimit.Burst, cfg.RateLimit.PerMinute, time.Now),
		Reactions:  p.members,
		Now:        time.Now,
	})
	return nil
}

// buildListener makes the metrics registry with Steward's collector and, when
// http.listen is set, the listener with its routes, and opens its socket, so that an
// address in use fails the start.
func (p *parts) buildListener(ctx context.Context) error {
	p.metrics = metrics.NewRegistry()
	if err := p.metrics.Register(metrics.NewCollector(ctx, metrics.Sources{
		Alerts: p.db.Alerts, Outbox: p.db.Outbox, Undecrypted: p.db.Undecrypted, Decisions: p.db.Audit,
		Updates: p.db.UpdateJobs, Restores: p.db.BackupRuns, Transport: p.transport, Backups: p.backupChecks,
		Jobs: jobSuccesses{p.jobs}, Command: p.commandName, Now: time.Now,
	})); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	if p.cfg.HTTP.Listen == "" {
		return nil
	}
	srv, err := httpapi.New(p.cfg.HTTP.Listen, p.cfg.HTTP.Token(), p.metrics)
	if err != nil {
		return err
	}
	p.routeHealth(ctx, srv)
	// Pings and webhooks write one at a time, queued together.
	writes := &httpapi.Gate{}
	p.jobs.Gate = writes
	for _, route := range jobs.Routes {
		srv.Handle(route, "ping", httpapi.PathToken, p.jobs)
	}
	srv.Handle("POST /alertmanager", "alertmanager", httpapi.Bearer, &alertmanager.Receiver{Alerts: p.monitors.engine, Hook: bot.CrashPoint, Gate: writes})
	if err = srv.Listen(); err != nil {
		return err
	}
	p.http = srv
	return nil
}

// recover settles, before anything runs, what the last stop cut short: commands,
// container updates, restores, approvals on their way to running.
func (p *parts) recover(ctx context.Context) error {
	if err := p.matrix.ReportInterrupted(ctx); err != nil {
		return err
	}
	p.updatesSettled = p.updates.Recover(ctx)
	p.backupRecovery.Recover(ctx)
	if err := p.approvals.Resume(ctx); err != nil {
		return fmt.Errorf("resume approvals: %w", err)
	}
	return nil
}

// stages are the loops, in the order a shutdown stops them: first the input (no new
// commands, no new checks), then, once running commands had their time to finish and
// the outbox to deliver their answers, the output. serve's deferred closes run once
// all have returned.
func (p *parts) stages(log zerolog.Logger) []service.Stage {
	input := []service.Service{
		service.Func("sync", p.matrix.Sync),
		service.Loop("inbox", p.matrix.RunInbox),
		service.Loop("monitor", p.monitors.Run),
		service.Loop("escalation", p.monitors.engine.Escalate),
		service.Loop("update checks", p.updates.CheckUpdates),
		service.Loop("backup checks and drills", p.scheduler.Run),
		service.Loop("approval expiry", func(ctx context.Context) { expireApprovals(ctx, p.db.Approvals, p.approvals) }),
		service.Loop("ticket reminders", p.reminders.Run),
		service.Loop("reload on SIGHUP", p.reload.OnSignal),
		service.Loop("retention", p.pruner().Run),
	}
	for _, s := range p.schedules() {
		input = append(input, service.Loop(s.Key, s.Run))
	}
	if p.http != nil {
		input = append(input, service.Func("http listener", p.http.Run), service.Loop("job notices", p.jobNotices.Run))
	}
	// Told first at a stop (systemd's STOPPING=1, the heartbeat ending), with the
	// rest of the input.
	input = append(input, p.healthServices()...)
	output := []service.Service{
		service.Loop("outbox", p.outbox.SendOutbox),
		service.Loop("decision-log anchor", p.matrix.KeepAnchored),
	}
	if !p.updatesSettled {
		output = append(output, service.Loop("update recovery", p.updates.KeepRecovering))
	}
	workCtx := p.work.Context()
	return []service.Stage{
		{Name: "input", Services: input, Then: func() {
			if !p.work.Wait(commandGrace) {
				log.Warn().Msg("Commands still running at shutdown; they will be reported as interrupted on the next start")
			}
			p.outbox.DrainOutbox(workCtx, outboxGrace)
		}},
		{Name: "output", Services: output, Then: p.work.Stop},
	}
}

// pruner drops the working records nothing needs any more once they are older than
// retention.after; each table's Prune says what it keeps.
func (p *parts) pruner() *retention.Pruner {
	return &retention.Pruner{
		Tables: []retention.Table{
			{Name: "inbox", Prune: p.db.Inbox.Prune},
			{Name: "outbox", Prune: p.db.Outbox.PruneFor(p.matrix.AdminRoom())},
			{Name: "approval", Prune: p.db.Approvals.Prune},
			{Name: "undecrypted", Prune: p.db.Undecrypted.Prune},
		},
		After: p.cfg.Retention.After.D(), Every: retention.DefaultEvery, Batch: retention.DefaultBatch, Pause: retention.DefaultPause, Now: time.Now,
	}
}

// openDatabase opens the database under data_dir, which it creates.
func openDatabase(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*state.DB, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data_dir: %w", err)
	}
	// data_dir holds the encryption keys: nobody else may read it, even if it was
	// created by hand with looser permissions.
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict data_dir: %w", err)
	}
	return state.Open(ctx, filepath.Join(cfg.DataDir, bot.DatabaseFile), log)
}

// schedules are the reports posted at fixed times that the config asks for: the
// decision log's weekly summary, the daily digest of alerts, the on-call handovers.
func (p *parts) schedules() []*monitor.Schedule {
	adminRoom := p.matrix.AdminRoom()
	var all []*monitor.Schedule
	if ws := p.cfg.DecisionLog.WeeklySummary; ws != nil {
		all = append(all, &monitor.Schedule{
			Key:      "weekly_summary_slot",
			LastSlot: func(now time.Time) time.Time { return monitor.WeeklySlot(ws.Weekday(), ws.Hour, ws.Location, now) },
			Period:   7 * 24 * time.Hour,
			KV:       p.db.KV, Txn: p.db.DoTxn,
			Post: func(ctx context.Context) error {
				msg, err := p.summaries.Summary(ctx, 7*24*time.Hour)
				if err != nil {
					return err
				}
				return p.outbox.Notice(ctx, adminRoom, msg)
			},
		})
	}
	if dd := p.cfg.Monitor.DailyDigest; dd != nil {
		all = append(all, &monitor.Schedule{
			Key:      "daily_digest_slot",
			LastSlot: func(now time.Time) time.Time { return monitor.DailySlot(dd.Hour, dd.Location, now) },
			Period:   24 * time.Hour,
			KV:       p.db.KV, Txn: p.db.DoTxn,
			Post: func(ctx context.Context) error {
				msg, err := p.monitors.engine.Digest(ctx, 24*time.Hour)
				if err != nil {
					return err
				}
				return p.outbox.Notice(ctx, adminRoom, msg)
			},
		})
	}
	if handovers := p.onCall.Handovers(p.outbox, adminRoom, p.cfg.Matrix.CommandPrefix, p.db.DoTxn); handovers != nil {
		all = append(all, handovers)
	}
	return all
}

// expireApprovals closes approval requests when their time runs out, waking at the
// next expiry (and at least once a minute, to see requests made since).
func expireApprovals(ctx context.Context, approvals *state.Approvals, engine *approval.Engine) {
	log := zerolog.Ctx(ctx)
	for {
		wait := time.Minute
		if next, err := approvals.NextExpiry(ctx); err != nil {
			log.Err(err).Msg("Failed to read approval expiry times")
		} else if !next.IsZero() {
			wait = min(wait, max(time.Until(next), 0))
		}
		if !service.Sleep(ctx, wait, nil) {
			return
		}
		if err := engine.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to expire approval requests")
		}
	}
}

func setFrom(s config.BackupSet) *backup.Set {
	return &backup.Set{
		Name: s.Name, Repo: backup.Repo{Location: s.Repository, PasswordFile: s.PasswordFile, Host: s.Host, Paths: s.Paths},
		Every: s.Every.D(), Grace: s.Grace.D(), Offsite: s.Offsite, OffsiteCopy: s.OffsiteCopy, Run: s.Run,
		RestoreTargets: s.RestoreTargets, Containers: s.Containers,
		CheckEvery: s.Check.Every.D(), ReadData: s.Check.ReadData, DrillEvery: s.Drill.Every.D(), DrillFiles: s.Drill.Files,
	}
}

// restoreContainers stops and starts the containers of an in-place restore.
type restoreContainers struct{ docker *dockerctl.Fleet }

// Running reports whether the container named ref runs now.
func (r restoreContainers) Running(ctx context.Context, ref string) (bool, error) {
	return r.docker.RunningByRef(ctx, ref)
}

// Stop stops the container named ref if it runs; the restore starts again only those
// that were running.
func (r restoreContainers) Stop(ctx context.Context, ref string) (bool, error) {
	return r.docker.StopByRef(ctx, ref)
}

// Start starts the container named ref again after the restore, or after it failed.
func (r restoreContainers) Start(ctx context.Context, ref string) error {
	return r.docker.StartByRef(ctx, ref)
}

// endpoints lists the Docker Engines of the config, in config.Engines' order (one
// unnamed engine for docker.host); the fleet sorts them again by name.
func endpoints(d config.Docker) []dockerctl.Endpoint {
	engines := d.Engines()
	eps := make([]dockerctl.Endpoint, len(engines))
	for i, e := range engines {
		eps[i] = dockerctl.Endpoint{
			Name: e.Name, Address: e.Address, TLSCA: e.TLS.CA, TLSCert: e.TLS.Cert, TLSKey: e.TLS.Key,
			SSHIdentity: e.SSH.Identity, SSHKnownHosts: e.SSH.KnownHosts, OnlyLabel: e.OnlyLabel,
		}
	}
	return eps
}

func diskPaths(cfg *config.Config) []string {
	paths := make([]string, 0, len(cfg.Monitor.Disks))
	for _, d := range cfg.Monitor.Disks {
		paths = append(paths, d.Path)
	}
	return paths
}
