package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/bot/render"
	"github.com/steward-bot/steward/state"
)

// The moderation actions on the group room.
const (
	ActionKick = "kick"
	ActionBan  = "ban"
)

// Moderator acts on the group room (the bot).
type Moderator interface {
	// CanModerate says, in a plain sentence, why Steward can't take action in the
	// group room (its power level); nil when it can.
	CanModerate(ctx context.Context, action string) error
	Moderate(ctx context.Context, action string, user id.UserID, reason string) error
}

// moderation is a !kick or !ban resolved: whom, why, and the ticket it answers.
type moderation struct {
	user   id.UserID
	reason string
	ticket *state.Ticket
}

func (p *Processor) moderation(ctx context.Context, ce *Event, action string) (moderation, error) {
	first, reason, _ := strings.Cut(strings.TrimSpace(ce.RawArgs), " ")
	user := id.UserID(first)
	if _, _, err := user.Parse(); err != nil || !strings.HasPrefix(first, "@") {
		return moderation{}, Usagef("Usage: %s%s @user:server [REASON]. %q is not a Matrix ID.", p.settings.Prefix, action, first)
	}
	switch {
	case user == p.settings.BotUserID:
		return moderation{}, Usagef("I won't %s myself.", action)
	case slices.Contains(p.settings.Admins, user):
		return moderation{}, Usagef("%s is an admin; admins are not kicked or banned by command.", user)
	}
	if p.moderator == nil {
		return moderation{}, Usagef("Moderation is not available.")
	}
	if err := p.moderator.CanModerate(ctx, action); err != nil {
		return moderation{}, Usagef("%s", err.Error())
	}
	m := moderation{user: user, reason: strings.TrimSpace(reason)}
	if p.tickets != nil && ce.ThreadRoot != "" {
		t, err := p.tickets.ByThread(ctx, ce.ThreadRoot)
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
func moderateCommand(action, help, verb, done string) *Command {
	return &Command{
		Name: action, Section: SectionGroup, Help: help, Args: "@user:server [REASON]",
		Role: RoleAdmin, Destructive: true, FreeText: true,
		Describe: func(ctx context.Context, ce *Event) (string, error) {
			m, err := ce.proc.moderation(ctx, ce, action)
			if err != nil {
				return "", err
			}
			what := fmt.Sprintf("%s %s from the group room", verb, m.user)
			if m.reason != "" {
				what += ", giving the reason " + quoteText(m.reason)
			}
			if m.ticket != nil {
				what += "; the member who opened ticket " + m.ticket.ID + " is told"
			}
			return what, nil
		},
		Func: func(ctx context.Context, ce *Event) error {
			p := ce.proc
			m, err := p.moderation(ctx, ce, action)
			if err != nil {
				return err
			}
			if err = p.moderator.Moderate(ctx, action, m.user, m.reason); err != nil {
				return err
			}
			msg := render.New(done + " ").Pill(m.user).Text(" from the group room.")
			detail := done + " " + m.user.String()
			if m.ticket != nil {
				if err = p.tickets.Tell(ctx, m.ticket, fmt.Sprintf("The admins %s the account you reported, %s, from the group room.", strings.ToLower(done), m.user)); err != nil {
					return err
				}
				msg.Text(" The member who opened ticket " + m.ticket.ID + " is told.")
				detail += "; ticket " + m.ticket.ID
			}
			if err = ce.Reply(ctx, msg); err != nil {
				return err
			}
			return Recorded{Outcome: state.OutcomeOK, Detail: detail}
		},
	}
}

// The moderation commands.
var (
	CommandKick = moderateCommand(ActionKick, "Remove someone from the group room (they can come back if invited)", "removes", "Removed")
	CommandBan  = moderateCommand(ActionBan, "Ban someone from the group room", "bans", "Banned")
)

// quoteText puts text in quotes for a sentence.
func quoteText(s string) string { return "“" + s + "”" }
