package main

import (
	"context"
	"errors"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/bot"
	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
	"github.com/steward-bot/steward/tickets"
)

// dispatcher is the command side of the inbox: commands and reactions go to the
// processor, messages carried for tickets to the router.
type dispatcher struct {
	proc   *commands.Processor
	router *tickets.Router
}

var _ bot.Handler = dispatcher{}

func (d dispatcher) IsCommand(body string) bool      { return d.proc.IsCommand(body) }
func (d dispatcher) IsKnownCommand(body string) bool { return d.proc.IsKnownCommand(body) }
func (d dispatcher) WantsReaction(key string) bool   { return commands.WantsReaction(key) }

func (d dispatcher) IsPrivate(room id.RoomID, body string) bool { return d.proc.IsPrivate(room, body) }

// IsMember counts admins as members too (the roles are ordered), so Steward accepts
// an admin's invitation to a private chat as it does a member's.
func (d dispatcher) IsMember(ctx context.Context, user id.UserID) bool {
	return d.proc.RoleOf(ctx, user) >= commands.RoleMember
}

// Handle sends reactions and commands to the processor and ticket messages to the
// router; the outcome it returns is what the inbox records for the entry.
func (d dispatcher) Handle(ctx context.Context, entry *state.InboxEntry) string {
	switch entry.Kind {
	case state.InboxReaction:
		return d.proc.HandleReaction(ctx, inputOf(entry), entry.RelatesTo)
	case state.InboxRelay:
		return d.router.Relay(ctx, entry)
	default:
		return d.proc.Handle(ctx, inputOf(entry))
	}
}

func inputOf(e *state.InboxEntry) *commands.Input {
	in := &commands.Input{
		Body: e.Body, Sender: e.Sender, DeviceID: e.DeviceID, Trust: e.Trust, Encrypted: e.Encrypted,
		RoomID: e.RoomID, EventID: e.EventID, ThreadRoot: e.ThreadRoot, SentAt: e.SentAt, ReceivedAt: e.ReceivedAt,
	}
	if e.Kind == state.InboxCommand {
		in.ReplyTo = e.RelatesTo
	}
	return in
}

// ticketCommands is the ticket tracker as commands use it, with the lookups that need
// Steward's own records and the transport.
type ticketCommands struct {
	*tickets.Tracker
	router *tickets.Router
	store  *state.Tickets
	matrix *bot.Bot
}

var _ commands.Tickets = ticketCommands{}

// Get reads a ticket by its short ID from the database, closed ones too, so !take
// and !close can say that a ticket is already closed rather than unknown.
func (t ticketCommands) Get(ctx context.Context, ticketID string) (*state.Ticket, error) {
	return t.store.Get(ctx, ticketID)
}

// List reads tickets straight from the database (open and closed, as f asks), for
// !tickets.
func (t ticketCommands) List(ctx context.Context, f state.TicketFilter) ([]*state.Ticket, error) {
	return t.store.List(ctx, f)
}

// InRoom returns the open ticket of a member's private chat, nil when it has none,
// as the router finds it.
func (t ticketCommands) InRoom(ctx context.Context, room id.RoomID) (*state.Ticket, error) {
	return t.router.InRoom(ctx, room)
}

// ByThread returns the ticket whose thread in the admin room starts at root.
func (t ticketCommands) ByThread(ctx context.Context, root id.EventID) (*state.Ticket, error) {
	return t.router.ByThread(ctx, root)
}

// Answer carries an admin's answer to the ticket's member; why it did not reach them
// is the admin's answer.
func (t ticketCommands) Answer(ctx context.Context, tk *state.Ticket, admin id.UserID, eventID id.EventID, text string, signed bool) error {
	err := t.FromAdmin(ctx, tk, admin, eventID, text, signed)
	if why := tickets.WhyNotSent(tk, err); why != "" {
		return commands.UserErrorf("%s", why)
	}
	return err
}

// Fetch fetches and decrypts the message of the group room that a report points at.
func (t ticketCommands) Fetch(ctx context.Context, room id.RoomID, eventID id.EventID) (*tickets.Quoted, error) {
	evt, content, err := t.matrix.FetchMessage(ctx, room, eventID)
	if err != nil {
		return nil, err
	}
	return &tickets.Quoted{Sender: evt.Sender, Room: room, EventID: evt.ID, At: time.UnixMilli(evt.Timestamp), Body: content.Body}, nil
}

// ticketMatrix opens members' private chats and queues tickets' messages.
type ticketMatrix struct{ matrix *bot.Bot }

var _ tickets.Matrix = ticketMatrix{}

func (m ticketMatrix) OpenDirect(ctx context.Context, member id.UserID, name string) (id.RoomID, error) {
	return m.matrix.OpenDirect(ctx, member, name)
}

// CanRedact says why Steward can't remove messages from the group room. Power levels
// that can't be read now are no reason: the removal is queued, and if it is refused,
// the outbox tells the admins.
func (m ticketMatrix) CanRedact(ctx context.Context) error {
	if err := m.matrix.CanModerate(ctx, bot.ActionRedact); !errors.Is(err, bot.ErrPowerUnknown) {
		return err
	}
	return nil
}

func (m ticketMatrix) QueueRedaction(ctx context.Context, eventID id.EventID, reason string) error {
	return m.matrix.QueueRedaction(ctx, eventID, reason)
}

func (m ticketMatrix) Post(ctx context.Context, roomID id.RoomID, threadMsg int64, msg *render.Message, mentions ...id.UserID) (int64, error) {
	return m.matrix.Outbox().PostInThread(ctx, roomID, threadMsg, msg, mentions...)
}
