package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

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

// ballot is one answer to a request, given by command or by reaction.
type ballot struct {
	voter    id.UserID
	device   id.DeviceID
	verified bool
	roomID   id.RoomID
	eventID  id.EventID
	// threadRoot is the thread of an answer by command, for the reply.
	threadRoot id.EventID
	sentAt     time.Time
	approve    bool
	reason     string
	// byCommand is true for !approve, !deny and !cancel, which are always answered; a
	// reaction is answered only when silence would mislead.
	byCommand bool
}

// requestApproval turns a command that needs approval into a request: it checks the
// arguments, and returns what to store together with the command's audit entry (the
// request, its decision log entry and the message that asks the admins).
func (p *Processor) requestApproval(ctx context.Context, ce *Event, policy Policy) (outcome, detail string, then func(ctx context.Context, entryID int64) error) {
	name := p.settings.Prefix + ce.Command.Name
	needed, selfCounts := policy.Needs()
	policyText := policy.String()
	if others := p.otherAdmins(ce.Sender); !selfCounts && needed > others {
		if !p.settings.AllowSingleAdmin || len(p.settings.Admins) != 1 {
			msg := render.New("").Code(name).Text(fmt.Sprintf(" needs the approval of %s, but ", adminsPhrase(needed)))
			if others == 0 {
				msg.Text("no second admin exists: you are the only one in matrix.admins. Add another admin there, or set policy.allow_single_admin: true to let you confirm it yourself.")
			} else {
				configured := fmt.Sprintf("only %d other admins are configured", others)
				if others == 1 {
					configured = "only 1 other admin is configured"
				}
				msg.Text(configured + ". Add admins to matrix.admins, or loosen policy.commands." + ce.Command.Name + ".")
			}
			p.reply(ctx, ce, msg)
			return state.OutcomeRefused, "not enough admins for policy " + policyText, nil
		}
		needed, selfCounts = 1, true
		policyText += ", confirmed alone (policy.allow_single_admin)"
	}
	effect := ""
	if ce.Command.Describe != nil {
		var err error
		if effect, err = ce.Command.Describe(ctx, ce); err != nil {
			if userErr := (UserError{}); errors.As(err, &userErr) {
				p.reply(ctx, ce, render.New(userErr.Msg))
				return state.OutcomeBadInput, userErr.Msg, nil
			}
			zerolog.Ctx(ctx).Err(err).Str("command", ce.Command.Name).Msg("Failed to describe command for approval")
			p.reply(ctx, ce, render.New("Something went wrong while preparing ").Code(name).Text("; the details are in Steward's log."))
			return state.OutcomeError, err.Error(), nil
		}
	}
	now := p.now()
	a := &state.Approval{
		Command: ce.Command.Name, Body: strings.TrimSpace(name + " " + ce.RawArgs), Effect: effect, Pin: ce.Pin,
		Requester: ce.Sender, RequesterDevice: ce.DeviceID, RoomID: ce.RoomID, EventID: ce.EventID, ThreadRoot: ce.ThreadRoot,
		Policy: policyText, Needed: needed, SelfCounts: selfCounts, CreatedAt: now, ExpiresAt: now.Add(p.settings.ApprovalTTL),
	}
	then = func(ctx context.Context, entryID int64) error {
		if err := p.approvals.Create(ctx, a); err != nil {
			return err
		}
		auditID, err := p.audit.Append(ctx, &state.AuditEntry{
			Actor: ce.Sender, ActorDevice: ce.DeviceID, RoomID: ce.RoomID, EventID: ce.EventID,
			Action: "approval.request", Arguments: a.ID + " " + a.Body, Outcome: state.OutcomeOK,
			Detail:   fmt.Sprintf("policy %s; expires %s", a.Policy, a.ExpiresAt.UTC().Format(time.RFC3339)),
			ParentID: entryID,
		})
		if err != nil {
			return err
		}
		msgID, err := p.messenger.Post(ctx, ce.RoomID, ce.EventID, ce.ThreadRoot, p.requestMessage(a, nil))
		if err != nil {
			return err
		}
		for _, key := range []string{ReactionApprove, ReactionDeny} {
			if err = p.messenger.React(ctx, ce.RoomID, msgID, key); err != nil {
				return err
			}
		}
		zerolog.Ctx(ctx).Info().Str("approval_id", a.ID).Str("policy", a.Policy).Msg("Asked the admins for approval")
		return p.approvals.SetRequest(ctx, a.ID, msgID, auditID)
	}
	return state.OutcomeAwaitingApproval, "policy " + policyText, then
}

