package approval

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/policy"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Store is where requests and their votes survive a restart (state.Approvals). Every
// move between states is a compare-and-set, which is what makes a run exactly-once.
type Store interface {
	Create(ctx context.Context, a *state.Approval) error
	SetRequest(ctx context.Context, approvalID string, requestMsg, auditID int64) error
	Get(ctx context.Context, approvalID string) (*state.Approval, error)
	ByRequestEvent(ctx context.Context, eventID id.EventID) (*state.Approval, error)
	InState(ctx context.Context, states ...state.ApprovalState) ([]*state.Approval, error)
	DueToExpire(ctx context.Context, now time.Time) ([]*state.Approval, error)
	Move(ctx context.Context, approvalID string, from, to state.ApprovalState, d state.Decision) (bool, error)
	AddVote(ctx context.Context, v *state.Vote) (bool, error)
	Votes(ctx context.Context, approvalID string) ([]*state.Vote, error)
}

var _ Store = (*state.Approvals)(nil)

// Messenger sends what the engine says: the request message, its edits as answers
// come in, and replies in the request's thread. Like commands.Messenger, each method
// returns once the message is durably queued, within the context's transaction.
type Messenger interface {
	Reply(ctx context.Context, roomID id.RoomID, replyTo, threadRoot id.EventID, msg *render.Message) error
	Post(ctx context.Context, roomID id.RoomID, replyTo, threadRoot id.EventID, msg *render.Message) (int64, error)
	React(ctx context.Context, roomID id.RoomID, msgID int64, key string) error
	Edit(ctx context.Context, roomID id.RoomID, msgID int64, msg *render.Message) error
}

// DecisionLog takes the entries that account for every request, answer and run.
type DecisionLog interface {
	Append(ctx context.Context, e *state.AuditEntry) (int64, error)
}

// OnceStore remembers, across restarts, that an admin was told their unverified answer
// does not count, so a second reaction is not explained again.
type OnceStore interface {
	SetOnce(ctx context.Context, key, value string) (bool, error)
}

// Runner is what the engine runs an approved request through: the command dispatcher,
// so an approved command meets the same checks and the same panic recovery as any.
type Runner interface {
	// RunApproved runs a's command as its requester and returns the outcome and detail
	// for the decision log.
	RunApproved(ctx context.Context, a *state.Approval) (outcome, detail string)
	// Long reports whether the command takes long enough to run in the background, so
	// that the room's other commands do not wait behind it.
	Long(command string) bool
}

// Settings are the parts of the configuration the engine needs.
type Settings struct {
	// Prefix starts the commands the request message suggests (!approve ID).
	Prefix string
	// Admins are the only ones whose answers count.
	Admins []id.UserID
	// BotUserID is Steward's own account, the actor of an expiry.
	BotUserID id.UserID
	// TTL is how long a request stays open.
	TTL time.Duration
	// AllowSingleAdmin lets a command that needs other admins' approval fall back to
	// the requester's confirmation when only one admin is configured.
	AllowSingleAdmin bool
}

// Deps are what the engine works with.
type Deps struct {
	Store     Store
	Log       DecisionLog
	Messenger Messenger
	Once      OnceStore
	// Txn runs fn in one database transaction (state.DB.DoTxn).
	Txn func(ctx context.Context, fn func(ctx context.Context) error) error
	// Background runs fn apart from the command queues, with a context that outlives
	// the answer that approved it, for Long commands. Nil runs them in the queue.
	Background func(fn func(ctx context.Context))
	// Now is the clock (time.Now outside tests).
	Now func() time.Time
}

// Engine keeps the approval requests: it opens them, counts the answers, closes what
// expires and runs what is approved, exactly once, through its Runner.
type Engine struct {
	settings Settings
	deps     Deps
	runner   Runner
}

// NewEngine builds the engine. It runs nothing until RunWith gives it a Runner; the
// dispatcher that hands it requests is that Runner, so the two are built one after
// the other.
func NewEngine(settings Settings, deps Deps) *Engine {
	return &Engine{settings: settings, deps: deps}
}

// RunWith makes r the runner of approved requests; NewProcessor calls it, since the
// runner (the dispatcher) is built after the engine it is given.
func (e *Engine) RunWith(r Runner) {
	e.runner = r
}

// The reactions that answer an approval request. Clients may add a variation selector
// (U+FE0F); it is ignored.
const (
	ReactionApprove = "✅"
	ReactionDeny    = "❌"
)

