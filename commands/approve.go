package commands

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/approval"
	"github.com/steward-bot/steward/policy"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

var _ approval.Runner = (*Processor)(nil)

// requestApproval hands a command that needs approval to the approval stage: it checks
// that the admins can meet its policy and that its arguments are good, and returns what
// to store together with the command's audit entry (the request, its decision log
// entry and the message that asks the admins).
func (p *Processor) requestApproval(ctx context.Context, ce *Event, policy policy.Policy) (outcome, detail string, then func(ctx context.Context, entryID int64) error) {
	name := p.settings.Prefix + ce.Command.Name
	terms, refusal := p.deps.Approvals.Terms(ce.Sender, ce.Command.Name, policy)
	if refusal != nil {
		p.reply(ctx, ce, refusal)
		return state.OutcomeRefused, "not enough admins for policy " + policy.String(), nil
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
	req := approval.Request{
		Command: ce.Command.Name, Line: name + " " + ce.RawArgs, Effect: effect, Pin: ce.Pin,
		Requester: ce.Sender, Device: ce.DeviceID, RoomID: ce.RoomID, EventID: ce.EventID, ThreadRoot: ce.ThreadRoot,
		At: p.deps.Now(),
	}
	return state.OutcomeAwaitingApproval, "policy " + terms.Policy, func(ctx context.Context, entryID int64) error {
		return p.deps.Approvals.Ask(ctx, req, terms, entryID)
	}
}

// WantsReaction reports whether Steward acts on reactions with key: answers to
// approval requests and acknowledgements of alerts. The bot records only those.
func WantsReaction(key string) bool {
	_, vote := approval.ReactionVote(key)
	return vote || isAckReaction(key)
}

// HandleReaction takes a reaction from the inbox: a ✅ or ❌ on an approval request
// counts as that admin's answer, a 👀 on an alert takes it. Reactions to anything else
// are ignored. It returns the outcome for the inbox.
func (p *Processor) HandleReaction(ctx context.Context, in *Input, relatesTo id.EventID) string {
	log := zerolog.Ctx(ctx).With().Stringer("event_id", in.EventID).Stringer("sender", in.Sender).Logger()
	ctx = log.WithContext(ctx)
	if p.deps.Reactions != nil && p.RoleOf(ctx, in.Sender) != RoleAdmin && !p.deps.Reactions.Allow(in.Sender) {
		// Only admins' reactions act, so nothing is lost; each one else would be a
		// decision log entry.
		return state.OutcomeRateLimited
	}
	if isAckReaction(in.Body) {
		return p.ackByReaction(ctx, in, relatesTo)
	}
	approve, ok := approval.ReactionVote(in.Body)
	if !ok {
		return state.OutcomeIgnored
	}
	r := &approval.Reaction{
		Ballot: approval.Ballot{
			Voter: in.Sender, Device: in.DeviceID, Verified: in.Verified(),
			RoomID: in.RoomID, EventID: in.EventID, SentAt: in.SentAt, Approve: approve,
		},
		On: relatesTo, Key: in.Body,
	}
	if late := in.ReceivedAt.Sub(in.SentAt); late > p.settings.StaleAfter {
		r.Late = render.Duration(late)
	}
	return p.deps.Approvals.React(ctx, r)
}

// RunApproved rebuilds the command event from the request and runs it through the
// same path as any command, as its requester, who must still be allowed to run it.
func (p *Processor) RunApproved(ctx context.Context, a *state.Approval) (outcome, detail string) {
	cmd := p.registry.Lookup(a.Command)
	rawArgs := approval.Arguments(a)
	args, parseErr := SplitArgs(rawArgs)
	ce := p.event(&Input{
		Body: a.Body, Sender: a.Requester, DeviceID: a.RequesterDevice, Trust: id.TrustStateCrossSignedTOFU, Encrypted: true,
		RoomID: a.RoomID, EventID: a.EventID, ThreadRoot: a.ThreadRoot, SentAt: a.CreatedAt, ReceivedAt: a.CreatedAt,
	}, args, rawArgs)
	ce.Command, ce.Role, ce.Approval, ce.Pin = cmd, p.RoleOf(ctx, a.Requester), a, a.Pin
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

// Long reports whether command runs in the background once approved, so the approval
// engine does not hold the room's queue behind it; an unknown name is not Long.
func (p *Processor) Long(command string) bool {
	cmd := p.registry.Lookup(command)
	return cmd != nil && cmd.Long
}