// otherAdmins counts the configured admins other than userID.
func (p *Processor) otherAdmins(userID id.UserID) int {
	n := 0
	for _, admin := range p.settings.Admins {
		if admin != userID {
			n++
		}
	}
	return n
}

func adminsPhrase(n int) string {
	if n == 1 {
		return "one other admin"
	}
	return fmt.Sprintf("%d other admins", n)
}

// WantsReaction reports whether Steward acts on reactions with key: answers to
// approval requests and acknowledgements of alerts. The bot records only those.
func WantsReaction(key string) bool {
	_, vote := ReactionVote(key)
	return vote || isAckReaction(key)
}

// HandleReaction takes a reaction from the inbox: a ✅ or ❌ on an approval request
// counts as that admin's answer, a 👀 on an alert takes it. Reactions to anything else
// are ignored. It returns the outcome for the inbox.
func (p *Processor) HandleReaction(ctx context.Context, in *Input, relatesTo id.EventID) string {
	log := zerolog.Ctx(ctx).With().Stringer("event_id", in.EventID).Stringer("sender", in.Sender).Logger()
	ctx = log.WithContext(ctx)
	if isAckReaction(in.Body) {
		return p.ackByReaction(ctx, in, relatesTo)
	}
	approve, ok := ReactionVote(in.Body)
	if !ok {
		return state.OutcomeIgnored
	}
	a, err := p.approvals.ByRequestEvent(ctx, relatesTo)
	if err != nil {
		log.Err(err).Msg("Failed to look up the approval a reaction answers")
		return state.OutcomeError
	} else if a == nil {
		return state.OutcomeIgnored
	}
	log = log.With().Str("approval_id", a.ID).Logger()
	ctx = log.WithContext(ctx)
	b := &ballot{
		voter: in.Sender, device: in.DeviceID, verified: in.Encrypted && in.Trust >= id.TrustStateCrossSignedTOFU,
		roomID: in.RoomID, eventID: in.EventID, sentAt: in.SentAt, approve: approve,
	}
	if p.RoleOf(ctx, in.Sender) != RoleAdmin {
		log.Warn().Msg("Ignored an answer to an approval request from someone who is not an admin")
		p.recordVote(ctx, a, b, state.OutcomeRefused, "not an admin")
		return state.OutcomeRefused
	}
	if late := in.ReceivedAt.Sub(in.SentAt); late > p.settings.StaleAfter {
		p.recordVote(ctx, a, b, state.OutcomeStale, fmt.Sprintf("reached Steward %s after it was sent", render.Duration(late)))
		p.replyTo(ctx, a, render.New("").Pill(in.Sender).Text(fmt.Sprintf(": your %s on %s reached me %s after you sent it, so I did not count it. Answer again with ", in.Body, a.ID, render.Duration(late))).
			Code(p.settings.Prefix+"approve "+a.ID).Text(" or ").Code(p.settings.Prefix+"deny "+a.ID).Text(" if you still mean it."))
		return state.OutcomeStale
	}
	reply, outcome := p.vote(ctx, a.ID, b)
	if reply != nil {
		p.replyTo(ctx, a, reply)
	}
	return outcome
}

