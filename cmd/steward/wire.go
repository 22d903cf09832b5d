package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/backup"
	"github.com/steward-bot/steward/bot"
	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/monitor"
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

// serve builds Steward from cfg (with registry, the commands tightened by its policy)
// and runs it until ctx ends or a part of it fails for good. It returns once every
// part has stopped and the database is closed.
func serve(ctx context.Context, cfg *config.Config, registry *commands.Registry, opts runOptions, log zerolog.Logger) error {
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
	if err = matrix.Connect(ctx); err != nil {
		return err
	}
	defer matrix.Close()
	adminRoom, prefix, actor := matrix.AdminRoom(), cfg.Matrix.CommandPrefix, matrix.UserID()

	// The Docker Engines, each connecting when first used, and the updaters that
	// replace containers with newer images, journaling each step.
	docker, err := dockerctl.ConnectFleet(endpoints(cfg.Docker))
	if err != nil {
		return err
	}
	defer docker.Close()
	updaters := make(dockerctl.Updaters)
	for _, engine := range docker.Engines() {
		updaters[engine.Name()] = &dockerctl.Updater{
			Host: engine.Name(), Runtime: engine, Journal: db.UpdateJobs, Settle: cfg.Docker.Settle.D(), Now: time.Now, Poll: 500 * time.Millisecond,
			Hook: func(step string) { bot.CrashPoint("update-" + step) },
		}
	}
	updates := &dockerctl.Announcer{
		Fleet: docker, Updaters: updaters, Every: cfg.Docker.UpdateCheck.D(), KV: db.KV, Audit: db.Audit, Txn: db.DoTxn,
		Notifier: matrix, AdminRoom: adminRoom, Prefix: prefix, Actor: actor,
	}

	// The backup sets: what commands use, the checks the monitor runs, the scheduler
	// of integrity checks and drills.
	backups, backupChecks, scheduler := newBackups(cfg, db, docker)
	backupRecovery := &backup.Recovery{Desk: backups, Runs: db.BackupRuns, Audit: db.Audit, Txn: db.DoTxn, Notifier: matrix, AdminRoom: adminRoom, Actor: actor}

	// The monitor: the on-call rotation, the alert engine and its checks.
	onCall := &monitor.OnCall{KV: db.KV, Rotation: monitor.Rotation{
		Admins: cfg.OnCall.Rotation, Daily: cfg.OnCall.Daily(), Weekday: cfg.OnCall.Weekday(),
		Hour: cfg.OnCall.Hour, Zone: cfg.OnCall.Location,
	}}
	monitors := newMonitorRunner(&monitorRunner{
		cfg: cfg, onCall: onCall, docker: docker, kv: db.KV, backups: backupChecks,
		adminRoom: adminRoom, groupRoom: matrix.GroupRoom(), botUserID: actor,
	}, db, matrix)
	alerts := monitors.engine

	// The tickets: members' requests and reports, carried to the admins and back.
	// Who is a member is the processor's knowledge, built just below.
	var proc *commands.Processor
	desk := &tickets.Desk{
		Settings: tickets.Settings{
			AdminRoom: adminRoom, Admins: cfg.Matrix.Admins, Prefix: prefix,
			AbuseDeadline: cfg.Tickets.AbuseDeadline.D(), RemindBefore: cfg.Tickets.RemindBefore.D(), MaxPerDay: cfg.Tickets.MaxPerDay,
		},
		Store: db.Tickets, Matrix: ticketMatrix{matrix}, Once: db.KV, Txn: db.DoTxn, Now: time.Now, Private: matrix.IsPrivateChat,
	}
	router := &tickets.Router{
		Desk: desk, Lookup: db.Tickets, ThreadMessage: matrix.ThreadMessage, Replier: matrix, IsPrivateChat: matrix.IsPrivateChat,
		IsAdmin:          func(ctx context.Context, user id.UserID) bool { return proc.RoleOf(ctx, user) == commands.RoleAdmin },
		IsMember:         func(ctx context.Context, user id.UserID) bool { return proc.RoleOf(ctx, user) >= commands.RoleMember },
		VerifiedRequired: cfg.Matrix.VerifiedDevicesRequired(), SignReplies: cfg.Tickets.SignReplies,
	}
	reminders := &tickets.Reminders{Desk: desk, Scrub: db.Tickets.Scrub, Retention: cfg.Tickets.Retention.D(), StartedAt: time.Now()}

	// The commands, with the approvals they may need, and the config reload they
	// offer.
	reload := &reloader{
		path: opts.configPath, running: cfg, monitor: monitors, signals: opts.reloadSignals,
		db: db, notifier: matrix, adminRoom: adminRoom, actor: actor,
	}
	proc = commands.NewProcessor(commands.Settings{
		Prefix:           prefix,
		Admins:           cfg.Matrix.Admins,
		AdminRoom:        adminRoom,
		GroupRoom:        matrix.GroupRoom(),
		BotUserID:        actor,
		StaleAfter:       cfg.Matrix.StaleAfter.D(),
		RequireVerified:  cfg.Matrix.VerifiedDevicesRequired(),
		AllowUnencrypted: cfg.Matrix.AllowUnencrypted,
		ApprovalTTL:      cfg.Policy.ApprovalTTL.D(),
		AllowSingleAdmin: cfg.Policy.AllowSingleAdmin,
		Disks:            diskPaths(cfg),
		TicketCategories: cfg.Tickets.Categories,
	}, registry, commands.Deps{
		Messenger:  matrix,
		Rooms:      matrix,
		Audit:      db.Audit,
		Once:       db.KV,
		Approvals:  db.Approvals,
		Alerts:     alerts,
		Reloader:   reload,
		OnCall:     onCall,
		Containers: docker,
		Updater:    updaters,
		Background: work.Go,
		Backups:    backups,
		Tickets:    ticketDesk{Desk: desk, router: router, store: db.Tickets, matrix: matrix},
		Moderator:  matrix,
		Txn:        db.DoTxn,
		Limiter:    commands.NewLimiter(cfg.RateLimit.Burst, cfg.RateLimit.PerMinute, time.Now),
		Now:        time.Now,
	})
	matrix.Handle(dispatcher{proc: proc, router: router})

	// Before anything runs: settle what the last stop cut short.
	workCtx := work.Context()
	if err = matrix.ReportInterrupted(workCtx); err != nil {
		return err
	}
	updatesSettled := updates.Recover(workCtx)
	backupRecovery.Recover(workCtx)
	if err = proc.Resume(workCtx); err != nil {
		return fmt.Errorf("resume approvals: %w", err)
	}

	// The loops. A shutdown stops taking input first, lets running commands finish
	// and the outbox deliver their answers, then stops the output; the deferred
	// closes run once all have returned.
	input := []service.Service{
		service.Func("sync", matrix.Sync),
		service.Loop("inbox", matrix.RunInbox),
		service.Loop("monitor", monitors.Run),
		service.Loop("escalation", alerts.Escalate),
		service.Loop("update checks", updates.CheckUpdates),
		service.Loop("backup checks and drills", scheduler.Run),
		service.Loop("approval expiry", func(ctx context.Context) { expireApprovals(ctx, db.Approvals, proc) }),
		service.Loop("ticket reminders", reminders.Run),
		service.Loop("reload on SIGHUP", reload.OnSignal),
	}
	for _, s := range schedules(cfg, db, proc, alerts, onCall, matrix, adminRoom, prefix) {
		input = append(input, service.Loop(s.Key, s.Run))
	}
	output := []service.Service{
		service.Loop("outbox", matrix.SendOutbox),
		service.Loop("decision-log anchor", matrix.KeepAnchored),
	}
	if !updatesSettled {
		output = append(output, service.Loop("update recovery", updates.KeepRecovering))
	}
	return service.Run(ctx,
		service.Stage{Name: "input", Services: input, Then: func() {
			if !work.Wait(commandGrace) {
				log.Warn().Msg("Commands still running at shutdown; they will be reported as interrupted on the next start")
			}
			matrix.DrainOutbox(workCtx, outboxGrace)
		}},
		service.Stage{Name: "output", Services: output, Then: work.Stop},
	)
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
func schedules(cfg *config.Config, db *state.DB, proc *commands.Processor, alerts *monitor.Engine, onCall *monitor.OnCall,
	notifier monitor.Notifier, adminRoom id.RoomID, prefix string) []*monitor.Schedule {
	var all []*monitor.Schedule
	if ws := cfg.DecisionLog.WeeklySummary; ws != nil {
		all = append(all, &monitor.Schedule{
			Key:      "weekly_summary_slot",
			LastSlot: func(now time.Time) time.Time { return monitor.WeeklySlot(ws.Weekday(), ws.Hour, ws.Location, now) },
			Period:   7 * 24 * time.Hour,
			KV:       db.KV, Txn: db.DoTxn,
			Post: func(ctx context.Context) error {
				msg, err := proc.Summary(ctx, 7*24*time.Hour)
				if err != nil {
					return err
				}
				return notifier.Notice(ctx, adminRoom, msg)
			},
		})
	}
	if dd := cfg.Monitor.DailyDigest; dd != nil {
		all = append(all, &monitor.Schedule{
			Key:      "daily_digest_slot",
			LastSlot: func(now time.Time) time.Time { return monitor.DailySlot(dd.Hour, dd.Location, now) },
			Period:   24 * time.Hour,
			KV:       db.KV, Txn: db.DoTxn,
			Post: func(ctx context.Context) error {
				msg, err := alerts.Digest(ctx, 24*time.Hour)
				if err != nil {
					return err
				}
				return notifier.Notice(ctx, adminRoom, msg)
			},
		})
	}
	if handovers := onCall.Handovers(notifier, adminRoom, prefix, db.DoTxn); handovers != nil {
		all = append(all, handovers)
	}
	return all
}

// expireApprovals closes approval requests when their time runs out, waking at the
// next expiry (and at least once a minute, to see requests made since).
func expireApprovals(ctx context.Context, approvals *state.Approvals, proc *commands.Processor) {
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
		if err := proc.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to expire approval requests")
		}
	}
}

