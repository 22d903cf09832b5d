package commands

import (
	"context"
	"fmt"
	"github.com/steward-bot/steward/approval"
	"strings"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// CommandApprove approves a request, as the ✅ reaction does.
var CommandApprove = &Command{
	Name:    "approve",
	Section: SectionDecisions,
	Help:    "Approve a request that waits for the admins",
	Args:    "ID",
	Role:    RoleAdmin,
	Effect:  Changes,
	Func: func(ctx context.Context, ce *Event) error {
		return ce.answer(ctx, true)
	},
}

// CommandDeny denies a request, as the ❌ reaction does, with a reason for the log.
var CommandDeny = &Command{
	Name:    "deny",
	Section: SectionDecisions,
	Help:    "Deny a request that waits for the admins, saying why",
	Args:    "ID [REASON]",
	Role:    RoleAdmin,
	Effect:  Changes,
	Func: func(ctx context.Context, ce *Event) error {
		return ce.answer(ctx, false)
	},
}

// CommandCancel withdraws one's own request.
var CommandCancel = &Command{
	Name:    "cancel",
	Section: SectionDecisions,
	Help:    "Withdraw a request you made",
	Args:    "ID",
	Role:    RoleAdmin,
	Effect:  Changes,
	Func: func(ctx context.Context, ce *Event) error {
		id, err := approvalIDArg(ce)
		if err != nil {
			return err
		}
		a, err := ce.proc.deps.Requests.Get(ctx, id)
		if err != nil {
			return err
		}
		if a != nil && a.Requester != ce.Sender {
			return UserErrorf("Only %s, who asked for %s, can cancel it. To stop it, deny it: %sdeny %s REASON", a.Requester, a.ID, ce.proc.settings.Prefix, a.ID)
		}
		return ce.answer(ctx, false)
	},
}

// answer casts the sender's answer to the request named by the first argument. A
// reason is the rest of the line.
func (ce *Event) answer(ctx context.Context, approve bool) error {
	approvalID, err := approvalIDArg(ce)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(ce.RawArgs), ce.Args[0]))
	reply, _ := ce.proc.deps.Approvals.Vote(ctx, approvalID, &approval.Ballot{
		Voter: ce.Sender, Device: ce.DeviceID, Verified: ce.Verified(), RoomID: ce.RoomID, EventID: ce.EventID,
		ThreadRoot: ce.ThreadRoot, SentAt: ce.SentAt, Approve: approve, Reason: reason, ByCommand: true,
	})
	if reply == nil {
		return nil
	}
	return ce.Reply(ctx, reply)
}

// approvalIDArg reads the request ID from the first argument; IDs are upper-case but
// may be typed in any case.
func approvalIDArg(ce *Event) (string, error) {
	if len(ce.Args) == 0 {
		return "", UserErrorf("Which request? Give its ID, like %s%s K7QM. %spending lists the open ones.", ce.proc.settings.Prefix, ce.Command.Name, ce.proc.settings.Prefix)
	}
	return strings.ToUpper(ce.Args[0]), nil
}

// CommandPending lists the requests that wait for an answer.
var CommandPending = &Command{
	Name:    "pending",
	Section: SectionDecisions,
	Help:    "List the requests waiting for approval",
	Role:    RoleAdmin,
	Effect:  ReadsOnly,
	Func: func(ctx context.Context, ce *Event) error {
		p := ce.proc
		open, err := p.deps.Requests.InState(ctx, state.ApprovalOpen)
		if err != nil {
			return err
		}
		if len(open) == 0 {
			return ce.Reply(ctx, render.New("No requests are waiting for approval."))
		}
		now := p.deps.Now()
		items := make([]*render.Message, 0, len(open))
		for _, a := range open {
			votes, err := p.deps.Requests.Votes(ctx, a.ID)
			if err != nil {
				return err
			}
			item := new(render.Message).Bold(a.ID).Text(" ").Code(a.Body).Text(" — asked by ").Pill(a.Requester).
				Text(fmt.Sprintf(" %s ago; %d of %d approvals", render.Duration(now.Sub(a.CreatedAt)), approval.Count(a, votes), a.Needed))
			if names := approval.Approvers(a, votes); names != "" {
				item.Text(" (" + names + ")")
			}
			if left := a.ExpiresAt.Sub(now); left > 0 {
				item.Text("; expires in " + render.Duration(left))
			} else {
				item.Text("; expiring now")
			}
			items = append(items, item)
		}
		return ce.Reply(ctx, render.New(fmt.Sprintf("%d waiting for approval:", len(open))).List(items...))
	},
}
