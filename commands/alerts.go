package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Alerts is the alert engine as the alert commands use it (monitor.Engine).
type Alerts interface {
	Ack(ctx context.Context, alertIDs []int64, by monitor.Actor) ([]*state.Alert, error)
	AckMessage(ctx context.Context, eventID id.EventID, by monitor.Actor) ([]*state.Alert, bool, error)
	OpenAlerts(ctx context.Context) ([]*state.Alert, error)
	Silence(ctx context.Context, s *state.Silence, by monitor.Actor) ([]*state.Alert, error)
	Unsilence(ctx context.Context, silenceID int64, by monitor.Actor) (*state.Silence, error)
	RunningSilences(ctx context.Context) ([]*state.Silence, error)
	// SilenceUpstream and ExpireUpstream carry a silence to where its alerts came
	// from (Alertmanager), once Steward's own silence is committed or ended.
	SilenceUpstream(ctx context.Context, s *state.Silence, matched []*state.Alert, by monitor.Actor) (monitor.UpstreamResult, error)
	ExpireUpstream(ctx context.Context, s *state.Silence, by monitor.Actor) (monitor.UpstreamResult, error)
}

// Acks takes the alerts of a message an admin reacted 👀 to: the dispatcher's part of
// the alert engine, since reactions reach it and not a command.
type Acks interface {
	AckMessage(ctx context.Context, eventID id.EventID, by monitor.Actor) ([]*state.Alert, bool, error)
	// ShowsAlerts reports whether the message eventID shows alerts, without taking them.
	ShowsAlerts(ctx context.Context, eventID id.EventID) (bool, error)
}

// alertFamily is the commands about alerts, silences and who is on duty.
type alertFamily struct {
	alerts Alerts
	onCall *monitor.OnCall
}

// alertCommands registers the alert family with the alert engine and the on-call
// rotation (nil for a config check, which runs nothing).
func alertCommands(alerts Alerts, onCall *monitor.OnCall) []*Command {
	f := &alertFamily{alerts: alerts, onCall: onCall}
	return []*Command{f.list(), f.ack(), f.onCallCommand(), f.silenceCommand(), f.silences(), f.unsilence(), f.maintenance()}
}

// isAckReaction tells the reaction that takes an alert.
func isAckReaction(key string) bool {
	return strings.ReplaceAll(key, "\ufe0f", "") == monitor.ReactionAck
}

// ack takes alerts: the alert message shows who is on it, and escalation stops.
func (f *alertFamily) ack() *Command {
	return &Command{
		Name:    "ack",
		Section: SectionAlerts,
		Help:    "Take alerts: say you are on them",
		Args:    "ID [ID...]",
		Role:    RoleAdmin,
		Effect:  Changes,
		Func: func(ctx context.Context, ce *Event) error {
			if len(ce.Args) == 0 {
				return UserErrorf("Which alert? Give its number, like %sack 12. %salerts lists them.", ce.proc.settings.Prefix, ce.proc.settings.Prefix)
			}
			ids := make([]int64, 0, len(ce.Args))
			for _, arg := range ce.Args {
				n, err := strconv.ParseInt(strings.TrimPrefix(arg, "#"), 10, 64)
				if err != nil || n < 1 {
					return UserErrorf("%q is not an alert number. %salerts lists them.", arg, ce.proc.settings.Prefix)
				}
				ids = append(ids, n)
			}
			acked, err := f.alerts.Ack(ctx, ids, monitor.Actor{UserID: ce.Sender, DeviceID: ce.DeviceID, RoomID: ce.RoomID, EventID: ce.EventID})
			if notOpen := (*monitor.NotOpenError)(nil); errors.As(err, &notOpen) {
				return UserErrorf("%s. %salerts lists the open ones.", notOpen, ce.proc.settings.Prefix)
			} else if err != nil {
				return err
			}
			if len(acked) == 0 {
				return ce.Reply(ctx, render.New("Someone has already taken those."))
			}
			return ce.Reply(ctx, render.New("You're on "+alertNumbers(acked)+"."))
		},
	}
}