// newBackups builds the backup side from the config: the desk commands use, the
// checks the alert engine runs, and the scheduler of integrity checks and drills.
func newBackups(cfg *config.Config, db *state.DB, docker *dockerctl.Fleet) (*backup.Desk, *backup.Checks, *backup.Scheduler) {
	sets := make([]*backup.Set, 0, len(cfg.Backups.Sets))
	for _, s := range cfg.Backups.Sets {
		sets = append(sets, setFrom(s))
	}
	backup.LinkOffsite(sets)
	tool := &backup.Restic{CacheDir: filepath.Join(cfg.DataDir, "restic-cache")}
	desk := backup.NewDesk(sets)
	checks := &backup.Checks{Desk: desk, Every: cfg.Backups.Interval.D()}
	scheduler := &backup.Scheduler{
		Sets: sets, Tool: tool, Runs: db.BackupRuns, ScratchRoot: cfg.Backups.StagingDir, Now: time.Now, Done: checks.Wake,
	}
	desk.Tool, desk.RunStore, desk.Scheduler, desk.Now = tool, db.BackupRuns, scheduler, time.Now
	desk.Restorer = &backup.Restorer{
		Tool: tool, Runs: db.BackupRuns, StagingDir: cfg.Backups.StagingDir, Now: time.Now,
		Containers: restoreContainers{docker},
		Hook:       func(step string) { bot.CrashPoint("restore-" + step) },
	}
	return desk, checks, scheduler
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

func (r restoreContainers) Stop(ctx context.Context, ref string) (bool, error) {
	return r.docker.StopByRef(ctx, ref)
}

func (r restoreContainers) Start(ctx context.Context, ref string) error {
	return r.docker.StartByRef(ctx, ref)
}

// endpoints lists the Docker Engines of the config.
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
