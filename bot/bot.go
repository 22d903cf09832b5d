// Package bot is Steward's Matrix side: login and encryption, the sync loop, the
// command inbox, the outbox, and the rooms Steward agrees to be in.
package bot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// Options are the choices made on the command line rather than in the config.
type Options struct {
	// ResetCrossSigning allows replacing Steward's cross-signing identity when the
	// recovery key is lost.
	ResetCrossSigning bool
	// ConfigPath is the config file, read again on a reload.
	ConfigPath string
	// ReloadSignals delivers the operator's requests to reload the config (SIGHUP).
	ReloadSignals <-chan os.Signal
}

// Bot is one running Steward: a logged-in, encrypted Matrix client with its database.
type Bot struct {
	cfg    *config.Config
	opts   Options
	log    zerolog.Logger
	db     *state.DB
	client *mautrix.Client
	crypto *cryptohelper.CryptoHelper
	proc   *commands.Processor
	alerts *monitor.Engine
	onCall *monitor.OnCall
	// docker is the Docker Engines' clients; each connects when first used.
	docker *dockerctl.Fleet
	// updaters replace containers with newer images, journaling each step; one
	// per engine, by host name.
	updaters dockerctl.Updaters
	// backups watches and restores the backup sets.
	backups *backups
	// tickets carries members' requests and reports to the admins and back.
	tickets ticketDesk

	// monitorCfg is the monitor section in force; a reload replaces it and signals
	// reloaded.
	monitorCfg atomic.Pointer[config.Monitor]
	reloaded   chan struct{}

	adminRoom id.RoomID
	groupRoom id.RoomID

	// pending holds the IDs of messages kept in the undecrypted table.
	pendingMu sync.Mutex
	pending   map[id.EventID]struct{}

	decryptWarnMu sync.Mutex
	decryptWarned map[id.UserID]time.Time

	// startedAt is when this process started: commands recorded before it were left
	// by a run that stopped.
	startedAt time.Time
	// initialSync is true while the first sync of a new database is handled: its
	// undecryptable messages are history, not commands someone is waiting on.
	initialSync atomic.Bool

	// baseCtx is Run's context, for mautrix callbacks that are not given one (the
	// decryption error callback).
	baseCtx context.Context
	// work runs the commands: it outlives the input loops by the few seconds a
	// shutdown gives them to finish.
	work *service.Work

	inboxWake  chan struct{}
	outboxWake chan struct{}
	// firstSync is closed once the first sync of this run has been handled.
	firstSync chan struct{}
}

// DatabaseFile is the name of Steward's database inside data_dir.
const DatabaseFile = "steward.db"

// New opens the database under data_dir. It does not touch the network: Run logs in.
func New(ctx context.Context, cfg *config.Config, opts Options, log zerolog.Logger) (*Bot, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data_dir: %w", err)
	}
	// data_dir holds the encryption keys: nobody else may read it, even if it was
	// created by hand with looser permissions.
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict data_dir: %w", err)
	}
	docker, err := dockerctl.ConnectFleet(endpoints(cfg.Docker))
	if err != nil {
		return nil, err
	}
	db, err := state.Open(ctx, filepath.Join(cfg.DataDir, DatabaseFile), log)
	if err != nil {
		_ = docker.Close()
		return nil, err
	}
	b := &Bot{
		cfg:           cfg,
		opts:          opts,
		docker:        docker,
		log:           log,
		db:            db,
		decryptWarned: make(map[id.UserID]time.Time),
		pending:       make(map[id.EventID]struct{}),
		inboxWake:     make(chan struct{}, 1),
		outboxWake:    make(chan struct{}, 1),
		firstSync:     make(chan struct{}),
		reloaded:      make(chan struct{}, 1),
		startedAt:     time.Now(),
	}
	b.monitorCfg.Store(&cfg.Monitor)
	return b, nil
}

