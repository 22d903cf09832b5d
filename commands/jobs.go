package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/steward-bot/steward/jobs"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Jobs are the jobs that ping Steward as !jobs reads them (jobs.Tracker).
type Jobs interface {
	Status(ctx context.Context) ([]jobs.Status, error)
}

// jobCommands registers !jobs with the jobs' tracker (nil when none are configured:
// the command then says so).
func jobCommands(j Jobs) []*Command {
	return []*Command{{
		Name:    "jobs",
		Section: SectionAlerts,
		Help:    "List the jobs that ping Steward: last success, last failure, last duration, next expected",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			var list []jobs.Status
			if j != nil {
				var err error
				if list, err = j.Status(ctx); err != nil {
					return err
				}
			}
			if len(list) == 0 {
				return UserErrorf("No jobs are configured (jobs in the config file).")
			}
			return ce.Reply(ctx, writeJobs(list, ce.proc.deps.Now()))
		},
	}}
}

// writeJobs renders the jobs' table, the title counting those that need a look.
func writeJobs(list []jobs.Status, now time.Time) *render.Message {
	rows := make([][]string, 0, len(list))
	problems := 0
	for _, st := range list {
		s, j := st.Spec, st.Job
		how, ok := jobState(s, j, now)
		if !ok {
			problems++
		}
		success, failure, duration := "never", "never", "–"
		if !j.LastSuccess.IsZero() {
			success = render.Clock(j.LastSuccess, now)
		}
		if !j.LastFailure.IsZero() {
			failure = render.Clock(j.LastFailure, now)
			if j.ExitCode != state.NoExitCode {
				failure += fmt.Sprintf(", exit code %d", j.ExitCode)
			}
		}
		if j.LastDuration > 0 {
			duration = render.Duration(j.LastDuration)
		}
		rows = append(rows, []string{s.Name, how, success, failure, duration, nextExpected(s, j, now)})
	}
	jobs := fmt.Sprintf("%d jobs", len(list))
	if len(list) == 1 {
		jobs = "1 job"
	}
	title := jobs + ", all in order:"
	if problems > 0 {
		verb := "need"
		if problems == 1 {
			verb = "needs"
		}
		title = fmt.Sprintf("%s, %d %s a look:", jobs, problems, verb)
	}
	return fitRows(rows, "", func(rows [][]string) *render.Message {
		return render.New(title).Line().Table([]string{"Job", "Now", "Last success", "Last failure", "Last duration", "Next expected"}, rows)
	})
}

// jobState says in a word or two how a job stands, as its alerts would, and whether
// that is in order.
func jobState(s jobs.Spec, j *state.Job, now time.Time) (string, bool) {
	switch {
	case j.Failed():
		return "🔴 failed", false
	case !now.Before(jobs.Late(s, j)):
		return "🔴 late", false
	case j.Running() && !now.Before(j.LastStart.Add(s.Grace)):
		return "🟡 running too long", false
	case j.Running():
		return "⏳ running since " + render.Clock(j.LastStart, now), true
	case j.LastEvent == "":
		return "no ping yet", true
	default:
		return "✅ ok", true
	}
}

// nextExpected says when the job's next success is due, and how late it is.
func nextExpected(s jobs.Spec, j *state.Job, now time.Time) string {
	due, late := jobs.Due(s, j), jobs.Late(s, j)
	switch {
	case now.Before(due):
		return render.Clock(due, now)
	case now.Before(late):
		return render.Clock(due, now) + ", late from " + render.Clock(late, now)
	default:
		return "overdue since " + render.Clock(due, now)
	}
}
