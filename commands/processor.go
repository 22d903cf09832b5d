package commands

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/approval"
	"github.com/steward-bot/steward/policy"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Messenger sends what commands say; the bot implements it with its outbox, so every
// method returns once the message is durably queued, and within a transaction of the
// context it is queued with the rest of that transaction.
type Messenger interface {
	// Reply answers the event replyTo in roomID, inside the thread threadRoot if set.
	Reply(ctx context.Context, roomID id.RoomID, replyTo, threadRoot id.EventID, msg *render.Message) error
	// Post is Reply that returns the message's outbox ID, for later reactions and edits.
	Post(ctx context.Context, roomID id.RoomID, replyTo, threadRoot id.EventID, msg *render.Message) (int64, error)
	// React reacts with key to the queued message msgID.
	React(ctx context.Context, roomID id.RoomID, msgID int64, key string) error
	// Edit replaces the text of the queued message msgID.
	Edit(ctx context.Context, roomID id.RoomID, msgID int64, msg *render.Message) error
	// Announce posts msg to roomID as an ordinary message that notifies its members.
	Announce(ctx context.Context, roomID id.RoomID, msg *render.Message) error
}

// Requests reads the approval requests and their votes (state.Approvals), for the
// commands that list them; only the approval engine changes them.
type Requests interface {
	Get(ctx context.Context, approvalID string) (*state.Approval, error)
	InState(ctx context.Context, states ...state.ApprovalState) ([]*state.Approval, error)
	CreatedSince(ctx context.Context, t time.Time) ([]*state.Approval, error)
	Votes(ctx context.Context, approvalID string) ([]*state.Vote, error)
}

// Rooms answers the questions about rooms that decide who may run what.
type Rooms interface {
	IsJoined(ctx context.Context, roomID id.RoomID, userID id.UserID) bool
	IsEncrypted(ctx context.Context, roomID id.RoomID) (bool, error)
}

// Recorder is the decision log (state.Audit): the dispatcher appends every command's
// entry, !log reads them back.
type Recorder interface {
	Append(ctx context.Context, e *state.AuditEntry) (int64, error)
	Find(ctx context.Context, f state.AuditFilter) ([]*state.AuditEntry, error)
	// Verify checks the log's hash chain (state.Audit.Verify).
	Verify(ctx context.Context) (int, error)
}

// OnceStore remembers that something was said, across restarts.
type OnceStore interface {
	SetOnce(ctx context.Context, key, value string) (bool, error)
}

// Settings are the parts of the configuration the dispatcher needs.
type Settings struct {
	Prefix    string
	Admins    []id.UserID
	AdminRoom id.RoomID
	GroupRoom id.RoomID
	// BotUserID is Steward's own account, the actor of what it decides by itself
	// (an approval request expiring).
	BotUserID        id.UserID
	StaleAfter       time.Duration
	RequireVerified  bool
	AllowUnencrypted bool
}

// Deps are what the dispatcher itself works with; what the commands act on is given to
// them when they are registered (Builtin).
type Deps struct {
	Messenger Messenger
	Rooms     Rooms
	// Audit is the decision log, which every command leaves an entry in.
	Audit Recorder
	Once  OnceStore
	// Approvals is the approval stage: the dispatcher hands it every command that
	// needs the admins' agreement, and it runs them through the dispatcher once they
	// agree.
	Approvals *approval.Engine
	// Requests are the stage's requests, for the commands that list and answer them.
	Requests Requests
	// Acks takes alerts by reaction; nil ignores 👀.
	Acks Acks
	// Background runs fn apart from the command queues, with a context of its own
	// that outlives the command, for Long commands. Nil runs them in the queue.
	Background func(fn func(ctx context.Context))
	// Txn runs fn in one database transaction (state.DB.DoTxn).
	Txn     func(ctx context.Context, fn func(ctx context.Context) error) error
	Limiter *Limiter
	// Reactions paces the reactions of everyone but the admins (the limiter of
	// members' messages, rate_limit.message_burst); nil lets them all through.
	Reactions *Limiter
	// Now is the clock (time.Now outside tests).
	Now func() time.Time
}

// Processor dispatches commands: it parses, checks, records and runs them, and hands
// the ones that need approval to the approval stage.
type Processor struct {
	settings Settings
	registry *Registry
	deps     Deps
}

