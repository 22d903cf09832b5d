package commands

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
	"github.com/steward-bot/steward/tickets"
)

// Tickets are the members' requests and reports as the ticket commands use them
// (tickets.Tracker).
type Tickets interface {
	Open(ctx context.Context, member id.UserID, kind, category, text string, eventID id.EventID, quoted *tickets.Quoted, room id.RoomID) (*state.Ticket, error)
	Get(ctx context.Context, ticketID string) (*state.Ticket, error)
	List(ctx context.Context, f state.TicketFilter) ([]*state.Ticket, error)
	InRoom(ctx context.Context, room id.RoomID) (*state.Ticket, error)
	ByThread(ctx context.Context, root id.EventID) (*state.Ticket, error)
	Take(ctx context.Context, t *state.Ticket, admin id.UserID) error
	Close(ctx context.Context, t *state.Ticket, admin id.UserID, decision string) error
	Note(ctx context.Context, t *state.Ticket, admin id.UserID, eventID id.EventID, text string) error
	Tell(ctx context.Context, t *state.Ticket, text string) error
	FromMember(ctx context.Context, t *state.Ticket, eventID id.EventID, text string) error
	// Answer carries an admin's answer to the ticket's member, signed or not.
	Answer(ctx context.Context, t *state.Ticket, admin id.UserID, eventID id.EventID, text string, signed bool) error
	// Fetch fetches a message of the group room that a report points at.
	Fetch(ctx context.Context, room id.RoomID, eventID id.EventID) (*tickets.Quoted, error)
}

// matrixToEvent finds a link to a message (https://matrix.to/#/!room/$event).
var matrixToEvent = regexp.MustCompile(`https://matrix\.to/#/((?:!|%21)[^/?\s]+)/((?:\$|%24)[^?\s]+)`)

// reported finds the message a report points at: the one the command answers, or a
// matrix.to link in its text; only the group room's messages count. nil when there is
// none, or it can't be fetched (the report is filed anyway, with the text as given).
func (f *ticketFamily) reported(ctx context.Context, ce *Event, text string) *tickets.Quoted {
	room, eventID := id.RoomID(""), id.EventID("")
	if ce.ReplyTo != "" && ce.RoomID == ce.proc.settings.GroupRoom {
		room, eventID = ce.RoomID, ce.ReplyTo
	} else if m := matrixToEvent.FindStringSubmatch(text); m != nil {
		r, err1 := url.PathUnescape(m[1])
		e, err2 := url.PathUnescape(m[2])
		if err1 != nil || err2 != nil {
			return nil
		}
		room, eventID = id.RoomID(r), id.EventID(e)
	}
	if eventID == "" || room != ce.proc.settings.GroupRoom {
		return nil
	}
	q, err := f.tickets.Fetch(ctx, room, eventID)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Stringer("reported_event", eventID).Msg("Couldn't fetch a reported message")
		return nil
	}
	return q
}

// ticketCommand declares !request and !report: a member asks the admins, from the
// group room (the text is not repeated there, and the member's message is removed
// from there once the ticket is open) or a private chat with Steward.
func (f *ticketFamily) ticketCommand(name, kind, help, args string) *Command {
	return &Command{
		Name: name, Section: SectionGroup, Help: help, Args: args, Role: RoleMember, FreeText: true, Private: true, Effect: Asks,
		Func: func(ctx context.Context, ce *Event) error {
			if f.tickets == nil {
				return UserErrorf("Tickets are not available.")
			}
			text := strings.TrimSpace(ce.RawArgs)
			category := ""
			if kind == state.TicketReport {
				if first, rest, ok := strings.Cut(text, " "); ok && slices.Contains(f.categories, strings.ToLower(first)) {
					category, text = strings.ToLower(first), strings.TrimSpace(rest)
				}
			}
			if text == "" {
				return UserErrorf("Usage: %s%s %s", ce.proc.settings.Prefix, name, args)
			}
			// In the group room, a new private chat; in a private chat, that one
			// (encrypted), where an open ticket takes it as one more message.
			if ce.RoomID != ce.proc.settings.GroupRoom && ce.RoomID != ce.proc.settings.AdminRoom {
				if !ce.Encrypted {
					return UserErrorf("This chat is not encrypted, so I take no tickets here. Send %s%s in the group room, and I'll open an encrypted chat with you.", ce.proc.settings.Prefix, name)
				}
				open, err := f.tickets.InRoom(ctx, ce.RoomID)
				if err != nil {
					return err
				}
				if open != nil && open.Member == ce.Sender {
					if err = f.tickets.FromMember(ctx, open, ce.EventID, text); err != nil {
						return err
					}
					return ce.Reply(ctx, render.New("Added to ticket ").Bold(open.ID).Text("."))
				}
			}
			var quoted *tickets.Quoted
			if kind == state.TicketReport {
				quoted = f.reported(ctx, ce, text)
			}
			t, err := f.tickets.Open(ctx, ce.Sender, kind, category, text, ce.EventID, quoted, ce.RoomID)
			switch {
			case errors.Is(err, tickets.ErrTooMany):
				return UserErrorf("%s", tickets.TooManyMessage)
			case err != nil:
				return err
			}
			if ce.RoomID != ce.proc.settings.AdminRoom {
				// The ticket's first message in its chat says it all. In the group
				// room, a reply would point everyone, the reported person too, at
				// the words being removed.
				return nil
			}
			return ce.Reply(ctx, render.New("I've opened a private chat with you about this: ticket ").Bold(t.ID).Text(". The admins will answer there."))
		},
	}
}

