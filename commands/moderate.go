package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// The moderation actions on the group room.
const (
	ActionKick = "kick"
	ActionBan  = "ban"
)

// Moderator acts on the group room with Steward's own power level (the bot): the
// commands decide whether to, the account that can does it.
type Moderator interface {
	// CanModerate says, in a plain sentence, why Steward can't take action in the
	// group room (its power level); nil when it can.
	CanModerate(ctx context.Context, action string) error
	Moderate(ctx context.Context, action string, user id.UserID, reason string) error
	// Redact removes a message of the group room.
	Redact(ctx context.Context, eventID id.EventID, reason string) error
	// Warn sends user a warning from the admins, in a private chat.
	Warn(ctx context.Context, user id.UserID, text string) error
}

// ReportThreads finds the report a moderation command is sent in the thread of, and
// tells its member what was done (tickets.Tracker).
type ReportThreads interface {
	ByThread(ctx context.Context, root id.EventID) (*state.Ticket, error)
	Tell(ctx context.Context, t *state.Ticket, text string) error
}

// moderationFamily is the commands that act on the group room: kick, ban, remove a
// reported message, warn.
type moderationFamily struct {
	tickets   ReportThreads
	moderator Moderator
}

// moderationCommands registers the moderation family with the reports it acts on and
// the account that acts.
func moderationCommands(reports ReportThreads, moderator Moderator) []*Command {
	f := &moderationFamily{tickets: reports, moderator: moderator}
	return []*Command{
		f.moderateCommand(ActionKick, "Remove someone from the group room (they can come back if invited)", "removes", "Removed"),
		f.moderateCommand(ActionBan, "Ban someone from the group room", "bans", "Banned"),
		f.remove(), f.warn(),
	}
}

// ActionRedact is removing a message: it needs the power to redact others' messages.
const ActionRedact = "redact"

// reportedTicket finds the abuse report of the thread ce was sent in, with the
// message it points at.
func (f *moderationFamily) reportedTicket(ctx context.Context, ce *Event) (*state.Ticket, error) {
	if f.tickets == nil || ce.ThreadRoot == "" {
		return nil, UserErrorf("Send this in the thread of a report that points at a message.")
	}
	t, err := f.tickets.ByThread(ctx, ce.ThreadRoot)
	if err != nil {
		return nil, err
	}
	if t == nil || t.TargetEvent == "" {
		return nil, UserErrorf("This thread's ticket points at no message. A member points at one by sending %sreport as a reply to it, or with its link.", ce.proc.settings.Prefix)
	}
	if t.TargetUser == ce.proc.settings.BotUserID || slices.Contains(ce.proc.settings.Admins, t.TargetUser) {
		return nil, UserErrorf("The reported message is %s's, an admin's (or mine); admins' messages are not removed by command.", t.TargetUser)
	}
	return t, nil
}

// remove redacts, after approval, the message a report points at; it works only in
// the report's thread, never on an admin's or Steward's message, and the reporter is
// told.
func (f *moderationFamily) remove() *Command {
	return &Command{
		Name: "remove", Section: SectionGroup, Help: "In a report's thread: remove the reported message from the group room", Args: "[REASON]",
		Role: RoleAdmin, Destructive: true, FreeText: true, Effect: Changes,
		Describe: func(ctx context.Context, ce *Event) (string, error) {
			t, err := f.reportedTicket(ctx, ce)
			if err != nil {
				return "", err
			}
			if err = f.moderator.CanModerate(ctx, ActionRedact); err != nil {
				return "", UserErrorf("%s", err.Error())
			}
			ce.Pin = string(t.TargetEvent)
			return fmt.Sprintf("removes the message of %s that ticket %s reports from the group room; the member who reported it is told", t.TargetUser, t.ID), nil
		},
		Func: func(ctx context.Context, ce *Event) error {
			t, err := f.reportedTicket(ctx, ce)
			if err != nil {
				return err
			}
			if err = f.moderator.Redact(ctx, t.TargetEvent, strings.TrimSpace(ce.RawArgs)); err != nil {
				return err
			}
			told := f.tellReporter(ctx, t, "The admins removed the message you reported.")
			if err = ce.Reply(ctx, render.New("Removed the reported message of ").Pill(t.TargetUser).Text(". "+told)); err != nil {
				return err
			}
			return AnsweredError{Outcome: state.OutcomeOK, Detail: "removed " + string(t.TargetEvent) + " of " + t.TargetUser.String() + "; ticket " + t.ID}
		},
	}
}