// NewProcessor builds a dispatcher for the registry, and makes it the runner of the
// approval engine's approved commands, so that they meet the same checks as any.
func NewProcessor(settings Settings, registry *Registry, deps Deps) *Processor {
	p := &Processor{settings: settings, registry: registry, deps: deps}
	p.deps.Approvals.RunWith(p)
	return p
}

// IsCommand reports whether body is addressed to Steward, so the bot records only
// those messages.
func (p *Processor) IsCommand(body string) bool {
	_, ok, _ := Parse(body, p.settings.Prefix)
	return ok
}

// IsKnownCommand reports whether body runs one of Steward's commands (in a member's
// private chat, anything else is carried to the admins as it is).
func (p *Processor) IsKnownCommand(body string) bool {
	parsed, ok, _ := Parse(body, p.settings.Prefix)
	return ok && p.registry.Lookup(parsed.Name) != nil
}

// IsPrivate reports whether the words of a command sent in room must stay out of the
// decision log and the inbox: a Private command (a member's report), or anything said
// in a member's private chat with Steward.
func (p *Processor) IsPrivate(room id.RoomID, body string) bool {
	if room != p.settings.AdminRoom && room != p.settings.GroupRoom {
		return true
	}
	parsed, ok, _ := Parse(body, p.settings.Prefix)
	if !ok {
		return false
	}
	cmd := p.registry.Lookup(parsed.Name)
	return cmd != nil && cmd.Private
}

// RoleOf returns the role of userID: admins by Matrix ID, members by membership of the
// group room. Display names never count.
func (p *Processor) RoleOf(ctx context.Context, userID id.UserID) Role {
	if slices.Contains(p.settings.Admins, userID) {
		return RoleAdmin
	}
	if p.settings.GroupRoom != "" && p.deps.Rooms.IsJoined(ctx, p.settings.GroupRoom, userID) {
		return RoleMember
	}
	return RoleNobody
}

// Handle runs one command message and returns its outcome for the inbox. Every path,
// run or refused, leaves one audit entry.
func (p *Processor) Handle(ctx context.Context, in *Input) string {
	log := zerolog.Ctx(ctx).With().
		Stringer("room_id", in.RoomID).
		Stringer("event_id", in.EventID).
		Stringer("sender", in.Sender).
		Logger()
	ctx = log.WithContext(ctx)

	parsed, ok, parseErr := Parse(in.Body, p.settings.Prefix)
	if !ok {
		return state.OutcomeUnknown
	}
	entry := &state.AuditEntry{
		Actor: in.Sender, ActorDevice: in.DeviceID, RoomID: in.RoomID, EventID: in.EventID,
		Action: "command." + parsed.Name, Arguments: parsed.Rest,
	}
	// Decided before anything can refuse it: a member's words to the admins (a
	// report, anything said in their private chat) never reach the log.
	if p.IsPrivate(in.RoomID, in.Body) {
		entry.Arguments = "(private)"
	}
	ce := p.event(in, parsed.Args, parsed.Rest)
	outcome, detail, then := p.handle(ctx, ce, parsed.Name, parseErr)
	entry.Outcome, entry.Detail = outcome, detail
	if ce.Command != nil {
		entry.Action = "command." + ce.Command.Name
	}
	if ce.Role != RoleAdmin && state.Unheeded(outcome) {
		// What did not run, from someone who is not an admin, is kept short: a
		// member sending long refused commands by the thousand can't fill the disk.
		entry.Action, entry.Arguments = state.Clip(entry.Action), state.Clip(entry.Arguments)
	}
	err := p.deps.Txn(ctx, func(ctx context.Context) error {
		entryID, err := p.deps.Audit.Append(ctx, entry)
		if err != nil || then == nil {
			return err
		}
		return then(ctx, entryID)
	})
	if err != nil && then != nil {
		// The approval request (or the start of a long command) was not stored, so
		// nothing waits for an answer and nothing runs: say so and record the
		// failure instead.
		what := "the approval request for "
		if outcome == state.OutcomeStarted {
			what = "the start of "
		}
		log.Err(err).Str("outcome", outcome).Msg("Failed to store a command's next step")
		p.reply(ctx, ce, render.New("I couldn't store "+what).Code(p.settings.Prefix+ce.Command.Name).Text(", so nothing will run. Try again in a moment."))
		entry.ID, entry.Outcome, entry.Detail = 0, state.OutcomeError, "storing "+what+ce.Command.Name+": "+err.Error()
		outcome = entry.Outcome
		_, err = p.deps.Audit.Append(ctx, entry)
	}
	if err != nil {
		log.Err(err).Msg("Failed to write audit entry")
	}
	log.Info().Str("command", parsed.Name).Str("outcome", outcome).Str("detail", detail).Msg("Handled command")
	return outcome
}

