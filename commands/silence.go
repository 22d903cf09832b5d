package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// maxSilence bounds a silence, so one forgotten never hides a problem for good.
const maxSilence = 30 * 24 * time.Hour

// silenceCommand holds back alerts for a while, with a reason the team can read.
func (f *alertFamily) silenceCommand() *Command {
	return &Command{
		Name:     "silence",
		Section:  SectionAlerts,
		Help:     "Hold back alerts for a while: an alert number, a fingerprint, or a pattern like disk:* (both a duration and a reason are required)",
		Args:     "ID|FINGERPRINT|PATTERN DURATION REASON...",
		Role:     RoleAdmin,
		Effect:   Changes,
		FreeText: true,
		Func: func(ctx context.Context, ce *Event) error {
			usage := fmt.Sprintf("Usage: %ssilence ID|FINGERPRINT|PATTERN DURATION REASON, like %ssilence disk:/var 2h moving backups off it", ce.proc.settings.Prefix, ce.proc.settings.Prefix)
			fields := strings.Fields(ce.RawArgs)
			if len(fields) < 3 {
				return UserErrorf("%s. A duration and a reason are required, so everyone knows why and until when.", usage)
			}
			matcher, err := f.matcherOf(ctx, ce, fields[0])
			if err != nil {
				return err
			}
			span, err := silenceSpan(fields[1])
			if err != nil {
				return err
			}
			return f.silence(ctx, ce, matcher, span, afterFields(ce.RawArgs, 2), false)
		},
	}
}

// maintenance silences every alert and tells the group room that maintenance is
// under way, and again when it is over.
func (f *alertFamily) maintenance() *Command {
	return &Command{
		Name:     "maintenance",
		Section:  SectionAlerts,
		Help:     "Start a maintenance window: alerts held back, members told, and told again when it ends",
		Args:     "DURATION REASON...",
		Role:     RoleAdmin,
		Effect:   Changes,
		FreeText: true,
		Func: func(ctx context.Context, ce *Event) error {
			fields := strings.Fields(ce.RawArgs)
			if len(fields) < 2 {
				return UserErrorf("Usage: %smaintenance DURATION REASON, like %smaintenance 30m upgrading the mail server", ce.proc.settings.Prefix, ce.proc.settings.Prefix)
			}
			span, err := silenceSpan(fields[0])
			if err != nil {
				return err
			}
			return f.silence(ctx, ce, "*", span, afterFields(ce.RawArgs, 1), true)
		},
	}
}

// afterFields returns s without its first n space-separated fields: the free text
// that follows them, as typed.
func afterFields(s string, n int) string {
	s = strings.TrimSpace(s)
	for range n {
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			return ""
		}
		s = strings.TrimSpace(s[end:])
	}
	return s
}

func silenceSpan(s string) (time.Duration, error) {
	span, err := parseAge(s)
	if err != nil {
		return 0, err
	}
	if span > maxSilence {
		return 0, UserErrorf("%s is too long: silences last at most 30 days.", s)
	}
	return span, nil
}

// matcherOf turns what was typed into a fingerprint pattern: an alert number stands
// for its fingerprint.
func (f *alertFamily) matcherOf(ctx context.Context, ce *Event, arg string) (string, error) {
	if n, err := strconv.ParseInt(strings.TrimPrefix(arg, "#"), 10, 64); err == nil {
		open, err := f.alerts.OpenAlerts(ctx)
		if err != nil {
			return "", err
		}
		for _, a := range open {
			if a.ID == n {
				return a.Fingerprint, nil
			}
		}
		return "", UserErrorf("#%d is not an open alert. %salerts lists them; a fingerprint or a pattern like disk:* works too.", n, ce.proc.settings.Prefix)
	}
	return arg, nil
}

// silence sets a silence (or a maintenance window) and answers what it covers. A
// silence over alerts that came from Alertmanager is made there too once Steward's
// holds; a maintenance window stays Steward's alone (it holds back everything).
func (f *alertFamily) silence(ctx context.Context, ce *Event, matcher string, span time.Duration, reason string, maintenance bool) error {
	now := ce.proc.deps.Now()
	s := &state.Silence{Matcher: matcher, Reason: reason, CreatedBy: ce.Sender, CreatedAt: now, EndsAt: now.Add(span), Maintenance: maintenance}
	by := monitor.Actor{UserID: ce.Sender, DeviceID: ce.DeviceID, RoomID: ce.RoomID, EventID: ce.EventID}
	matched, err := f.alerts.Silence(ctx, s, by)
	if err != nil {
		return err
	}
	var upstream monitor.UpstreamResult
	if !maintenance {
		if upstream, err = f.alerts.SilenceUpstream(ctx, s, matched, by); err != nil {
			return err
		}
	}
	var msg *render.Message
	if maintenance {
		msg = render.New(fmt.Sprintf("🛠️ Maintenance #%d until %s: alerts are held back and the group room is told.", s.ID, render.Clock(s.EndsAt, now)))
	} else {
		msg = render.New(fmt.Sprintf("🔕 Silence #%d: alerts matching ", s.ID)).Code(matcher).Text(" are held back until " + render.Clock(s.EndsAt, now) + ".")
	}
	if len(matched) > 0 {
		msg.Text(fmt.Sprintf(" It covers %d open alert(s) now.", len(matched)))
	} else if !maintenance {
		msg.Text(" It matches no open alert now; it will hold back matching ones that fire.")
	}
	msg.Text(silencedUpstream(upstream))
	msg.Text(" ").Code(fmt.Sprintf("%sunsilence %d", ce.proc.settings.Prefix, s.ID)).Text(" ends it early.")
	return ce.Reply(ctx, msg)
}