// warn warns someone in a private chat, after approval; in a report's thread
// the reported account is meant unless another is named.
func (f *moderationFamily) warn() *Command {
	return &Command{
		Name: "warn", Section: SectionGroup, Help: "Warn someone in a private chat from the admins (in a report's thread: the reported account)", Args: "[@user:server] TEXT",
		Role: RoleAdmin, Destructive: true, FreeText: true, Effect: Changes,
		Describe: func(ctx context.Context, ce *Event) (string, error) {
			user, text, t, err := f.warning(ctx, ce)
			if err != nil {
				return "", err
			}
			what := fmt.Sprintf("sends %s, in a private chat, the warning %s", user, quoteText(text))
			if t != nil && t.TargetUser == user {
				what += "; the member who opened ticket " + t.ID + " is told"
			}
			return what, nil
		},
		Func: func(ctx context.Context, ce *Event) error {
			user, text, t, err := f.warning(ctx, ce)
			if err != nil {
				return err
			}
			if err = f.moderator.Warn(ctx, user, text); err != nil {
				return err
			}
			detail := "warned " + user.String()
			told := ""
			if t != nil && t.TargetUser == user {
				told = " " + f.tellReporter(ctx, t, "The admins warned the account you reported.")
				detail += "; ticket " + t.ID
			}
			if err = ce.Reply(ctx, render.New("Warned ").Pill(user).Text("."+told)); err != nil {
				return err
			}
			return AnsweredError{Outcome: state.OutcomeOK, Detail: detail}
		},
	}
}

// warning reads !warn: whom (named, or the reported account of the thread's ticket)
// and what.
func (f *moderationFamily) warning(ctx context.Context, ce *Event) (id.UserID, string, *state.Ticket, error) {
	text := strings.TrimSpace(ce.RawArgs)
	var user id.UserID
	if first, rest, _ := strings.Cut(text, " "); strings.HasPrefix(first, "@") {
		if _, _, err := id.UserID(first).Parse(); err != nil {
			return "", "", nil, UserErrorf("%q is not a Matrix ID.", first)
		}
		user, text = id.UserID(first), strings.TrimSpace(rest)
	}
	var t *state.Ticket
	if f.tickets != nil && ce.ThreadRoot != "" {
		var err error
		if t, err = f.tickets.ByThread(ctx, ce.ThreadRoot); err != nil {
			return "", "", nil, err
		}
	}
	if user == "" && t != nil {
		user = t.TargetUser
	}
	switch {
	case user == "":
		return "", "", nil, UserErrorf("Usage: %swarn @user:server TEXT (in a report's thread, the reported account is meant when none is named).", ce.proc.settings.Prefix)
	case text == "":
		return "", "", nil, UserErrorf("Say what the warning is: %swarn [@user:server] TEXT", ce.proc.settings.Prefix)
	case user == ce.proc.settings.BotUserID || slices.Contains(ce.proc.settings.Admins, user):
		return "", "", nil, UserErrorf("%s is an admin (or me); admins are not warned by command.", user)
	}
	if f.moderator == nil {
		return "", "", nil, UserErrorf("Moderation is not available.")
	}
	return user, text, t, nil
}