// event is the one place an Event is made, for a message as it arrives and for an
// approved request as it finally runs.
func (p *Processor) event(in *Input, args []string, rawArgs string) *Event {
	return &Event{Input: *in, Args: args, RawArgs: rawArgs, proc: p}
}

// handle decides and runs; it returns the outcome and a detail for the audit log, and
// for a command that waits for approval, what to store in the same transaction as its
// audit entry.
func (p *Processor) handle(ctx context.Context, ce *Event, name string, parseErr error) (outcome, detail string, then func(ctx context.Context, entryID int64) error) {
	ce.Role = p.RoleOf(ctx, ce.Sender)
	if ce.Role == RoleNobody {
		// Someone who is neither admin nor member gets no answer at all: Steward does
		// not talk to strangers, even to refuse.
		return state.OutcomeRefused, "sender has no role", nil
	}
	if !ce.Encrypted {
		if refused, detail := p.refuseUnencrypted(ctx, ce); refused {
			return state.OutcomeRefused, detail, nil
		}
	}
	if !p.deps.Limiter.Allow(ce.Sender) {
		if p.deps.Limiter.FirstRefusal(ce.Sender) {
			p.reply(ctx, ce, render.New("You're sending commands faster than I take them; I'm ignoring them for a moment. Try again in a minute."))
		}
		return state.OutcomeRateLimited, "", nil
	}
	// Staleness is measured on arrival: a command that arrived on time but waited
	// behind slow ones is still run.
	if ce.ReceivedAt.Sub(ce.SentAt) > p.settings.StaleAfter {
		age := p.deps.Now().Sub(ce.SentAt)
		p.reply(ctx, ce, render.New("Your ").Code(p.settings.Prefix+name).
			Text(fmt.Sprintf(" was sent at %s UTC (%s ago), while I could not read it, so I did not run it. Send it again if you still want it.",
				ce.SentAt.UTC().Format("2006-01-02 15:04"), render.Duration(age))))
		return state.OutcomeStale, fmt.Sprintf("sent %s ago", render.Duration(age)), nil
	}
	ce.Command = p.registry.Lookup(name)
	if ce.Command == nil {
		p.reply(ctx, ce, render.New("I don't know the command ").Code(p.settings.Prefix+name).Text(". Send ").Code(p.settings.Prefix+"help").Text(" for the list."))
		return state.OutcomeUnknown, "", nil
	}
	if parseErr != nil && !ce.Command.FreeText {
		p.reply(ctx, ce, render.New("I couldn't read that command: "+parseErr.Error()+"."))
		return state.OutcomeBadInput, parseErr.Error(), nil
	}
	if refusal := p.refusal(ctx, ce); refusal != nil {
		p.reply(ctx, ce, refusal)
		return state.OutcomeRefused, refusal.Plain(), nil
	}
	if needed := p.registry.PolicyOf(ce.Command); needed.Kind != policy.None && (ce.destructiveRun() || !ce.Command.Destructive) {
		return p.requestApproval(ctx, ce, needed)
	}
	if ce.Command.Long && p.deps.Background != nil {
		// It answers as it goes; its result is a decision log entry of its own,
		// linked to this one.
		return state.OutcomeStarted, "runs in the background", func(ctx context.Context, entryID int64) error {
			state.AfterCommit(ctx, func() { p.deps.Background(func(ctx context.Context) { p.runLong(ctx, ce, entryID) }) })
			return nil
		}
	}
	outcome, detail = p.run(ctx, ce)
	return outcome, detail, nil
}

// runLong runs a Long command that needed no approval, in the background, and
// records its result as an entry linked to the command's own.
func (p *Processor) runLong(ctx context.Context, ce *Event, entryID int64) {
	ctx = zerolog.Ctx(ctx).With().Stringer("event_id", ce.EventID).Str("command", ce.Command.Name).Logger().WithContext(ctx)
	outcome, detail := p.run(ctx, ce)
	if _, err := p.deps.Audit.Append(ctx, &state.AuditEntry{
		Actor: ce.Sender, ActorDevice: ce.DeviceID, RoomID: ce.RoomID, EventID: ce.EventID,
		Action: "command." + ce.Command.Name, Arguments: ce.RawArgs, Outcome: outcome, Detail: detail, ParentID: entryID,
	}); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to record the result of a command run in the background")
	}
}