// ticketFamily is the commands that carry members' requests and reports to the admins
// and the admins' answers back.
type ticketFamily struct {
	tickets Tickets
	// categories are the kinds of abuse !report can name.
	categories []string
}

// ticketCommands registers the ticket family with the ticket desk (nil when tickets
// are off: the commands then say so) and the categories a report may name.
func ticketCommands(tickets Tickets, categories []string) []*Command {
	f := &ticketFamily{tickets: tickets, categories: categories}
	return []*Command{
		f.ticketCommand("request", state.TicketRequest, "Ask the admins for help, in a private chat", "TEXT"),
		f.ticketCommand("report", state.TicketReport, "Report abuse to the admins, in a private chat (send it as a reply to the message, or paste its link)", "[CATEGORY] TEXT"),
		f.list(), f.take(), f.close(), f.note(), f.sign(),
	}
}

// ticketArg finds the ticket an admin named by ID, or the ticket of the thread the
// command was sent in.
func (f *ticketFamily) ticketArg(ctx context.Context, ce *Event, arg string) (*state.Ticket, error) {
	if arg == "" {
		t, err := f.tickets.ByThread(ctx, ce.ThreadRoot)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, UserErrorf("Send this in a ticket's thread, or name the ticket.")
		}
		return t, nil
	}
	t, err := f.tickets.Get(ctx, strings.ToUpper(arg))
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, UserErrorf("There is no ticket %q. %stickets lists them.", arg, ce.proc.settings.Prefix)
	}
	return t, nil
}

// list lists tickets: all of them for the admins, their own for a member
// (in their private chat only, so nobody else reads it over their shoulder).
func (f *ticketFamily) list() *Command {
	return &Command{
		Name:    "tickets",
		Section: SectionGroup,
		Help:    "List tickets: the admins see open, mine or all; a member sees their own",
		Args:    "[open|mine|all]",
		Role:    RoleMember,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			if f.tickets == nil {
				return UserErrorf("Tickets are not available.")
			}
			filter := state.TicketFilter{State: state.TicketOpen}
			switch {
			case ce.RoomID == ce.proc.settings.AdminRoom && ce.Role == RoleAdmin:
				switch strings.Join(ce.Args, " ") {
				case "", "open":
				case "mine":
					filter.Assignee = ce.Sender
				case "all":
					filter.State = ""
				default:
					return UserErrorf("Usage: %stickets [open|mine|all]", ce.proc.settings.Prefix)
				}
			case ce.RoomID == ce.proc.settings.GroupRoom || ce.RoomID == ce.proc.settings.AdminRoom:
				return UserErrorf("Send %stickets in your private chat with me: your tickets are nobody else's business.", ce.proc.settings.Prefix)
			default:
				filter.Member = ce.Sender
			}
			list, err := f.tickets.List(ctx, filter)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return ce.Reply(ctx, render.New("No tickets."))
			}
			now := ce.proc.deps.Now()
			rows := make([][]string, 0, len(list))
			admin := filter.Member == ""
			for _, t := range list {
				row := []string{t.ID, t.Kind, t.State, render.Duration(now.Sub(t.CreatedAt))}
				if admin {
					assignee := "–"
					if t.Assignee != "" {
						assignee = t.Assignee.String()
					}
					row = append(row, t.Member.String(), assignee)
				}
				rows = append(rows, row)
			}
			header := []string{"ID", "Kind", "State", "Age"}
			if admin {
				header = append(header, "Member", "Taken by")
			}
			hint := ""
			if admin && filter.State == "" {
				hint = "use " + ce.proc.settings.Prefix + "tickets open or " + ce.proc.settings.Prefix + "tickets mine for fewer"
			}
			return ce.Reply(ctx, fitRows(rows, hint, func(rows [][]string) *render.Message {
				return render.New(fmt.Sprintf("%d tickets:", len(list))).Line().Table(header, rows)
			}))
		},
	}
}