// silencedUpstream says what a silence did where its alerts came from: plainly, when
// that could not be reached, that Steward holds them back alone.
func silencedUpstream(r monitor.UpstreamResult) string {
	total := r.Done + r.Failed + r.Left
	switch {
	case r.Name == "":
		return ""
	case r.Done == total:
		return fmt.Sprintf(" %s has it too, so it stops sending them.", r.Name)
	case r.Done == 0 && r.Left == 0:
		return fmt.Sprintf(" Couldn't reach %s to silence it there: the silence holds here, but %s keeps sending these alerts (Steward holds them back).", r.Name, r.Name)
	case r.Failed == 0:
		return fmt.Sprintf(" %s has it too for %d of the %d alerts from it (at most %d at once); it keeps sending the rest, which Steward holds back.", r.Name, r.Done, total, r.Done)
	default:
		return fmt.Sprintf(" %s has it too for %d of the %d alerts from it; couldn't reach it for the rest: it keeps sending them, and Steward holds them back.", r.Name, r.Done, total)
	}
}

// silences is !silences: the silences and maintenance windows not ended yet, with
// their end in UTC.
func (f *alertFamily) silences() *Command {
	return &Command{
		Name:    "silences",
		Section: SectionAlerts,
		Help:    "List the silences and maintenance windows in force",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			running, err := f.alerts.RunningSilences(ctx)
			if err != nil {
				return err
			}
			if len(running) == 0 {
				return ce.Reply(ctx, render.New("No silences are in force."))
			}
			rows := make([][]string, 0, len(running))
			for _, s := range running {
				kind := "silence"
				if s.Maintenance {
					kind = "maintenance"
				}
				rows = append(rows, []string{"#" + strconv.FormatInt(s.ID, 10), kind, s.Matcher, s.EndsAt.UTC().Format("Jan 02 15:04"), s.CreatedBy.String(), render.Shorten(s.Reason, 40)})
			}
			return ce.Reply(ctx, fitRows(rows, "", func(rows [][]string) *render.Message {
				return render.New("In force (times in UTC):").Line().Table([]string{"#", "Kind", "Matches", "Until", "By", "Reason"}, rows)
			}))
		},
	}
}

// unsilence ends a silence or maintenance window early, by number; the alerts it
// held back come out at once.
func (f *alertFamily) unsilence() *Command {
	return &Command{
		Name:    "unsilence",
		Section: SectionAlerts,
		Help:    "End a silence or maintenance window early",
		Args:    "ID",
		Role:    RoleAdmin,
		Effect:  Changes,
		Func: func(ctx context.Context, ce *Event) error {
			if len(ce.Args) != 1 {
				return UserErrorf("Usage: %sunsilence ID; %ssilences lists them.", ce.proc.settings.Prefix, ce.proc.settings.Prefix)
			}
			n, err := strconv.ParseInt(strings.TrimPrefix(ce.Args[0], "#"), 10, 64)
			if err != nil {
				return UserErrorf("%q is not a silence number; %ssilences lists them.", ce.Args[0], ce.proc.settings.Prefix)
			}
			by := monitor.Actor{UserID: ce.Sender, DeviceID: ce.DeviceID, RoomID: ce.RoomID, EventID: ce.EventID}
			s, err := f.alerts.Unsilence(ctx, n, by)
			if err != nil {
				return err
			}
			if s == nil {
				return UserErrorf("There is no silence #%d in force; %ssilences lists them.", n, ce.proc.settings.Prefix)
			}
			upstream, err := f.alerts.ExpireUpstream(ctx, s, by)
			if err != nil {
				return err
			}
			msg := render.New(fmt.Sprintf("Ended silence #%d; alerts it held back come out now.", n))
			switch {
			case upstream.Name == "":
			case upstream.Failed == 0:
				msg.Text(fmt.Sprintf(" %s's silence ended too.", upstream.Name))
			default:
				msg.Text(fmt.Sprintf(" Couldn't reach %s to end its silence there; it ends by itself at %s.", upstream.Name, render.Clock(s.EndsAt, ce.proc.deps.Now())))
			}
			return ce.Reply(ctx, msg)
		},
	}
}