// refuseUnencrypted decides about a message that arrived unencrypted. In an encrypted
// room it is refused silently, whatever the config says: only the homeserver (or
// someone controlling it) can put a clear-text message there. In an unencrypted admin
// room it is refused unless matrix.allow_unencrypted is set, and the room is told why,
// once.
func (p *Processor) refuseUnencrypted(ctx context.Context, ce *Event) (bool, string) {
	encrypted, err := p.deps.Rooms.IsEncrypted(ctx, ce.RoomID)
	switch {
	case err != nil:
		return true, "could not tell whether the room is encrypted"
	case encrypted:
		return true, "unencrypted message in an encrypted room"
	case ce.RoomID != p.settings.AdminRoom || p.settings.AllowUnencrypted:
		return false, ""
	}
	if first, _ := p.deps.Once.SetOnce(ctx, "warned_unencrypted:"+string(ce.RoomID), p.deps.Now().UTC().Format(time.RFC3339)); first {
		p.reply(ctx, ce, render.New("This room is not end-to-end encrypted, so I won't run commands here: anyone with access to the server could read them and my answers. Turn on encryption in the room settings (or set matrix.allow_unencrypted: true)."))
	}
	return true, "unencrypted admin room"
}

// refusal explains why ce may not run here, or returns nil when it may.
func (p *Processor) refusal(ctx context.Context, ce *Event) *render.Message {
	cmd := ce.Command
	switch {
	case ce.Role < cmd.Role:
		return render.New("Only " + cmd.Role.String() + "s can use ").Code(p.settings.Prefix + cmd.Name).Text(".")
	case cmd.Role == RoleAdmin && ce.RoomID != p.settings.AdminRoom:
		return render.New("Use ").Code(p.settings.Prefix + cmd.Name).Text(" in the admin room: its answer is for the admins only.")
	case ce.changesThings() && p.settings.RequireVerified && !ce.Verified() && !ce.fromResetIdentity():
		return p.unverifiedRefusal(ce)
	}
	return nil
}

// unverifiedRefusal says why a command that changes something did not run from this
// device, and what to do. It answers every attempt, like every refusal of a command: a
// command met with silence would read as lost.
func (p *Processor) unverifiedRefusal(ce *Event) *render.Message {
	msg := render.New("").Code(p.settings.Prefix + ce.Command.Name).Text(" changes something, so it must come from a device you have verified; I did not run it. ")
	switch {
	case !ce.Encrypted:
		msg.Text("Your message was not encrypted, so I can't tell which device sent it: send it from an encrypted session you have verified.")
	case ce.Trust == id.TrustStateCrossSignedUntrusted:
		msg.Text("Your device ").Code(string(ce.DeviceID)).Text(" is signed by a cross-signing identity of yours that is not the one I first saw (was it reset?); until that new identity is trusted, only commands that read work from it. To have it trusted, send ").Code(p.settings.Prefix + "trust " + string(ce.Sender)).Text(" from it; another admin compares its key with you and approves.")
	default:
		msg.Text("Your device ").Code(string(ce.DeviceID)).Text(" is not cross-signed: verify it from another of your sessions (or with your recovery key) and try again.")
	}
	return msg
}

// run calls the command's function, turning a panic into a plain answer.
func (p *Processor) run(ctx context.Context, ce *Event) (outcome, detail string) {
	log := zerolog.Ctx(ctx)
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error().Any("panic", r).Str("stack", string(debug.Stack())).Msg("Command panicked")
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return ce.Command.Func(ctx, ce)
	}()
	if err == nil {
		return state.OutcomeOK, ""
	}
	if rec := (AnsweredError{}); errors.As(err, &rec) {
		return rec.Outcome, rec.Detail
	}
	if userErr := (UserError{}); errors.As(err, &userErr) {
		p.reply(ctx, ce, render.New(userErr.Msg))
		return state.OutcomeBadInput, userErr.Msg
	}
	log.Err(err).Str("command", ce.Command.Name).Msg("Command failed")
	p.reply(ctx, ce, render.New("Something went wrong while running ").Code(p.settings.Prefix+ce.Command.Name).Text("; the details are in Steward's log."))
	return state.OutcomeError, err.Error()
}

func (p *Processor) reply(ctx context.Context, ce *Event, msg *render.Message) {
	if err := ce.Reply(ctx, msg); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to queue reply")
	}
}