// Run logs in, sets up encryption and serves until ctx is cancelled. Commands that
// are running when ctx ends get a few seconds to finish.
func (b *Bot) Run(ctx context.Context) error {
	ctx = b.log.WithContext(ctx)
	b.baseCtx = ctx
	defer b.db.Close()
	defer b.docker.Close()

	if err := b.connect(ctx); err != nil {
		return err
	}
	defer b.crypto.Close()

	if err := b.resolveRooms(ctx); err != nil {
		return err
	}
	b.onCall = &monitor.OnCall{KV: b.db.KV, Rotation: monitor.Rotation{
		Admins: b.cfg.OnCall.Rotation, Daily: b.cfg.OnCall.Daily(), Weekday: b.cfg.OnCall.Weekday(),
		Hour: b.cfg.OnCall.Hour, Zone: b.cfg.OnCall.Location,
	}}
	b.alerts = monitor.NewEngine(b.engineSettings(b.monitorConfig()), b.db.Alerts, b.db.Silences, b, b.db.Audit, b.db.DoTxn, time.Now)
	b.updaters = make(dockerctl.Updaters)
	for _, engine := range b.docker.Engines() {
		b.updaters[engine.Name()] = &dockerctl.Updater{
			Host: engine.Name(), Runtime: engine, Journal: b.db.UpdateJobs, Settle: b.cfg.Docker.Settle.D(), Now: time.Now, Poll: 500 * time.Millisecond,
			Hook: func(step string) { crashPoint("update-" + step) },
		}
	}
	b.backups = b.newBackups()
	b.tickets = b.newTickets()
	registry := commands.Builtin()
	if err := registry.Tighten(b.cfg.Policy.Commands); err != nil {
		return err
	}
	b.proc = commands.NewProcessor(commands.Settings{
		Prefix:           b.cfg.Matrix.CommandPrefix,
		Admins:           b.cfg.Matrix.Admins,
		AdminRoom:        b.adminRoom,
		GroupRoom:        b.groupRoom,
		BotUserID:        b.client.UserID,
		StaleAfter:       b.cfg.Matrix.StaleAfter.D(),
		RequireVerified:  b.cfg.Matrix.VerifiedDevicesRequired(),
		AllowUnencrypted: b.cfg.Matrix.AllowUnencrypted,
		ApprovalTTL:      b.cfg.Policy.ApprovalTTL.D(),
		AllowSingleAdmin: b.cfg.Policy.AllowSingleAdmin,
		Disks:            diskPaths(b.cfg),
		TicketCategories: b.cfg.Tickets.Categories,
	}, registry, commands.Deps{
		Messenger:  b,
		Rooms:      b,
		Audit:      b.db.Audit,
		Once:       b.db.KV,
		Approvals:  b.db.Approvals,
		Alerts:     b.alerts,
		Reloader:   b,
		OnCall:     b.onCall,
		Containers: b.docker,
		Updater:    b.updaters,
		Background: b.background,
		Backups:    b.backups.desk,
		Tickets:    b.tickets,
		Moderator:  b,
		Txn:        b.db.DoTxn,
		Limiter:    commands.NewLimiter(b.cfg.RateLimit.Burst, b.cfg.RateLimit.PerMinute, time.Now),
		Now:        time.Now,
	})

	syncer := b.client.Syncer.(*mautrix.DefaultSyncer)
	syncer.OnEventType(event.StateMember, guarded("member", b.onMember))
	syncer.OnEventType(event.EventMessage, guarded("message", b.onMessage))
	syncer.OnEventType(event.EventReaction, guarded("reaction", b.onReaction))
	syncer.OnEventType(event.EventEncrypted, guarded("encrypted", b.onEncrypted)) // after the crypto helper's own
	syncer.OnEvent(guarded("own event", b.onOwnEvent))

	// Commands run on their own context so that a shutdown lets them finish and record
	// their outcome instead of being cut off half-way.
	b.work = service.NewWork(ctx)
	workCtx := b.work.Context()
	if err := b.reportInterrupted(workCtx); err != nil {
		return err
	}
	settled := b.recoverUpdates(workCtx)
	b.recoverBackupRuns(workCtx)
	if err := b.proc.Resume(workCtx); err != nil {
		return fmt.Errorf("resume approvals: %w", err)
	}

	// Shut down in order: take no new input, let running commands finish, give the
	// outbox a moment to deliver their replies (what it can't send now stays queued for
	// the next start), and only then let the deferred closes run.
	input := []service.Service{
		service.Func("sync", b.sync),
		service.Loop("inbox", b.runInbox),
		service.Loop("monitor", b.runMonitor),
		service.Loop("escalation", b.alerts.Escalate),
		service.Loop("update checks", b.checkUpdates),
		service.Loop("backup checks and drills", b.backups.scheduler.Run),
		service.Loop("weekly summary", b.postWeeklySummaries),
		service.Loop("daily digest", b.postDailyDigests),
		service.Loop("handover announcements", b.announceHandovers),
		service.Loop("approval expiry", b.expireApprovals),
		service.Loop("ticket reminders", b.remindTickets),
		service.Loop("reload on SIGHUP", b.reloadOnSignal),
	}
	output := []service.Service{
		service.Loop("outbox", b.sendOutbox),
		service.Loop("decision-log anchor", func(ctx context.Context) {
			b.checkDecisionLog(ctx)
			b.keepAnchored(ctx)
		}),
	}
	if !settled {
		output = append(output, service.Loop("update recovery", b.retryRecoverUpdates))
	}
	return service.Run(ctx,
		service.Stage{Name: "input", Services: input, Then: func() {
			if !b.work.Wait(commandGrace) {
				b.log.Warn().Msg("Commands still running at shutdown; they will be reported as interrupted on the next start")
			}
			b.drainOutbox(workCtx, outboxGrace)
		}},
		service.Stage{Name: "output", Services: output, Then: b.work.Stop},
	)
}