// take makes the sender the ticket's assignee; a closed ticket is refused.
func (f *ticketFamily) take() *Command {
	return &Command{
		Name: "take", Section: SectionGroup, Help: "Take a ticket: say you handle it", Args: "[ID]", Role: RoleAdmin, Effect: Changes,
		Func: func(ctx context.Context, ce *Event) error {
			if len(ce.Args) > 1 {
				return UserErrorf("Usage: %stake [ID]", ce.proc.settings.Prefix)
			}
			t, err := f.ticketArg(ctx, ce, strings.Join(ce.Args, ""))
			if err != nil {
				return err
			}
			if err = f.tickets.Take(ctx, t, ce.Sender); errors.Is(err, tickets.ErrClosed) {
				return UserErrorf("Ticket %s is closed.", t.ID)
			} else if err != nil {
				return err
			}
			return ce.Reply(ctx, render.New("👀 ").Pill(ce.Sender).Text(" takes ticket "+t.ID+"."))
		},
	}
}

// close closes a ticket with the admins' decision; the member is told.
func (f *ticketFamily) close() *Command {
	return &Command{
		Name: "close", Section: SectionGroup, Help: "Close a ticket with a decision; the member is told", Args: "ID DECISION...",
		Role: RoleAdmin, FreeText: true, Effect: Changes,
		Func: func(ctx context.Context, ce *Event) error {
			ticketID, decision, _ := strings.Cut(strings.TrimSpace(ce.RawArgs), " ")
			decision = strings.TrimSpace(decision)
			if ticketID == "" || decision == "" {
				return UserErrorf("Usage: %sclose ID DECISION, like %sclose K7QM warned the sender", ce.proc.settings.Prefix, ce.proc.settings.Prefix)
			}
			t, err := f.ticketArg(ctx, ce, ticketID)
			if err != nil {
				return err
			}
			if err = f.tickets.Close(ctx, t, ce.Sender, decision); errors.Is(err, tickets.ErrClosed) {
				return UserErrorf("Ticket %s is closed already.", t.ID)
			} else if err != nil {
				return err
			}
			return ce.Reply(ctx, render.New("✅ Closed ticket "+t.ID+"; ").Pill(t.Member).Text(" is told the decision."))
		},
	}
}

// threadWords reads a command that takes TEXT in a ticket's thread: the ticket and
// the text.
func (f *ticketFamily) threadWords(ctx context.Context, ce *Event) (*state.Ticket, string, error) {
	text := strings.TrimSpace(ce.RawArgs)
	if text == "" {
		return nil, "", UserErrorf("Usage: %s%s TEXT, in a ticket's thread", ce.proc.settings.Prefix, ce.Command.Name)
	}
	t, err := f.ticketArg(ctx, ce, "")
	return t, text, err
}

// note keeps a note on a ticket among the admins.
func (f *ticketFamily) note() *Command {
	return &Command{
		Name: "note", Section: SectionGroup, Help: "In a ticket's thread: a note among admins, not sent to the member", Args: "TEXT",
		Role: RoleAdmin, FreeText: true, Effect: Changes,
		Func: func(ctx context.Context, ce *Event) error {
			t, text, err := f.threadWords(ctx, ce)
			if err != nil {
				return err
			}
			if err = f.tickets.Note(ctx, t, ce.Sender, ce.EventID, text); err != nil {
				return err
			}
			return ce.Reply(ctx, render.New("Noted on ticket "+t.ID+" (the member does not see it)."))
		},
	}
}

// sign answers a ticket's member with the admin's name, where the thread's
// plain messages reach the member as Steward's.
func (f *ticketFamily) sign() *Command {
	return &Command{
		Name: "sign", Section: SectionGroup, Help: "In a ticket's thread: answer the member with your name on it", Args: "TEXT",
		Role: RoleAdmin, FreeText: true, Effect: Changes,
		Func: func(ctx context.Context, ce *Event) error {
			t, text, err := f.threadWords(ctx, ce)
			if err != nil {
				return err
			}
			if err = f.tickets.Answer(ctx, t, ce.Sender, ce.EventID, text, true); err != nil {
				return err
			}
			return ce.Reply(ctx, render.New("Sent to the member of ticket "+t.ID+", signed."))
		},
	}
}