// replyTo answers in the thread of a's request: as a reply to the command that asked.
func (p *Processor) replyTo(ctx context.Context, a *state.Approval, msg *render.Message) {
	if err := p.messenger.Reply(ctx, a.RoomID, a.EventID, a.ThreadRoot, msg); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to queue reply")
	}
}

// recordVote writes an answer that changed nothing to the decision log.
func (p *Processor) recordVote(ctx context.Context, a *state.Approval, b *ballot, outcome, detail string) {
	if _, err := p.audit.Append(ctx, voteEntry(a, b, outcome, detail)); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to write audit entry")
	}
}

func voteEntry(a *state.Approval, b *ballot, outcome, detail string) *state.AuditEntry {
	args := a.ID + " approve"
	if !b.approve {
		args = a.ID + " deny"
		if b.reason != "" {
			args += ": " + b.reason
		}
	}
	return &state.AuditEntry{
		Actor: b.voter, ActorDevice: b.device, RoomID: b.roomID, EventID: b.eventID,
		Action: "approval.vote", Arguments: args, Outcome: outcome, Detail: detail, ParentID: a.AuditID,
	}
}

// vote counts b as an answer to approval approvalID. Everything it decides (the vote,
// the request's new state, the decision log entries, the edited request message) is
// written in one transaction; a command approved by it runs after that commits. It
// returns the answer for the voter (nil for none) and the outcome for the inbox.
func (p *Processor) vote(ctx context.Context, approvalID string, b *ballot) (reply *render.Message, outcome string) {
	log := zerolog.Ctx(ctx)
	var approved *state.Approval
	err := p.txn(ctx, func(ctx context.Context) error {
		reply, outcome, approved = nil, state.OutcomeOK, nil
		a, err := p.approvals.Get(ctx, approvalID)
		if err != nil {
			return err
		}
		if a == nil {
			reply, outcome = render.New("There is no approval request "+approvalID+". Send ").Code(p.settings.Prefix+"pending").Text(" to see the open ones."), state.OutcomeBadInput
			return nil
		}
		self := b.voter == a.Requester
		refuse := func(why string, msg *render.Message) error {
			outcome = state.OutcomeRefused
			if b.byCommand {
				reply = msg
			}
			_, err := p.audit.Append(ctx, voteEntry(a, b, outcome, why))
			return err
		}
		if a.State == state.ApprovalOpen && !b.sentAt.Before(a.ExpiresAt) {
			if err = p.expire(ctx, a); err != nil {
				return err
			}
		}
		if a.State != state.ApprovalOpen {
			return refuse("request is "+string(a.State), render.New(a.ID+" is "+describeState(a)+"; it can't be answered any more."))
		}
		if !b.approve && self {
			return p.cancel(ctx, a, b, &reply)
		}
		if !b.verified {
			msg := render.New("").Pill(b.voter).Text(": your answer to " + a.ID + " doesn't count: ")
			if b.device == "" {
				msg.Text("it was not encrypted, so I can't tell which device sent it.")
			} else {
				msg.Text("your device ").Code(string(b.device)).Text(" is not verified. Verify it from another of your sessions (or with your recovery key) and answer again.")
			}
			err := refuse("device not verified", msg)
			if first, _ := p.once.SetOnce(ctx, "unverified_vote:"+a.ID+":"+string(b.voter), b.eventID.String()); first {
				reply = msg // a reaction that silently does nothing would mislead
			}
			return err
		}
		if b.approve && self && !a.SelfCounts {
			return refuse("requester cannot approve their own request",
				render.New("You asked for "+a.ID+", so your approval doesn't count: "+adminsPhrase(a.Needed)+" must approve it."))
		}
		if isNew, err := p.approvals.AddVote(ctx, &state.Vote{
			ApprovalID: a.ID, Voter: b.voter, DeviceID: b.device, EventID: b.eventID, Approve: b.approve, Time: b.sentAt,
		}); err != nil {
			return err
		} else if !isNew {
			return refuse("already answered", render.New("You have already answered "+a.ID+"; your first answer stands."))
		}
		if _, err = p.audit.Append(ctx, voteEntry(a, b, state.OutcomeOK, "")); err != nil {
			return err
		}
		now := p.now()
		if !b.approve {
			return p.settle(ctx, a, b, state.ApprovalDenied, state.Decision{By: b.voter, At: now, Reason: b.reason}, "approval.denied", b.reason, func() {
				if b.byCommand {
					reply = render.New("Denied " + a.ID + "; it will not run.")
				}
			})
		}
		votes, err := p.approvals.Votes(ctx, a.ID)
		if err != nil {
			return err
		}
		if countApprovals(a, votes) < a.Needed {
			if b.byCommand {
				reply = render.New(fmt.Sprintf("Counted your approval of %s: %d of %d so far.", a.ID, countApprovals(a, votes), a.Needed))
			}
			return p.messenger.Edit(ctx, a.RoomID, a.RequestMsg, p.requestMessage(a, votes))
		}
		err = p.settle(ctx, a, b, state.ApprovalApproved, state.Decision{By: b.voter, At: now}, "approval.approved", "approved by "+approverList(a, votes), func() {
			approved = a
		})
		if err != nil || approved == nil || !b.byCommand {
			return err
		}
		// Queued now, with the decision, so the approver reads it before the
		// command's own answer.
		return p.messenger.Reply(ctx, b.roomID, b.eventID, b.threadRoot, render.New("Approved "+a.ID+"; running ").Code(a.Body).Text(" now."))
	})
	if err != nil {
		log.Err(err).Str("approval_id", approvalID).Msg("Failed to record an answer to an approval request")
		return render.New("Something went wrong while recording your answer to " + approvalID + "; the details are in Steward's log. Try again."), state.OutcomeError
	}
	if approved != nil {
		p.launch(ctx, approved)
	}
	return reply, outcome
}

