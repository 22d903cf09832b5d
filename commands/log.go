package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Limits of !log: how many entries by default and at most, so one answer stays
// readable.
const (
	logDefault = 20
	logMax     = 100
)

// LogWitness reads the decision log's checkpoints back from the admin room, where the
// host cannot change them (bot.Bot), and compares the log with them (state.Audit).
type LogWitness interface {
	Checkpoints(ctx context.Context) ([]state.Checkpoint, error)
	CheckCheckpoints(ctx context.Context, checkpoints []state.Checkpoint) (*state.CheckpointReport, error)
}

// logCommand reads the decision log back into the admin room, so anyone on the team
// can see who asked for what and what came of it without shell access; !log verify
// compares it with the checkpoints in the room.
func logCommand(witness LogWitness) *Command {
	return &Command{
		Name:    "log",
		Section: SectionDecisions,
		Help:    "Show the latest decision log entries, or (verify) compare the log with the checkpoints in this room",
		Args:    "[N] [--actor @user:server] [--action NAME] [--since 7d] | verify",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			if len(ce.Args) == 1 && strings.EqualFold(ce.Args[0], "verify") {
				return verifyLog(ctx, ce, witness)
			}
			return showLog(ctx, ce)
		},
	}
}

// verifyLog reads the checkpoints back from the room and names the first the log no
// longer fits: what the team's clients keep against what the database says now.
func verifyLog(ctx context.Context, ce *Event, witness LogWitness) error {
	if witness == nil {
		return UserErrorf("This Steward can't read its checkpoints back.")
	}
	checkpoints, err := witness.Checkpoints(ctx)
	if err != nil {
		return fmt.Errorf("read the checkpoints: %w", err)
	}
	report, err := witness.CheckCheckpoints(ctx, checkpoints)
	if err != nil {
		return fmt.Errorf("compare the log with its checkpoints: %w", err)
	}
	return ce.Reply(ctx, CheckpointVerdict(report))
}

// maxRedactedNamed is how many redacted checkpoints a verdict names one by one.
const maxRedactedNamed = 5

// CheckpointVerdict says what comparing the log with the checkpoints in the admin room
// found, in the words both !log verify and `steward audit verify --room` use: the
// first checkpoint the log no longer fits, every redacted one as an alarm, and the
// messages that could not be read.
func CheckpointVerdict(report *state.CheckpointReport) *render.Message {
	msg := render.New("")
	when := func(cp state.Checkpoint) string {
		return fmt.Sprintf("posted %s (%s)", cp.Time.UTC().Format("Jan 02 15:04 UTC"), cp.EventID)
	}
	switch {
	case report.Misfit != nil:
		cp := report.Misfit.Checkpoint
		msg.Bold("The decision log no longer fits its checkpoints.").
			Text(fmt.Sprintf(" The first that doesn't fit is the checkpoint of entry #%d, %s: %s. ", cp.ID, when(cp), report.Misfit.Reason)).
			Text("Someone with access to the server changed Steward's database: what the checkpoints in the admin room say is what was logged.")
	case report.Compared > 0:
		msg.Text(fmt.Sprintf("The decision log fits all %d checkpoints in the admin room, the newest of entry #%d, and goes on from there unbroken.", report.Compared, report.Newest.ID))
	case len(report.Redacted) == 0:
		msg.Text("There are no decision log checkpoints in the admin room yet, so there is nothing to compare the log with.")
	default:
		msg.Text("No checkpoint in the admin room is left to compare the log with.")
	}
	if n := len(report.Redacted); n > 0 {
		msg.Line().Bold(plural(n, "A decision log checkpoint was redacted", "%d decision log checkpoints were redacted")).Text(": ")
		for i, cp := range report.Redacted[:min(n, maxRedactedNamed)] {
			if i > 0 {
				msg.Text(", ")
			}
			msg.Text("the one " + when(cp))
		}
		if n > maxRedactedNamed {
			msg.Text(fmt.Sprintf(" and %d more", n-maxRedactedNamed))
		}
		it := "it"
		if n > 1 {
			it = "they"
		}
		msg.Text(fmt.Sprintf(". What %s said can no longer be compared; if nobody on the team removed %s, someone is covering tracks: check who has access to the server and to Steward's account.",
			it, strings.Replace(it, "they", "them", 1)))
	}
	if earlier := report.Unreadable - report.KeysMissing; earlier > 0 {
		msg.Line().Text(plural(earlier, "One of Steward's messages", "%d of Steward's messages") +
			" in the admin room could not be decrypted with the keys in its database (sent from an earlier device?); checkpoints among them were not compared.")
	}
	if n := report.KeysMissing; n > 0 {
		msg.Line().Bold(plural(n, "The key of one of Steward's messages is gone", "The keys of %d of Steward's messages are gone")).
			Text(" from its database, though its current device sent them and keeps every key it makes: checkpoints among them can't be compared. " +
				"If the database was not restored from an older copy, someone removed them to hide what the checkpoints said: check who has access to the server.")
	}
	return msg
}