// How long a shutdown waits for running commands, then for the outbox to deliver what
// they queued.
const (
	commandGrace = 10 * time.Second
	outboxGrace  = 5 * time.Second
)

// sync hands the messages an earlier run kept for their keys back to the crypto
// helper, then follows the homeserver until ctx ends.
func (b *Bot) sync(ctx context.Context) error {
	if err := b.retryUndecrypted(ctx); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to retry messages waiting for their keys")
	}
	return b.syncLoop(ctx)
}

// background runs a long command (an approved update) apart from the room's queue;
// a shutdown waits for it as for any running command.
func (b *Bot) background(fn func(ctx context.Context)) {
	b.work.Go(fn)
}

// resolveRooms turns the configured admin and group rooms into room IDs.
func (b *Bot) resolveRooms(ctx context.Context) error {
	var err error
	if b.adminRoom, err = b.resolveRoom(ctx, b.cfg.Matrix.AdminRoom); err != nil {
		return fmt.Errorf("matrix.admin_room: %w", err)
	}
	if b.groupRoom, err = b.resolveRoom(ctx, b.cfg.Matrix.GroupRoom); err != nil {
		return fmt.Errorf("matrix.group_room: %w", err)
	}
	return nil
}

// warnMissingRooms logs the configured rooms Steward is not in, after the first sync
// of a run has brought the room state up to date.
func (b *Bot) warnMissingRooms(ctx context.Context) {
	for _, room := range []id.RoomID{b.adminRoom, b.groupRoom} {
		if !b.client.StateStore.IsMembership(ctx, room, b.client.UserID, event.MembershipJoin, event.MembershipInvite) {
			zerolog.Ctx(ctx).Warn().Stringer("room_id", room).Msg("Steward is not in this configured room; a configured admin needs to invite it")
		}
	}
}

// resolveRoom turns a room ID or alias into a room ID and remembers it, so that tools
// working offline (steward notify) know it too.
func (b *Bot) resolveRoom(ctx context.Context, room string) (id.RoomID, error) {
	roomID := id.RoomID(room)
	if !strings.HasPrefix(room, "!") {
		resp, err := b.client.ResolveAlias(ctx, id.RoomAlias(room))
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", room, err)
		}
		roomID = resp.RoomID
	}
	return roomID, b.db.KV.Set(ctx, roomIDKey(room), roomID.String())
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

// expireApprovals closes approval requests when their time runs out, waking at the
// next expiry (and at least once a minute, to see requests made since).
func (b *Bot) expireApprovals(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	for {
		wait := time.Minute
		if next, err := b.db.Approvals.NextExpiry(ctx); err != nil {
			log.Err(err).Msg("Failed to read approval expiry times")
		} else if !next.IsZero() {
			wait = min(wait, max(time.Until(next), 0))
		}
		if !service.Sleep(ctx, wait, nil) {
			return
		}
		if err := b.proc.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to expire approval requests")
		}
	}
}

// checkDecisionLog verifies the decision log's hash chain at start and tells the admin
// room when someone has edited, removed or reordered entries behind Steward's back. It
// runs beside everything else: a long log must not delay the start.
func (b *Bot) checkDecisionLog(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	checked, err := b.db.Audit.Verify(ctx)
	var chainErr *state.ChainError
	switch {
	case errors.As(err, &chainErr):
		log.Error().Int64("entry_id", chainErr.EntryID).Str("reason", chainErr.Reason).Msg("The decision log's hash chain is broken")
		msg := render.New("").Bold("The decision log has been tampered with.").
			Text(fmt.Sprintf(" Entry %d: %s. The %d entries before it are intact. Someone with access to the server changed Steward's database: check who, and run ", chainErr.EntryID, chainErr.Reason, checked)).
			Code("steward audit verify").Text(" there.")
		if err = b.Send(ctx, b.adminRoom, msg.Notice()); err != nil {
			log.Err(err).Msg("Failed to queue the broken-log alert")
		}
	case err != nil:
		log.Err(err).Msg("Failed to verify the decision log")
	default:
		log.Info().Int("entries", checked).Msg("Decision log verified")
	}
}