// settle moves a from open to the final (or approved) state to, writes the decision log
// entry and edits the request message; won runs when this caller made the move. b is
// the answer that decided, if one did (not for an expiry).
func (p *Processor) settle(ctx context.Context, a *state.Approval, b *ballot, to state.ApprovalState, d state.Decision, action, detail string, won func()) error {
	ok, err := p.approvals.Move(ctx, a.ID, state.ApprovalOpen, to, d)
	if err != nil || !ok {
		return err
	}
	a.State, a.DecidedBy, a.DecidedAt, a.Reason = to, d.By, d.At, d.Reason
	entry := &state.AuditEntry{
		Actor: d.By, RoomID: a.RoomID, Action: action, Arguments: a.ID + " " + a.Body,
		Outcome: state.OutcomeOK, Detail: detail, ParentID: a.AuditID,
	}
	if b != nil {
		entry.ActorDevice, entry.EventID = b.device, b.eventID
	}
	if _, err = p.audit.Append(ctx, entry); err != nil {
		return err
	}
	if err = p.editRequest(ctx, a); err != nil {
		return err
	}
	won()
	return nil
}

// cancel withdraws a at its requester's wish.
func (p *Processor) cancel(ctx context.Context, a *state.Approval, b *ballot, reply **render.Message) error {
	return p.settle(ctx, a, b, state.ApprovalCancelled, state.Decision{By: b.voter, At: p.now(), Reason: b.reason}, "approval.cancelled", b.reason, func() {
		if b.byCommand {
			*reply = render.New("Cancelled " + a.ID + "; it will not run.")
		}
	})
}

// expire closes a, whose time ran out, and tells the requester.
func (p *Processor) expire(ctx context.Context, a *state.Approval) error {
	return p.settle(ctx, a, nil, state.ApprovalExpired, state.Decision{By: p.settings.BotUserID, At: a.ExpiresAt}, "approval.expired", "", func() {
		p.replyTo(ctx, a, render.New("").Pill(a.Requester).Text(": your request "+a.ID+" expired without enough approvals, so ").Code(a.Body).
			Text(" did not run. Ask again if it is still needed."))
	})
}