// plural picks one for n == 1 and many (with n) otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}

// showLog answers !log with the entries its arguments select.
func showLog(ctx context.Context, ce *Event) error {
	filter, err := parseLogArgs(ce.Args, ce.proc.deps.Now())
	if err != nil {
		return err
	}
	entries, err := ce.proc.deps.Audit.Find(ctx, filter)
	if err != nil {
		return fmt.Errorf("read the decision log: %w", err)
	}
	if len(entries) == 0 {
		return ce.Reply(ctx, render.New("No decision log entries match."))
	}
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, []string{
			strconv.FormatInt(e.ID, 10),
			e.Time.UTC().Format("Jan 02 15:04"),
			e.Actor.String(),
			strings.TrimPrefix(e.Action, "command."),
			render.Shorten(e.Arguments, 40),
			e.Outcome,
		})
	}
	msg := fitRows(rows, "ask for fewer, like "+ce.proc.settings.Prefix+"log 20, or filter with --actor, --action or --since", func(rows [][]string) *render.Message {
		return render.New(fmt.Sprintf("The last %d matching entries, newest first (times in UTC):", len(entries))).Line().
			Table([]string{"#", "When", "Who", "Action", "Arguments", "Outcome"}, rows)
	})
	return ce.Reply(ctx, msg)
}

// parseLogArgs reads !log's arguments into a filter.
func parseLogArgs(args []string, now time.Time) (state.AuditFilter, error) {
	f := state.AuditFilter{Limit: logDefault}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", UserErrorf("%s needs a value.", arg)
			}
			i++
			return args[i], nil
		}
		switch arg {
		case "--actor":
			v, err := value()
			if err != nil {
				return f, err
			}
			if _, _, err := id.UserID(v).Parse(); err != nil {
				return f, UserErrorf("%q is not a Matrix ID like @alice:example.org.", v)
			}
			f.Actor = id.UserID(v)
		case "--action":
			v, err := value()
			if err != nil {
				return f, err
			}
			f.Action = strings.ToLower(v)
		case "--since":
			v, err := value()
			if err != nil {
				return f, err
			}
			d, err := parseAge(v)
			if err != nil {
				return f, err
			}
			f.Since = now.Add(-d)
		default:
			n, err := strconv.Atoi(arg)
			if err != nil || n < 1 {
				return f, UserErrorf("I don't understand %q. Usage: !log [N] [--actor @user:server] [--action NAME] [--since 7d]", arg)
			}
			f.Limit = min(n, logMax)
		}
	}
	return f, nil
}

// parseAge reads a span like 7d, 12h or 30m, in the grammar of the config file.
func parseAge(s string) (time.Duration, error) {
	if d, err := config.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, UserErrorf("%q is not a span of time like 7d, 12h or 30m.", s)
}
