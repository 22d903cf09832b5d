package commands

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/steward-bot/steward/approval"
	"maps"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// summaryMaxEntries bounds how much of the log one summary reads; a small group's week
// is far below it.
const summaryMaxEntries = 100_000

// Summaries sum up the decision log; the weekly report and !summary read the same.
type Summaries struct {
	// Prefix starts the commands the summary points to.
	Prefix   string
	Log      LogReader
	Requests Requests
	// Backups, when sets are configured, add how each stands.
	Backups Backups
	// Now is the clock (time.Now outside tests).
	Now func() time.Time
}

// LogReader reads the decision log and checks that nobody rewrote it (state.Audit).
type LogReader interface {
	Find(ctx context.Context, f state.AuditFilter) ([]*state.AuditEntry, error)
	Verify(ctx context.Context) (int, error)
}

// summaryCommand shows the summary the weekly report posts, for any span.
func summaryCommand(summaries *Summaries) *Command {
	return &Command{
		Name:    "summary",
		Section: SectionDecisions,
		Help:    "Sum up the decisions of the last days: who did what, what is still pending",
		Args:    "[SPAN, default 7d]",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			span := 7 * 24 * time.Hour
			if len(ce.Args) > 0 {
				var err error
				if span, err = parseAge(ce.Args[0]); err != nil {
					return err
				}
			}
			msg, err := summaries.Summary(ctx, span)
			if err != nil {
				return err
			}
			return ce.Reply(ctx, msg)
		},
	}
}

// Summary sums up the decision log over the last span: what was run and by whom, what
// was refused, how each approval request ended, what still waits, and whether the log
// is intact.
func (p *Summaries) Summary(ctx context.Context, span time.Duration) (*render.Message, error) {
	now := p.Now()
	since := now.Add(-span)
	entries, err := p.Log.Find(ctx, state.AuditFilter{Since: since, Limit: summaryMaxEntries})
	if err != nil {
		return nil, fmt.Errorf("read the decision log: %w", err)
	}
	requests, err := p.Requests.CreatedSince(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("read approval requests: %w", err)
	}
	open, err := p.Requests.InState(ctx, state.ApprovalOpen)
	if err != nil {
		return nil, fmt.Errorf("read approval requests: %w", err)
	}

	ran := make(map[id.UserID]int)
	refused := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Action, "command.") {
			continue
		}
		switch e.Outcome {
		case state.OutcomeOK:
			ran[e.Actor]++
		case state.OutcomeRefused, state.OutcomeStale, state.OutcomeRateLimited:
			refused++
		}
	}

	msg := new(render.Message).Bold(fmt.Sprintf("Decisions from %s to %s", render.Clock(since, now), render.Clock(now, now))).Line()
	if len(ran) == 0 {
		msg.Text("No commands were run.")
	} else {
		people := slices.SortedFunc(maps.Keys(ran), func(a, b id.UserID) int {
			return cmp.Or(ran[b]-ran[a], strings.Compare(string(a), string(b)))
		})
		total := 0
		parts := make([]string, 0, len(people))
		for _, who := range people {
			total += ran[who]
			parts = append(parts, fmt.Sprintf("%s %d", who, ran[who]))
		}
		msg.Text(fmt.Sprintf("%d commands run: %s.", total, strings.Join(parts, ", ")))
	}
	if refused > 0 {
		msg.Text(fmt.Sprintf(" %d refused (no permission, too late or too fast).", refused))
	}

	if len(requests) == 0 {
		msg.Line().Text("No approval requests.")
	} else {
		msg.Heading(fmt.Sprintf("Approval requests (%d)", len(requests)))
		items := make([]*render.Message, 0, len(requests))
		for _, a := range requests {
			votes, err := p.Requests.Votes(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			item := new(render.Message).Bold(a.ID).Text(" ").Code(a.Body).Text(" — asked by " + a.Requester.String() + "; ")
			switch a.State {
			case state.ApprovalOpen:
				item.Text("still waiting")
			case state.ApprovalDenied:
				item.Text("denied by " + a.DecidedBy.String())
				if a.Reason != "" {
					item.Text(": " + a.Reason)
				}
			case state.ApprovalCancelled:
				item.Text("withdrawn")
			case state.ApprovalExpired:
				item.Text("expired unanswered")
			default:
				item.Text("approved by " + approval.Approvers(a, votes))
				if a.State == state.ApprovalDone {
					item.Text(", result: " + approval.Result(a))
				}
			}
			items = append(items, item)
		}
		msg.List(items...)
	}

	if len(open) == 0 {
		msg.Text("Nothing is waiting for approval.")
	} else {
		ids := make([]string, 0, len(open))
		for _, a := range open {
			ids = append(ids, a.ID)
		}
		msg.Text(fmt.Sprintf("Still waiting for approval: %s (see ", strings.Join(ids, ", "))).Code(p.Prefix + "pending").Text(").")
	}

	checked, err := p.Log.Verify(ctx)
	var chainErr *state.ChainError
	switch {
	case errors.As(err, &chainErr):
		msg.Line().Bold(fmt.Sprintf("The decision log has been tampered with: entry %d %s.", chainErr.EntryID, chainErr.Reason))
	case err != nil:
		return nil, fmt.Errorf("verify the decision log: %w", err)
	default:
		msg.Line().Text(fmt.Sprintf("The decision log's %d entries are intact.", checked))
	}
	if p.Backups != nil && len(p.Backups.Sets()) > 0 {
		writeBackups(msg.Line().Text("Backups: "), p.Backups.Overview(ctx), p.Now())
	}
	return msg, nil
}