// ReactionVote tells whether a reaction with key answers an approval request, and how.
func ReactionVote(key string) (approve, ok bool) {
	switch strings.ReplaceAll(key, "\ufe0f", "") {
	case ReactionApprove:
		return true, true
	case ReactionDeny:
		return false, true
	}
	return false, false
}

// Ballot is one answer to a request, given by command or by reaction.
type Ballot struct {
	Voter    id.UserID
	Device   id.DeviceID
	Verified bool
	RoomID   id.RoomID
	EventID  id.EventID
	// ThreadRoot is the thread of an answer by command, for the reply.
	ThreadRoot id.EventID
	SentAt     time.Time
	Approve    bool
	Reason     string
	// ByCommand is true for !approve, !deny and !cancel, which are always answered; a
	// reaction is answered only when silence would mislead.
	ByCommand bool
}

// Terms are what a request needs before it runs: its policy as the admins configured
// can meet it.
type Terms struct {
	// Policy is the policy's text for the request and the decision log, with a note
	// when a lone admin confirms instead (policy.allow_single_admin).
	Policy     string
	Needed     int
	SelfCounts bool
}

// Terms works out what a request by requester for command under policy needs. When
// too few other admins are configured to ever approve it, it returns instead the
// message that tells the requester so, and nothing is asked.
func (e *Engine) Terms(requester id.UserID, command string, p policy.Policy) (Terms, *render.Message) {
	needed, selfCounts := p.Needs()
	t := Terms{Policy: p.String(), Needed: needed, SelfCounts: selfCounts}
	others := e.otherAdmins(requester)
	if selfCounts || needed <= others {
		return t, nil
	}
	if !e.settings.AllowSingleAdmin || len(e.settings.Admins) != 1 {
		msg := render.New("").Code(e.settings.Prefix + command).Text(fmt.Sprintf(" needs the approval of %s, but ", adminsPhrase(needed)))
		if others == 0 {
			msg.Text("no second admin exists: you are the only one in matrix.admins. Add another admin there, or set policy.allow_single_admin: true to let you confirm it yourself.")
		} else {
			configured := fmt.Sprintf("only %d other admins are configured", others)
			if others == 1 {
				configured = "only 1 other admin is configured"
			}
			msg.Text(configured + ". Add admins to matrix.admins, or loosen policy.commands." + command + ".")
		}
		return t, msg
	}
	t.Needed, t.SelfCounts = 1, true
	t.Policy += ", confirmed alone (policy.allow_single_admin)"
	return t, nil
}

// Request is a command that waits for approval, as the dispatcher hands it over.
type Request struct {
	Command string
	// Line is the command line as typed, prefix included.
	Line string
	// Effect says in a sentence what running it will do; Pin is what the request
	// shows that may change while it waits (an image digest).
	Effect, Pin string
	Requester   id.UserID
	Device      id.DeviceID
	RoomID      id.RoomID
	EventID     id.EventID
	ThreadRoot  id.EventID
	// At is when it was asked; the request expires TTL after.
	At time.Time
}

// Ask stores r as a request under t, with its decision log entry (a child of the
// command's own, parentID) and the message that asks the admins. It is meant to run
// in the transaction that records the command, so a request is either wholly asked
// or not at all.
func (e *Engine) Ask(ctx context.Context, r Request, t Terms, parentID int64) error {
	a := &state.Approval{
		Command: r.Command, Body: strings.TrimSpace(r.Line), Effect: r.Effect, Pin: r.Pin,
		Requester: r.Requester, RequesterDevice: r.Device, RoomID: r.RoomID, EventID: r.EventID, ThreadRoot: r.ThreadRoot,
		Policy: t.Policy, Needed: t.Needed, SelfCounts: t.SelfCounts, CreatedAt: r.At, ExpiresAt: r.At.Add(e.settings.TTL),
	}
	if err := e.deps.Store.Create(ctx, a); err != nil {
		return err
	}
	auditID, err := e.deps.Log.Append(ctx, &state.AuditEntry{
		Actor: r.Requester, ActorDevice: r.Device, RoomID: r.RoomID, EventID: r.EventID,
		Action: "approval.request", Arguments: a.ID + " " + a.Body, Outcome: state.OutcomeOK,
		Detail:   fmt.Sprintf("policy %s; expires %s", a.Policy, a.ExpiresAt.UTC().Format(time.RFC3339)),
		ParentID: parentID,
	})
	if err != nil {
		return err
	}
	msgID, err := e.deps.Messenger.Post(ctx, r.RoomID, r.EventID, r.ThreadRoot, e.requestMessage(a, nil))
	if err != nil {
		return err
	}
	for _, key := range []string{ReactionApprove, ReactionDeny} {
		if err = e.deps.Messenger.React(ctx, r.RoomID, msgID, key); err != nil {
			return err
		}
	}
	zerolog.Ctx(ctx).Info().Str("approval_id", a.ID).Str("policy", a.Policy).Msg("Asked the admins for approval")
	return e.deps.Store.SetRequest(ctx, a.ID, msgID, auditID)
}

