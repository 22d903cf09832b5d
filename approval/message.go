package approval

import (
	"fmt"
	"strings"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Count counts the approving votes that meet a's policy: the requester's own only
// when a confirmation is enough.
func Count(a *state.Approval, votes []*state.Vote) int {
	n := 0
	for _, v := range votes {
		if v.Approve && (a.SelfCounts || v.Voter != a.Requester) {
			n++
		}
	}
	return n
}

// Approvers names the admins whose approval counted, for the decision log and the
// messages that say who let a command run.
func Approvers(a *state.Approval, votes []*state.Vote) string {
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
func (e *Engine) requestMessage(a *state.Approval, votes []*state.Vote) *render.Message {
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
	approvers := Approvers(a, votes)
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
				msg.Text(fmt.Sprintf(" (%d so far: %s)", Count(a, votes), approvers))
			}
			msg.Text(".")
		}
		msg.Text(" Expires at " + render.Clock(a.ExpiresAt, a.CreatedAt) + ".").Line()
		prefix := e.settings.Prefix
		msg.Text("React " + ReactionApprove + " to approve or " + ReactionDeny + " to deny, or send ").
			Code(prefix + "approve " + a.ID).Text(" or ").Code(prefix + "deny " + a.ID + " REASON").
			Text(". The requester can withdraw it with ").Code(prefix + "cancel " + a.ID).Text(".")
	case state.ApprovalApproved, state.ApprovalExecuting:
		msg.Text("Approved by " + approvers + " at " + at + ". Running…")
	case state.ApprovalDone:
		msg.Text("Approved by " + approvers + " at " + at + ". Result: " + Result(a) + ".")
	case state.ApprovalDenied:
		msg.Text("Denied by " + a.DecidedBy.String() + " at " + at)
		if a.Reason != "" {
			msg.Text(": " + a.Reason)
		}
		msg.Text(". It will not run.")
	case state.ApprovalCancelled:
		msg.Text("Withdrawn by " + a.DecidedBy.String() + " at " + at + ". It will not run.")
	case state.ApprovalExpired:
		msg.Text(fmt.Sprintf("Expired at %s with %d of %d approvals. It will not run.", render.Clock(a.ExpiresAt, a.CreatedAt), Count(a, votes), a.Needed))
	}
	return msg
}

// Result says how an approved command ended, without internal error text, so it can
// be shown in the room.
func Result(a *state.Approval) string {
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