func alertNumbers(alerts []*state.Alert) string {
	parts := make([]string, 0, len(alerts))
	for _, a := range alerts {
		parts = append(parts, fmt.Sprintf("#%d", a.ID))
	}
	return strings.Join(parts, ", ")
}

// list is !alerts: the firing alerts with who took them and any silence holding them
// back; pending ones are only counted.
func (f *alertFamily) list() *Command {
	return &Command{
		Name:    "alerts",
		Section: SectionAlerts,
		Help:    "List the alerts that are firing, who took them, and which are silenced",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			open, err := f.alerts.OpenAlerts(ctx)
			if err != nil {
				return err
			}
			silences, err := f.alerts.RunningSilences(ctx)
			if err != nil {
				return err
			}
			var firing []*state.Alert
			for _, a := range open {
				if a.State == state.AlertFiring {
					firing = append(firing, a)
				}
			}
			var msg *render.Message
			for _, n := range listBounds {
				if msg = listAlerts(firing, len(open)-len(firing), silences, n); msg.Fits() {
					break
				}
			}
			return ce.Reply(ctx, msg)
		},
	}
}

// listBounds are how many rows !alerts lists, each with its summary in how many
// characters: the first that fits one message. A storm from Alertmanager has a
// thousand alerts, whose rows the homeserver would refuse.
var listBounds = []struct{ rows, summary int }{{50, 200}, {50, 80}, {20, 40}}

// listAlerts is !alerts' answer: the firing alerts, at most bound.rows of them, and
// how many more are pending.
func listAlerts(firing []*state.Alert, pending int, silences []*state.Silence, bound struct{ rows, summary int }) *render.Message {
	rows := make([][]string, 0, min(len(firing), bound.rows))
	for _, a := range firing[:min(len(firing), bound.rows)] {
		taken := "nobody yet"
		if a.AckedBy != "" {
			taken = a.AckedBy.String()
		}
		for _, s := range silences {
			if monitor.Matches(s.Matcher, a.Fingerprint) {
				taken += fmt.Sprintf(" (🔕 silenced, #%d)", s.ID)
				break
			}
		}
		rows = append(rows, []string{"#" + strconv.FormatInt(a.ID, 10), monitor.Badge(a.Severity) + " " + a.Severity.String(),
			render.Shorten(a.Summary, bound.summary), render.Shorten(a.Fingerprint, 70), a.Since.UTC().Format("Jan 02 15:04"), taken})
	}
	var msg *render.Message
	if len(rows) == 0 {
		msg = render.New("Nothing is firing.")
	} else {
		msg = render.New(fmt.Sprintf("%d firing (times in UTC):", len(firing))).Line().
			Table([]string{"#", "Severity", "What", "Fingerprint", "Since", "Taken by"}, rows)
	}
	if more := len(firing) - len(rows); more > 0 {
		msg.Text(fmt.Sprintf("…and %d more, the newest, not listed.", more))
	}
	if pending > 0 {
		msg.Line().Text(fmt.Sprintf("%d more seen but not yet lasting long enough to alert.", pending))
	}
	return msg
}

// ackByReaction takes the alerts of the message a 👀 points at.
func (p *Processor) ackByReaction(ctx context.Context, in *Input, relatesTo id.EventID) string {
	if p.deps.Acks == nil {
		return state.OutcomeIgnored
	}
	by := monitor.Actor{UserID: in.Sender, DeviceID: in.DeviceID, RoomID: in.RoomID, EventID: in.EventID}
	if p.RoleOf(ctx, in.Sender) != RoleAdmin {
		// Not even looked up: only admins' reactions may touch alerts.
		return state.OutcomeIgnored
	}
	if p.settings.RequireVerified && !in.Verified() {
		return p.refuseUnverifiedAck(ctx, in, relatesTo)
	}
	acked, found, err := p.deps.Acks.AckMessage(ctx, relatesTo, by)
	switch {
	case err != nil:
		zerolog.Ctx(ctx).Err(err).Msg("Failed to acknowledge alerts by reaction")
		return state.OutcomeError
	case !found:
		return state.OutcomeIgnored
	}
	zerolog.Ctx(ctx).Info().Int("alerts", len(acked)).Msg("Alerts acknowledged by reaction")
	return state.OutcomeOK
}