// otherAdmins counts the configured admins other than userID.
func (e *Engine) otherAdmins(userID id.UserID) int {
	n := 0
	for _, admin := range e.settings.Admins {
		if admin != userID {
			n++
		}
	}
	return n
}

// adminsPhrase names n admins other than the requester, as the messages say it.
func adminsPhrase(n int) string {
	if n == 1 {
		return "one other admin"
	}
	return fmt.Sprintf("%d other admins", n)
}

// Reaction is a ✅ or ❌ put on a message that may be a request.
type Reaction struct {
	Ballot
	// On is the message reacted to; Key the reaction as sent.
	On  id.EventID
	Key string
	// Late, for a reaction that reached Steward longer than the dispatcher's
	// staleness limit after it was sent, says how late, as people read it; it is
	// empty for one on time.
	Late string
}

// React counts r as an answer, if r.On is a request. A late reaction does not count,
// and the admin is told how to answer again. It returns the outcome for the inbox.
func (e *Engine) React(ctx context.Context, r *Reaction) string {
	log := zerolog.Ctx(ctx)
	a, err := e.deps.Store.ByRequestEvent(ctx, r.On)
	if err != nil {
		log.Err(err).Msg("Failed to look up the approval a reaction answers")
		return state.OutcomeError
	} else if a == nil {
		return state.OutcomeIgnored
	}
	l := log.With().Str("approval_id", a.ID).Logger()
	log = &l
	ctx = log.WithContext(ctx)
	b := &r.Ballot
	if !slices.Contains(e.settings.Admins, b.Voter) {
		log.Warn().Msg("Ignored an answer to an approval request from someone who is not an admin")
		e.recordVote(ctx, a, b, state.OutcomeRefused, "not an admin")
		return state.OutcomeRefused
	}
	if r.Late != "" {
		e.recordVote(ctx, a, b, state.OutcomeStale, fmt.Sprintf("reached Steward %s after it was sent", r.Late))
		e.replyTo(ctx, a, render.New("").Pill(b.Voter).Text(fmt.Sprintf(": your %s on %s reached me %s after you sent it, so I did not count it. Answer again with ", r.Key, a.ID, r.Late)).
			Code(e.settings.Prefix+"approve "+a.ID).Text(" or ").Code(e.settings.Prefix+"deny "+a.ID).Text(" if you still mean it."))
		return state.OutcomeStale
	}
	reply, outcome := e.Vote(ctx, a.ID, b)
	if reply != nil {
		e.replyTo(ctx, a, reply)
	}
	return outcome
}

// replyTo answers in the thread of a's request: as a reply to the command that asked.
func (e *Engine) replyTo(ctx context.Context, a *state.Approval, msg *render.Message) {
	if err := e.deps.Messenger.Reply(ctx, a.RoomID, a.EventID, a.ThreadRoot, msg); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to queue reply")
	}
}

// recordVote writes an answer that changed nothing to the decision log.
func (e *Engine) recordVote(ctx context.Context, a *state.Approval, b *Ballot, outcome, detail string) {
	if _, err := e.deps.Log.Append(ctx, voteEntry(a, b, outcome, detail)); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to write audit entry")
	}
}

func voteEntry(a *state.Approval, b *Ballot, outcome, detail string) *state.AuditEntry {
	args := a.ID + " approve"
	if !b.Approve {
		args = a.ID + " deny"
		if b.Reason != "" {
			args += ": " + b.Reason
		}
	}
	return &state.AuditEntry{
		Actor: b.Voter, ActorDevice: b.Device, RoomID: b.RoomID, EventID: b.EventID,
		Action: "approval.vote", Arguments: args, Outcome: outcome, Detail: detail, ParentID: a.AuditID,
	}
}