// editRequest rewrites a's request message to show where it stands.
func (p *Processor) editRequest(ctx context.Context, a *state.Approval) error {
	if a.RequestMsg == 0 {
		return nil
	}
	votes, err := p.approvals.Votes(ctx, a.ID)
	if err != nil {
		return err
	}
	return p.messenger.Edit(ctx, a.RoomID, a.RequestMsg, p.requestMessage(a, votes))
}

// launch runs an approved request: in the room's queue for a quick command, in the
// background for a Long one.
func (p *Processor) launch(ctx context.Context, a *state.Approval) {
	if cmd := p.registry.Lookup(a.Command); cmd != nil && cmd.Long && p.background != nil {
		p.background(func(ctx context.Context) { p.execute(ctx, a) })
		return
	}
	p.execute(ctx, a)
}

// execute runs an approved request, exactly once: the move from approved to executing
// is committed before the command runs, so neither a second approval nor a restart can
// run it again. The outcome goes to the request, the decision log and the request
// message.
func (p *Processor) execute(ctx context.Context, a *state.Approval) {
	log := zerolog.Ctx(ctx).With().Str("approval_id", a.ID).Str("command", a.Command).Logger()
	ctx = log.WithContext(ctx)
	won, err := p.approvals.Move(ctx, a.ID, state.ApprovalApproved, state.ApprovalExecuting, state.Decision{})
	if err != nil {
		log.Err(err).Msg("Failed to claim approved command")
		return
	} else if !won {
		return
	}
	a.State = state.ApprovalExecuting
	if err = p.editRequest(ctx, a); err != nil {
		log.Err(err).Msg("Failed to queue request message edit")
	}
	outcome, detail := p.runApproved(ctx, a)
	err = p.txn(ctx, func(ctx context.Context) error {
		if _, err := p.approvals.Move(ctx, a.ID, state.ApprovalExecuting, state.ApprovalDone, state.Decision{Outcome: outcome, Detail: detail}); err != nil {
			return err
		}
		a.State, a.Outcome, a.Detail = state.ApprovalDone, outcome, detail
		if _, err := p.audit.Append(ctx, &state.AuditEntry{
			Actor: a.Requester, ActorDevice: a.RequesterDevice, RoomID: a.RoomID, EventID: a.EventID,
			Action: "command." + a.Command, Arguments: p.argumentsOf(a), Outcome: outcome, Detail: joinDetail("approved in "+a.ID, detail),
			ParentID: a.AuditID,
		}); err != nil {
			return err
		}
		return p.editRequest(ctx, a)
	})
	if err != nil {
		log.Err(err).Msg("Failed to record the result of an approved command")
	}
	log.Info().Str("outcome", outcome).Msg("Ran approved command")
}

// runApproved rebuilds the command event from the request and runs it through the
// same path as any command.
func (p *Processor) runApproved(ctx context.Context, a *state.Approval) (outcome, detail string) {
	cmd := p.registry.Lookup(a.Command)
	// The stored line is split without the prefix, which config may have changed since.
	rawArgs := p.argumentsOf(a)
	args, parseErr := SplitArgs(rawArgs)
	ce := &Event{
		Command: cmd, Args: args, RawArgs: rawArgs, Sender: a.Requester, DeviceID: a.RequesterDevice,
		Verified: true, Encrypted: true, Role: p.RoleOf(ctx, a.Requester),
		RoomID: a.RoomID, EventID: a.EventID, ThreadRoot: a.ThreadRoot, SentAt: a.CreatedAt, ReceivedAt: a.CreatedAt,
		Approval: a, Pin: a.Pin, proc: p,
	}
	switch {
	case cmd == nil:
		return state.OutcomeError, "command no longer exists"
	case parseErr != nil && !cmd.FreeText:
		return state.OutcomeBadInput, parseErr.Error()
	case ce.Role < cmd.Role:
		p.reply(ctx, ce, render.New("").Pill(a.Requester).Text(" is no longer an admin, so "+a.ID+" did not run."))
		return state.OutcomeRefused, "requester is no longer an admin"
	}
	return p.run(ctx, ce)
}