// refuseUnverifiedAck answers a 👀 on an alert from a device its owner has not
// cross-signed, or one that came unencrypted (many clients send reactions in clear,
// and then nobody can tell the device): taking an alert stops its escalation, so it
// needs a verified device, as !ack does. The refusal goes to the decision log each time
// and to the room once per admin and alert message, as for an answer to an approval
// request: a reaction met with silence would read as taken. A 👀 on anything that is no
// alert stays ignored.
func (p *Processor) refuseUnverifiedAck(ctx context.Context, in *Input, relatesTo id.EventID) string {
	shows, err := p.deps.Acks.ShowsAlerts(ctx, relatesTo)
	switch {
	case err != nil:
		zerolog.Ctx(ctx).Err(err).Msg("Failed to look up the alerts a reaction points at")
		return state.OutcomeError
	case !shows:
		return state.OutcomeIgnored
	}
	why := "device not verified"
	msg := render.New("").Pill(in.Sender).Text(": your " + in.Body + " did not take this alert: ")
	if in.Encrypted {
		msg.Text("your device ").Code(string(in.DeviceID)).Text(" is not verified. Verify it from another of your sessions (or with your recovery key), or send ").
			Code(p.settings.Prefix + "ack ID").Text(" from a verified one.")
	} else {
		why = "reaction not encrypted"
		msg.Text("the reaction was not encrypted, so I can't tell which device sent it. Send ").Code(p.settings.Prefix + "ack ID").Text(" from a verified device.")
	}
	if _, err := p.deps.Audit.Append(ctx, &state.AuditEntry{
		Actor: in.Sender, ActorDevice: in.DeviceID, RoomID: in.RoomID, EventID: in.EventID,
		Action: "alert.ack", Arguments: "reaction to " + relatesTo.String(), Outcome: state.OutcomeRefused, Detail: why,
	}); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to write audit entry")
	}
	if first, _ := p.deps.Once.SetOnce(ctx, "unverified_ack:"+relatesTo.String()+":"+in.Sender.String(), in.EventID.String()); first {
		if err := p.deps.Messenger.Reply(ctx, in.RoomID, relatesTo, "", msg); err != nil {
			zerolog.Ctx(ctx).Err(err).Msg("Failed to queue reply")
		}
	}
	return state.OutcomeRefused
}

// Reloader reads the config file again (the bot), so that !reload applies what SIGHUP
// would, without anyone needing a shell on the host.
type Reloader interface {
	// Reload returns what was applied, or why nothing was (with an error).
	Reload(ctx context.Context) (*render.Message, error)
}

// reloadCommand applies a changed config file without a restart, as SIGHUP does.
func reloadCommand(reloader Reloader) *Command {
	return &Command{
		Name:    "reload",
		Section: SectionAlerts,
		Help:    "Read the config file again and apply its monitor settings",
		Role:    RoleAdmin,
		Effect:  Changes,
		Func: func(ctx context.Context, ce *Event) error {
			msg, err := reloader.Reload(ctx)
			if msg == nil {
				return err
			}
			if replyErr := ce.Reply(ctx, msg); replyErr != nil {
				return replyErr
			}
			if err != nil {
				return AnsweredError{Outcome: state.OutcomeBadInput, Detail: err.Error()}
			}
			return nil
		},
	}
}