// Vote counts b as an answer to approval approvalID. Everything it decides (the vote,
// the request's new state, the decision log entries, the edited request message) is
// written in one transaction; a command approved by it runs after that commits. It
// returns the answer for the voter (nil for none) and the outcome for the inbox.
func (e *Engine) Vote(ctx context.Context, approvalID string, b *Ballot) (reply *render.Message, outcome string) {
	var approved *state.Approval
	err := e.deps.Txn(ctx, func(ctx context.Context) error {
		reply, outcome, approved = nil, state.OutcomeOK, nil
		a, err := e.deps.Store.Get(ctx, approvalID)
		if err != nil {
			return err
		}
		if a == nil {
			reply, outcome = render.New("There is no approval request "+approvalID+". Send ").Code(e.settings.Prefix+"pending").Text(" to see the open ones."), state.OutcomeBadInput
			return nil
		}
		v := &tally{Engine: e, a: a, b: b, reply: &reply, outcome: &outcome}
		approved, err = v.decide(ctx)
		return err
	})
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Str("approval_id", approvalID).Msg("Failed to record an answer to an approval request")
		return render.New("Something went wrong while recording your answer to " + approvalID + "; the details are in Steward's log. Try again."), state.OutcomeError
	}
	if approved != nil {
		e.launch(ctx, approved)
	}
	return reply, outcome
}

// tally is one answer being counted, inside Vote's transaction: what it sets in reply
// and outcome is what Vote returns.
type tally struct {
	*Engine
	a       *state.Approval
	b       *Ballot
	reply   **render.Message
	outcome *string
}

// refuse records an answer that does not count; why goes to the decision log, msg to
// the one who answered by command.
func (v *tally) refuse(ctx context.Context, why string, msg *render.Message) error {
	*v.outcome = state.OutcomeRefused
	if v.b.ByCommand {
		*v.reply = msg
	}
	_, err := v.deps.Log.Append(ctx, voteEntry(v.a, v.b, state.OutcomeRefused, why))
	return err
}