// argumentsOf is a's command line without the command, as the decision log records
// the arguments of any command.
func (p *Processor) argumentsOf(a *state.Approval) string {
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
func (p *Processor) ExpireDue(ctx context.Context) error {
	due, err := p.approvals.DueToExpire(ctx, p.now())
	if err != nil {
		return err
	}
	for _, a := range due {
		if err = p.txn(ctx, func(ctx context.Context) error { return p.expire(ctx, a) }); err != nil {
			return err
		}
	}
	return nil
}

// Resume finishes what a stop left of the approvals: a command that was running is
// reported and never run again (its result is unknown), one that was approved but not
// yet started runs now, and requests that expired meanwhile are closed.
func (p *Processor) Resume(ctx context.Context) error {
	log := zerolog.Ctx(ctx)
	running, err := p.approvals.InState(ctx, state.ApprovalExecuting)
	if err != nil {
		return err
	}
	for _, a := range running {
		detail := "Steward stopped while it ran; not run again"
		err = p.txn(ctx, func(ctx context.Context) error {
			won, err := p.approvals.Move(ctx, a.ID, state.ApprovalExecuting, state.ApprovalDone, state.Decision{Outcome: state.OutcomeInterrupted, Detail: detail})
			if err != nil || !won {
				return err
			}
			a.State, a.Outcome, a.Detail = state.ApprovalDone, state.OutcomeInterrupted, detail
			if _, err = p.audit.Append(ctx, &state.AuditEntry{
				Actor: a.Requester, ActorDevice: a.RequesterDevice, RoomID: a.RoomID, EventID: a.EventID,
				Action: "command." + a.Command, Arguments: p.argumentsOf(a), Outcome: state.OutcomeInterrupted,
				Detail: joinDetail("approved in "+a.ID, detail), ParentID: a.AuditID,
			}); err != nil {
				return err
			}
			p.replyTo(ctx, a, render.New("Steward stopped while it was running "+a.ID+" (").Code(a.Body).
				Text("), so its result is unknown. I did not run it again; check, and ask again if it is still needed."))
			return p.editRequest(ctx, a)
		})
		if err != nil {
			return err
		}
		log.Warn().Str("approval_id", a.ID).Msg("An approved command was interrupted by a stop; not running it again")
	}
	approved, err := p.approvals.InState(ctx, state.ApprovalApproved)
	if err != nil {
		return err
	}
	for _, a := range approved {
		p.launch(ctx, a)
	}
	return p.ExpireDue(ctx)
}

// countApprovals counts the approving votes that meet a's policy.
func countApprovals(a *state.Approval, votes []*state.Vote) int {
	n := 0
	for _, v := range votes {
		if v.Approve && (a.SelfCounts || v.Voter != a.Requester) {
			n++
		}
	}
	return n
}

// approverList names the admins whose approval counted, for the decision log.
func approverList(a *state.Approval, votes []*state.Vote) string {
	var names []string
	for _, v := range votes {
		if v.Approve && (a.SelfCounts || v.Voter != a.Requester) {
			names = append(names, v.Voter.String())
		}
	}
	return strings.Join(names, ", ")
}

// describeState says where a request stands, in a few words.
func describeState(a *state.Approval) string {
	switch a.State {
	case state.ApprovalOpen:
		return "waiting for approval"
	case state.ApprovalApproved, state.ApprovalExecuting:
		return "approved and running"
	case state.ApprovalDone:
		return "approved and done"
	case state.ApprovalDenied:
		return "denied"
	case state.ApprovalCancelled:
		return "cancelled"
	default:
		return "expired"
	}
}

// requestMessage renders a's request message as it should read now: what was asked,
// what it does, and where it stands.
func (p *Processor) requestMessage(a *state.Approval, votes []*state.Vote) *render.Message {
	msg := new(render.Message)
	title := map[state.ApprovalState]string{
		state.ApprovalOpen: "Approval needed", state.ApprovalApproved: "Approved, running", state.ApprovalExecuting: "Approved, running",
		state.ApprovalDenied: "Denied", state.ApprovalCancelled: "Cancelled", state.ApprovalExpired: "Expired",
	}[a.State]
	if a.State == state.ApprovalDone {
		title = map[bool]string{true: "Done", false: "Failed"}[a.Outcome == state.OutcomeOK]
		if a.Outcome == state.OutcomeInterrupted {
			title = "Interrupted"
		}
	}
	msg.Bold(title + ": " + a.ID).Line()
	msg.Pill(a.Requester).Text(" asked to run ").Code(a.Body).Text(" at " + render.Clock(a.CreatedAt, a.CreatedAt) + ".")
	if a.Effect != "" {
		msg.Line().Text("What it does: " + a.Effect)
	}
	approvers := approverList(a, votes)
	at := render.Clock(a.DecidedAt, a.CreatedAt)
	msg.Line()
	switch a.State {
	case state.ApprovalOpen:
		if a.SelfCounts {
			msg.Text("Needs a confirmation (by ").Pill(a.Requester).Text(" or another admin).")
		} else {
			needs := "one admin"
			if a.Needed > 1 {
				needs = fmt.Sprintf("%d admins", a.Needed)
			}
			msg.Text("Needs the approval of " + needs + " other than ").Pill(a.Requester)
			if approvers != "" {
				msg.Text(fmt.Sprintf(" (%d so far: %s)", countApprovals(a, votes), approvers))
			}
			msg.Text(".")
		}
		msg.Text(" Expires at " + render.Clock(a.ExpiresAt, a.CreatedAt) + ".").Line()
		prefix := p.settings.Prefix
		msg.Text("React " + ReactionApprove + " to approve or " + ReactionDeny + " to deny, or send ").
			Code(prefix + "approve " + a.ID).Text(" or ").Code(prefix + "deny " + a.ID + " REASON").
			Text(". The requester can withdraw it with ").Code(prefix + "cancel " + a.ID).Text(".")
	case state.ApprovalApproved, state.ApprovalExecuting:
		msg.Text("Approved by " + approvers + " at " + at + ". Running…")
	case state.ApprovalDone:
		msg.Text("Approved by " + approvers + " at " + at + ". Result: " + resultText(a) + ".")
	case state.ApprovalDenied:
		msg.Text("Denied by " + a.DecidedBy.String() + " at " + at)
		if a.Reason != "" {
			msg.Text(": " + a.Reason)
		}
		msg.Text(". It will not run.")
	case state.ApprovalCancelled:
		msg.Text("Withdrawn by " + a.DecidedBy.String() + " at " + at + ". It will not run.")
	case state.ApprovalExpired:
		msg.Text(fmt.Sprintf("Expired at %s with %d of %d approvals. It will not run.", render.Clock(a.ExpiresAt, a.CreatedAt), countApprovals(a, votes), a.Needed))
	}
	return msg
}

// resultText says how an approved command ended, without internal error text.
func resultText(a *state.Approval) string {
	switch a.Outcome {
	case state.OutcomeOK:
		return "done"
	case state.OutcomeInterrupted:
		return "unknown, Steward stopped while it ran (not run again)"
	case state.OutcomeError:
		return "failed (the details are in Steward's log)"
	default:
		return "not run (" + a.Outcome + ")"
	}
}