// moderation is a !kick or !ban resolved: whom, why, and the ticket it answers.
type moderation struct {
	user   id.UserID
	reason string
	ticket *state.Ticket
}

func (f *moderationFamily) moderation(ctx context.Context, ce *Event, action string) (moderation, error) {
	first, reason, _ := strings.Cut(strings.TrimSpace(ce.RawArgs), " ")
	user := id.UserID(first)
	if _, _, err := user.Parse(); err != nil || !strings.HasPrefix(first, "@") {
		return moderation{}, UserErrorf("Usage: %s%s @user:server [REASON]. %q is not a Matrix ID.", ce.proc.settings.Prefix, action, first)
	}
	switch {
	case user == ce.proc.settings.BotUserID:
		return moderation{}, UserErrorf("I won't %s myself.", action)
	case slices.Contains(ce.proc.settings.Admins, user):
		return moderation{}, UserErrorf("%s is an admin; admins are not kicked or banned by command.", user)
	}
	if f.moderator == nil {
		return moderation{}, UserErrorf("Moderation is not available.")
	}
	if err := f.moderator.CanModerate(ctx, action); err != nil {
		return moderation{}, UserErrorf("%s", err.Error())
	}
	m := moderation{user: user, reason: strings.TrimSpace(reason)}
	if f.tickets != nil && ce.ThreadRoot != "" {
		t, err := f.tickets.ByThread(ctx, ce.ThreadRoot)
		if err != nil {
			return m, err
		}
		m.ticket = t
	}
	return m, nil
}

// moderateCommand declares !kick and !ban: they act on the group room, so they go
// through approval (second_admin by default). Sent in a ticket's thread, they answer
// that ticket: its member is told what was done.
func (f *moderationFamily) moderateCommand(action, help, verb, done string) *Command {
	return &Command{
		Name: action, Section: SectionGroup, Help: help, Args: "@user:server [REASON]",
		Role: RoleAdmin, Destructive: true, FreeText: true, Effect: Changes,
		Describe: func(ctx context.Context, ce *Event) (string, error) {
			m, err := f.moderation(ctx, ce, action)
			if err != nil {
				return "", err
			}
			what := fmt.Sprintf("%s %s from the group room", verb, m.user)
			if m.reason != "" {
				what += ", giving the reason " + quoteText(m.reason)
			}
			if m.ticket != nil && m.ticket.TargetUser == m.user {
				what += "; the member who opened ticket " + m.ticket.ID + " is told"
			}
			return what, nil
		},
		Func: func(ctx context.Context, ce *Event) error {
			m, err := f.moderation(ctx, ce, action)
			if err != nil {
				return err
			}
			if err = f.moderator.Moderate(ctx, action, m.user, m.reason); err != nil {
				return err
			}
			msg := render.New(done + " ").Pill(m.user).Text(" from the group room.")
			detail := done + " " + m.user.String()
			if m.ticket != nil && m.ticket.TargetUser == m.user {
				msg.Text(" " + f.tellReporter(ctx, m.ticket, fmt.Sprintf("The admins %s the account you reported, %s, from the group room.", strings.ToLower(done), m.user)))
				detail += "; ticket " + m.ticket.ID
			}
			if err = ce.Reply(ctx, msg); err != nil {
				return err
			}
			return AnsweredError{Outcome: state.OutcomeOK, Detail: detail}
		},
	}
}

// tellReporter tells a report's member what was done, and says for the admins
// whether they were told: the action stands either way.
func (f *moderationFamily) tellReporter(ctx context.Context, t *state.Ticket, text string) string {
	if err := f.tickets.Tell(ctx, t, text); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("ticket", t.ID).Msg("Couldn't tell the reporting member")
		return "The member who opened ticket " + t.ID + " could not be told (their chat is not private any more)."
	}
	return "The member who opened ticket " + t.ID + " is told."
}

// quoteText puts text in quotes for a sentence.
func quoteText(s string) string { return "“" + s + "”" }