// decide works out what the answer does, in the order that makes each refusal the
// most useful one, and returns the request when the answer approved it.
func (v *tally) decide(ctx context.Context) (*state.Approval, error) {
	a, b := v.a, v.b
	self := b.Voter == a.Requester
	if a.State == state.ApprovalOpen && !b.SentAt.Before(a.ExpiresAt) {
		if err := v.expire(ctx, a); err != nil {
			return nil, err
		}
	}
	if a.State != state.ApprovalOpen {
		return nil, v.refuse(ctx, "request is "+string(a.State), render.New(a.ID+" is "+describeState(a)+"; it can't be answered any more."))
	}
	// Withdrawing a request changes something too (a stolen password's new session
	// could cancel every request of that admin), so it needs a verified device like
	// any other answer.
	if !b.Verified {
		return nil, v.unverified(ctx)
	}
	if !b.Approve && self {
		return nil, v.cancel(ctx)
	}
	if b.Approve && self && !a.SelfCounts {
		return nil, v.refuse(ctx, "requester cannot approve their own request",
			render.New("You asked for "+a.ID+", so your approval doesn't count: "+adminsPhrase(a.Needed)+" must approve it."))
	}
	if isNew, err := v.deps.Store.AddVote(ctx, &state.Vote{
		ApprovalID: a.ID, Voter: b.Voter, DeviceID: b.Device, EventID: b.EventID, Approve: b.Approve, Time: b.SentAt,
	}); err != nil {
		return nil, err
	} else if !isNew {
		return nil, v.refuse(ctx, "already answered", render.New("You have already answered "+a.ID+"; your first answer stands."))
	}
	if _, err := v.deps.Log.Append(ctx, voteEntry(a, b, state.OutcomeOK, "")); err != nil {
		return nil, err
	}
	now := v.deps.Now()
	if !b.Approve {
		return nil, v.settle(ctx, a, b, state.ApprovalDenied, state.Decision{By: b.Voter, At: now, Reason: b.Reason}, "approval.denied", b.Reason, func() {
			if b.ByCommand {
				*v.reply = render.New("Denied " + a.ID + "; it will not run.")
			}
		})
	}
	votes, err := v.deps.Store.Votes(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if Count(a, votes) < a.Needed {
		if b.ByCommand {
			*v.reply = render.New(fmt.Sprintf("Counted your approval of %s: %d of %d so far.", a.ID, Count(a, votes), a.Needed))
		}
		return nil, v.deps.Messenger.Edit(ctx, a.RoomID, a.RequestMsg, v.requestMessage(a, votes))
	}
	var approved *state.Approval
	err = v.settle(ctx, a, b, state.ApprovalApproved, state.Decision{By: b.Voter, At: now}, "approval.approved", "approved by "+Approvers(a, votes), func() {
		approved = a
	})
	if err != nil || approved == nil || !b.ByCommand {
		return approved, err
	}
	// Queued now, with the decision, so the approver reads it before the command's
	// own answer.
	return approved, v.deps.Messenger.Reply(ctx, b.RoomID, b.EventID, b.ThreadRoot, render.New("Approved "+a.ID+"; running ").Code(a.Body).Text(" now."))
}

// unverified refuses an answer from a device its owner has not verified, and tells
// them why: always when they answered by command, once per request for a reaction,
// since a reaction that silently does nothing would mislead.
func (v *tally) unverified(ctx context.Context) error {
	a, b := v.a, v.b
	msg := render.New("").Pill(b.Voter).Text(": your answer to " + a.ID + " doesn't count: ")
	if b.Device == "" {
		msg.Text("it was not encrypted, so I can't tell which device sent it.")
	} else {
		msg.Text("your device ").Code(string(b.Device)).Text(" is not verified. Verify it from another of your sessions (or with your recovery key) and answer again.")
	}
	err := v.refuse(ctx, "device not verified", msg)
	if first, _ := v.deps.Once.SetOnce(ctx, "unverified_vote:"+a.ID+":"+string(b.Voter), b.EventID.String()); first {
		*v.reply = msg
	}
	return err
}

// cancel withdraws the request at its requester's wish.
func (v *tally) cancel(ctx context.Context) error {
	a, b := v.a, v.b
	return v.settle(ctx, a, b, state.ApprovalCancelled, state.Decision{By: b.Voter, At: v.deps.Now(), Reason: b.Reason}, "approval.cancelled", b.Reason, func() {
		if b.ByCommand {
			*v.reply = render.New("Cancelled " + a.ID + "; it will not run.")
		}
	})
}

// settle moves a from open to the final (or approved) state to, writes the decision log
// entry and edits the request message; won runs when this caller made the move. b is
// the answer that decided, if one did (not for an expiry).
func (e *Engine) settle(ctx context.Context, a *state.Approval, b *Ballot, to state.ApprovalState, d state.Decision, action, detail string, won func()) error {
	ok, err := e.deps.Store.Move(ctx, a.ID, state.ApprovalOpen, to, d)
	if err != nil || !ok {
		return err
	}
	a.State, a.DecidedBy, a.DecidedAt, a.Reason = to, d.By, d.At, d.Reason
	entry := &state.AuditEntry{
		Actor: d.By, RoomID: a.RoomID, Action: action, Arguments: a.ID + " " + a.Body,
		Outcome: state.OutcomeOK, Detail: detail, ParentID: a.AuditID,
	}
	if b != nil {
		entry.ActorDevice, entry.EventID = b.Device, b.EventID
	}
	if _, err = e.deps.Log.Append(ctx, entry); err != nil {
		return err
	}
	if err = e.editRequest(ctx, a); err != nil {
		return err
	}
	won()
	return nil
}

// expire closes a, whose time ran out, and tells the requester.
func (e *Engine) expire(ctx context.Context, a *state.Approval) error {
	return e.settle(ctx, a, nil, state.ApprovalExpired, state.Decision{By: e.settings.BotUserID, At: a.ExpiresAt}, "approval.expired", "", func() {
		e.replyTo(ctx, a, render.New("").Pill(a.Requester).Text(": your request "+a.ID+" expired without enough approvals, so ").Code(a.Body).
			Text(" did not run. Ask again if it is still needed."))
	})
}

// editRequest rewrites a's request message to show where it stands.
func (e *Engine) editRequest(ctx context.Context, a *state.Approval) error {
	if a.RequestMsg == 0 {
		return nil
	}
	votes, err := e.deps.Store.Votes(ctx, a.ID)
	if err != nil {
		return err
	}
	return e.deps.Messenger.Edit(ctx, a.RoomID, a.RequestMsg, e.requestMessage(a, votes))
}

// launch runs an approved request: in the room's queue for a quick command, in the
// background for a Long one.
func (e *Engine) launch(ctx context.Context, a *state.Approval) {
	if e.deps.Background != nil && e.runner.Long(a.Command) {
		e.deps.Background(func(ctx context.Context) { e.execute(ctx, a) })
		return
	}
	e.execute(ctx, a)
}

// execute runs an approved request, exactly once: the move from approved to executing
// is committed before the command runs, so neither a second approval nor a restart can
// run it again. The outcome goes to the request, the decision log and the request
// message.
func (e *Engine) execute(ctx context.Context, a *state.Approval) {
	log := zerolog.Ctx(ctx).With().Str("approval_id", a.ID).Str("command", a.Command).Logger()
	ctx = log.WithContext(ctx)
	won, err := e.deps.Store.Move(ctx, a.ID, state.ApprovalApproved, state.ApprovalExecuting, state.Decision{})
	if err != nil {
		log.Err(err).Msg("Failed to claim approved command")
		return
	} else if !won {
		return
	}
	a.State = state.ApprovalExecuting
	if err = e.editRequest(ctx, a); err != nil {
		log.Err(err).Msg("Failed to queue request message edit")
	}
	outcome, detail := e.runner.RunApproved(ctx, a)
	err = e.deps.Txn(ctx, func(ctx context.Context) error {
		if _, err := e.deps.Store.Move(ctx, a.ID, state.ApprovalExecuting, state.ApprovalDone, state.Decision{Outcome: outcome, Detail: detail}); err != nil {
			return err
		}
		return e.finish(ctx, a, outcome, detail)
	})
	if err != nil {
		log.Err(err).Msg("Failed to record the result of an approved command")
	}
	log.Info().Str("outcome", outcome).Msg("Ran approved command")
}

// finish records how a's run ended, once its move to done is made: on the request, in
// the decision log as the command's own entry, and on the request message.
func (e *Engine) finish(ctx context.Context, a *state.Approval, outcome, detail string) error {
	a.State, a.Outcome, a.Detail = state.ApprovalDone, outcome, detail
	if _, err := e.deps.Log.Append(ctx, &state.AuditEntry{
		Actor: a.Requester, ActorDevice: a.RequesterDevice, RoomID: a.RoomID, EventID: a.EventID,
		Action: "command." + a.Command, Arguments: Arguments(a), Outcome: outcome, Detail: joinDetail("approved in "+a.ID, detail),
		ParentID: a.AuditID,
	}); err != nil {
		return err
	}
	return e.editRequest(ctx, a)
}

// Arguments is a's command line without the command, as the decision log records the
// arguments of any command. The stored line is split without its prefix, which config
// may have changed since it was asked.
func Arguments(a *state.Approval) string {
	_, rest, _ := strings.Cut(a.Body, " ")
	return strings.TrimSpace(rest)
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

// ExpireDue closes the open requests whose time ran out. The bot calls it on a timer.
func (e *Engine) ExpireDue(ctx context.Context) error {
	due, err := e.deps.Store.DueToExpire(ctx, e.deps.Now())
	if err != nil {
		return err
	}
	for _, a := range due {
		if err = e.deps.Txn(ctx, func(ctx context.Context) error { return e.expire(ctx, a) }); err != nil {
			return err
		}
	}
	return nil
}

// Resume finishes what a stop left of the approvals: a command that was running is
// reported and never run again (its result is unknown), one that was approved but not
// yet started runs now, and requests that expired meanwhile are closed.
func (e *Engine) Resume(ctx context.Context) error {
	running, err := e.deps.Store.InState(ctx, state.ApprovalExecuting)
	if err != nil {
		return err
	}
	for _, a := range running {
		if err = e.deps.Txn(ctx, func(ctx context.Context) error { return e.interrupted(ctx, a) }); err != nil {
			return err
		}
		zerolog.Ctx(ctx).Warn().Str("approval_id", a.ID).Msg("An approved command was interrupted by a stop; not running it again")
	}
	approved, err := e.deps.Store.InState(ctx, state.ApprovalApproved)
	if err != nil {
		return err
	}
	for _, a := range approved {
		e.launch(ctx, a)
	}
	return e.ExpireDue(ctx)
}

// interrupted closes a, whose command was running when Steward stopped, as done with
// an unknown result, and tells the requester it did not run again.
func (e *Engine) interrupted(ctx context.Context, a *state.Approval) error {
	const detail = "Steward stopped while it ran; not run again"
	won, err := e.deps.Store.Move(ctx, a.ID, state.ApprovalExecuting, state.ApprovalDone, state.Decision{Outcome: state.OutcomeInterrupted, Detail: detail})
	if err != nil || !won {
		return err
	}
	e.replyTo(ctx, a, render.New("Steward stopped while it was running "+a.ID+" (").Code(a.Body).
		Text("), so its result is unknown. I did not run it again; check, and ask again if it is still needed."))
	return e.finish(ctx, a, state.OutcomeInterrupted, detail)
}
