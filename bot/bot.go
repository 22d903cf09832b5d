// Package bot is Steward's Matrix transport: login and encryption, the sync loop, the
// command inbox and its runner, the outbox, and the rooms Steward agrees to be in. It
// turns Matrix events into inbox entries and inbox entries into calls on a Handler,
// and sends what the outbox holds; what the commands and features do is theirs.
package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/state"
)

// Options are the choices made on the command line rather than in the config.
type Options struct {
	// ResetCrossSigning allows replacing Steward's cross-signing identity when the
	// recovery key is lost.
	ResetCrossSigning bool
}

// Bot is Steward's logged-in, encrypted Matrix client.
type Bot struct {
	cfg     *config.Config
	opts    Options
	log     zerolog.Logger
	db      *state.DB
	client  *mautrix.Client
	crypto  *cryptohelper.CryptoHelper
	handler Handler
	// work runs the commands taken from the inbox: it outlives the inbox loop by the
	// few seconds a shutdown gives them to finish.
	work Work

	adminRoom id.RoomID
	groupRoom id.RoomID
	// invites paces members' invitations to private chats (Pace); nil for none.
	invites Limiter

	// pending holds the IDs of messages kept in the undecrypted table.
	pendingMu sync.Mutex
	pending   map[id.EventID]struct{}

	decryptWarnMu sync.Mutex
	decryptWarned map[id.UserID]time.Time
	// undecryptable counts the messages given up on, by sender's device.
	undecryptable undecryptable
	// syncState is what the sync loop reports of its progress (SyncStatus).
	syncState syncTracker

	// startedAt is when this process started: commands recorded before it were left
	// by a run that stopped.
	startedAt time.Time
	// initialSync is true while the first sync of a new database is handled: its
	// undecryptable messages are history, not commands someone is waiting on.
	initialSync atomic.Bool

	// baseCtx is Connect's context, for mautrix callbacks that are not given one (the
	// decryption error callback).
	baseCtx context.Context
	// syncCtx is the context Sync runs on. The crypto helper's waits for room keys end
	// with it and then report "no session", also when the stop was caused by a failure
	// rather than by baseCtx ending.
	syncCtx atomic.Pointer[context.Context]

	outbox    *Outbox
	inboxWake chan struct{}
	// logFault is why the decision log no longer extends its anchored head (nil
	// while it does); see anchorHead.
	logFault atomic.Pointer[state.ChainError]
	// firstSync is closed once the first sync of this run has been handled.
	firstSync chan struct{}
}

// DatabaseFile is the name of Steward's database inside data_dir; it holds the
// encryption state too.
const DatabaseFile = "steward.db"

// New prepares the Matrix side on db. It does not touch the network: Connect logs in.
// Commands taken from the inbox run on work.
func New(cfg *config.Config, db *state.DB, work Work, opts Options, log zerolog.Logger) *Bot {
	return &Bot{
		cfg:           cfg,
		opts:          opts,
		log:           log,
		db:            db,
		work:          work,
		decryptWarned: make(map[id.UserID]time.Time),
		pending:       make(map[id.EventID]struct{}),
		outbox:        &Outbox{store: db.Outbox, db: db, wake: make(chan struct{}, 1), sleep: work.Sleep},
		inboxWake:     make(chan struct{}, 1),
		firstSync:     make(chan struct{}),
		startedAt:     time.Now(),
	}
}

// Connect waits for the homeserver, logs in, sets up encryption and finds the
// configured rooms. Close undoes it.
func (b *Bot) Connect(ctx context.Context) error {
	b.baseCtx = ctx
	if err := b.connect(ctx); err != nil {
		return err
	}
	if err := b.resolveRooms(ctx); err != nil {
		return err
	}
	b.outbox.client, b.outbox.synced, b.outbox.adminRoom, b.outbox.groupRoom, b.outbox.self = b.client, b.firstSync, b.adminRoom, b.groupRoom, b.client.UserID
	syncer := b.client.Syncer.(*mautrix.DefaultSyncer)
	syncer.OnEventType(event.StateMember, guarded("member", b.onMember))
	syncer.OnEventType(event.EventMessage, guarded("message", b.onMessage))
	syncer.OnEventType(event.EventReaction, guarded("reaction", b.onReaction))
	syncer.OnEventType(event.EventEncrypted, guarded("encrypted", b.onEncrypted)) // after the crypto helper's own
	syncer.OnEventType(event.EventRedaction, guarded("redaction", b.onRedaction))
	syncer.OnEvent(guarded("own event", b.onOwnEvent))
	return nil
}

// Handle sets what runs the inbox's entries; before Sync and RunInbox start.
func (b *Bot) Handle(h Handler) { b.handler = h }

// Limiter gives each member a bucket of messages (commands.Limiter, the one that
// paces their tickets' messages).
type Limiter interface {
	Allow(sender id.UserID) bool
	FirstRefusal(sender id.UserID) bool
}

// Pace sets what limits members' invitations to private chats, before Sync starts:
// each accepted one is a join and a greeting, so hundreds of them would keep the
// sync loop and the outbox busy.
func (b *Bot) Pace(l Limiter) { b.invites = l }

// Close closes the encryption state, once every loop using it has stopped.
func (b *Bot) Close() error {
	if b.crypto == nil {
		return nil
	}
	return b.crypto.Close()
}

// Outbox is where the features queue what Steward says.
func (b *Bot) Outbox() *Outbox { return b.outbox }

// UserID is Steward's own Matrix ID.
func (b *Bot) UserID() id.UserID { return b.client.UserID }

// AdminRoom is the admin room's ID, as resolved by Connect.
func (b *Bot) AdminRoom() id.RoomID { return b.adminRoom }

// GroupRoom is the group room's ID, as resolved by Connect.
func (b *Bot) GroupRoom() id.RoomID { return b.groupRoom }

// Sync hands the messages an earlier run kept for their keys back to the crypto
// helper, then follows the homeserver until ctx ends.
func (b *Bot) Sync(ctx context.Context) error {
	b.syncCtx.Store(&ctx)
	if err := b.retryUndecrypted(ctx); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to retry messages waiting for their keys")
	}
	return b.syncLoop(ctx)
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
