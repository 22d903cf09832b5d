// Package tickets lets members reach the admins as a team: each request for help or
// abuse report is a ticket, with a private, encrypted chat with the member on one side
// and a thread in the admin room on the other. Messages go across both ways, the
// admins take and close tickets with a recorded decision, and abuse reports have a
// deadline with reminders and escalation.
package tickets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Matrix is what tickets need from the Matrix side (the bot, through its outbox).
type Matrix interface {
	// OpenDirect creates an encrypted direct chat with member, invites them and
	// returns it.
	OpenDirect(ctx context.Context, member id.UserID, name string) (id.RoomID, error)
	// Post queues msg for roomID, in the thread that queued message threadMsg starts
	// when threadMsg > 0, notifying mentions; it returns the message's outbox ID.
	Post(ctx context.Context, roomID id.RoomID, threadMsg int64, msg *render.Message, mentions ...id.UserID) (int64, error)
	// CanRedact says why Steward can't remove messages from the group room, reading
	// its power there fresh; nil when it can.
	CanRedact(ctx context.Context) error
	// QueueRedaction queues the removal of the group room's message eventID, in the
	// transaction of ctx.
	QueueRedaction(ctx context.Context, eventID id.EventID, reason string) error
}

// Store keeps the tickets (state.Tickets).
type Store interface {
	Create(ctx context.Context, t *state.Ticket) error
	Get(ctx context.Context, ticketID string) (*state.Ticket, error)
	SetRoom(ctx context.Context, ticketID string, dmRoom id.RoomID, threadMsg int64, at time.Time) error
	Assign(ctx context.Context, ticketID string, admin id.UserID, at time.Time) (bool, error)
	Close(ctx context.Context, ticketID string, by id.UserID, decision string, at time.Time) (bool, error)
	AddMessage(ctx context.Context, m *state.TicketMessage) (bool, error)
	OpenedSince(ctx context.Context, member id.UserID, t time.Time) (int, error)
	List(ctx context.Context, f state.TicketFilter) ([]*state.Ticket, error)
	SetReminded(ctx context.Context, ticketID string, n int) error
}

// Settings are the parts of the config tickets need.
type Settings struct {
	AdminRoom id.RoomID
	// GroupRoom is where a member's !report or !request is seen by everyone, the
	// reported person too: it is removed from there once its ticket is open.
	GroupRoom id.RoomID
	Admins    []id.UserID
	Prefix    string
	// AbuseDeadline is how long the admins have to answer an abuse report;
	// RemindBefore is how long before it they are reminded.
	AbuseDeadline, RemindBefore time.Duration
	// MaxPerDay is how many tickets a member may open in a day.
	MaxPerDay int
}

// Tracker follows each ticket from a member's first words to the admins' decision:
// it opens the private chat and the admin thread, relays between them, reminds of
// deadlines and closes.
type Tracker struct {
	Settings Settings
	Store    Store
	Matrix   Matrix
	// Private reports whether the member's chat holds nobody else; nothing is sent
	// to it otherwise. Nil means always.
	Private func(ctx context.Context, room id.RoomID, member id.UserID) bool
	// Once remembers what was said once (state.KV).
	Once interface {
		SetOnce(ctx context.Context, key, value string) (bool, error)
	}
	// Txn runs fn in one database transaction, so a ticket's record and the
	// messages it queues are stored together.
	Txn func(ctx context.Context, fn func(ctx context.Context) error) error
	Now func() time.Time
}

// ErrTooMany is a member who opened MaxPerDay tickets in the last day.
var ErrTooMany = errors.New("too many tickets today")

// TooManyMessage is what a member over the limit is told.
const TooManyMessage = "You have opened many tickets today; the admins know. Please wait for their answers."

// RedactReason goes with the removal of a member's words from the group room.
const RedactReason = "moved to a private ticket"

// Open files a request or report from member with its first words, the message
// eventID of room from: it opens a direct chat with the member (or uses from, when it
// is a chat the member started), tells them the ticket's ID there, and starts the
// ticket's thread in the admin room. quoted, when set, is the reported message, for
// the admins.
//
// Words typed in the group room are removed from there, in the transaction that
// opens the ticket, so a stop right after does not leave them up; the member's first
// message in the ticket's chat says so. When Steward lacks the power to remove them,
// it says so to the admins (once) and the member is told their words are still there.
func (d *Tracker) Open(ctx context.Context, member id.UserID, kind, category, text string, eventID id.EventID, quoted *Quoted, from id.RoomID) (*state.Ticket, error) {
	now := d.Now()
	n, err := d.Store.OpenedSince(ctx, member, now.Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	if d.Settings.MaxPerDay > 0 && n >= d.Settings.MaxPerDay {
		// The admins are told once a day per member, at the first refusal.
		key := "ticket_flood:" + member.String() + ":" + now.UTC().Format("2006-01-02")
		if first, err := d.Once.SetOnce(ctx, key, now.UTC().Format(time.RFC3339)); err == nil && first {
			_, _ = d.Matrix.Post(ctx, d.Settings.AdminRoom, 0, render.New("").Pill(member).
				Text(fmt.Sprintf(" opened %d tickets in a day; I am not opening more for now. Their open tickets are in ", n)).
				Code(d.Settings.Prefix+"tickets").Text("."))
		}
		return nil, ErrTooMany
	}
	t := &state.Ticket{Member: member, Kind: kind, Category: category, CreatedAt: now}
	if quoted != nil {
		t.TargetRoom, t.TargetEvent, t.TargetUser = quoted.Room, quoted.EventID, quoted.Sender
	}
	if kind == state.TicketReport && d.Settings.AbuseDeadline > 0 {
		t.Deadline = now.Add(d.Settings.AbuseDeadline)
	}
	room := from
	if from == "" || from == d.Settings.GroupRoom || from == d.Settings.AdminRoom {
		room = ""
	}
	inGroup := from != "" && from == d.Settings.GroupRoom && eventID != ""
	var cantRedact error
	if inGroup {
		// Read before the transaction: it asks the homeserver.
		cantRedact = d.Matrix.CanRedact(ctx)
	}
	if err = d.Store.Create(ctx, t); err != nil {
		return nil, err
	}
	if room == "" {
		if room, err = d.Matrix.OpenDirect(ctx, member, "Steward: ticket "+t.ID); err != nil {
			_, _ = d.Store.Close(ctx, t.ID, "", "the private chat could not be opened", d.Now())
			return nil, fmt.Errorf("open a direct chat with %s: %w", member, err)
		}
	}
	err = d.Txn(ctx, func(ctx context.Context) error {
		welcome := d.welcome(t)
		switch {
		case inGroup && cantRedact == nil:
			// Removed before the member reads that it is.
			if err := d.Matrix.QueueRedaction(ctx, eventID, RedactReason); err != nil {
				return err
			}
			welcome.Text(" Your message in the group room is removed from there, so only the admins have it.")
		case inGroup:
			welcome.Text(" Your message in the group room is still visible to everyone there (I can't remove it): you may delete it yourself.")
			if err := d.cantRedactNotice(ctx, cantRedact); err != nil {
				return err
			}
		}
		if _, err := d.Matrix.Post(ctx, room, 0, welcome); err != nil {
			return err
		}
		threadMsg, err := d.Matrix.Post(ctx, d.Settings.AdminRoom, 0, d.threadStart(t, text, quoted))
		if err != nil {
			return err
		}
		if err = d.Store.SetRoom(ctx, t.ID, room, threadMsg, now); err != nil {
			return err
		}
		t.DMRoom, t.ThreadMsg = room, threadMsg
		_, err = d.Store.AddMessage(ctx, &state.TicketMessage{TicketID: t.ID, Direction: state.TicketIn, Sender: member, EventID: eventID, Body: text, CreatedAt: now})
		return err
	})
	return t, err
}

// cantRedactNotice tells the admins, once per group room, that members' words to
// them stay up there for want of power.
func (d *Tracker) cantRedactNotice(ctx context.Context, why error) error {
	first, err := d.Once.SetOnce(ctx, "cant_redact:"+d.Settings.GroupRoom.String(), d.Now().UTC().Format(time.RFC3339))
	if err != nil || !first {
		return err
	}
	p := d.Settings.Prefix
	_, err = d.Matrix.Post(ctx, d.Settings.AdminRoom, 0, render.New("Members' ").Code(p+"report").Text(" and ").Code(p+"request").
		Text(" messages stay visible to everyone in the group room, the reported person included: "+why.Error()+
			". Until then I tell each member their message is still there; I say this here once."))
	return err
}

// welcome is the first message of the ticket's direct chat.
func (d *Tracker) welcome(t *state.Ticket) *render.Message {
	what := "request"
	if t.Kind == state.TicketReport {
		what = "report"
	}
	msg := render.New("This is ticket ").Bold(t.ID).Text(": the admins have your " + what + " and will answer here. " +
		"Anything you write in this chat reaches them; only they see it.")
	if !t.Deadline.IsZero() {
		msg.Text(" They answer reports within " + render.Duration(d.Settings.AbuseDeadline) + ".")
	}
	return msg
}

// Quoted is a reported message, as Steward fetched it.
type Quoted struct {
	Sender  id.UserID
	Room    id.RoomID
	EventID id.EventID
	At      time.Time
	Body    string
}

// threadStart is the admin-room message whose thread is the ticket's.
func (d *Tracker) threadStart(t *state.Ticket, text string, quoted *Quoted) *render.Message {
	title := "🙋 Request " + t.ID
	if t.Kind == state.TicketReport {
		title = "🚩 Abuse report " + t.ID
		if t.Category != "" {
			title += " (" + t.Category + ")"
		}
	}
	msg := render.New("").Bold(title).Text(" from ").Pill(t.Member).Text(":").Line().Quote(clip(text))
	if quoted != nil {
		msg.Text("The reported message, by ").Pill(quoted.Sender).Text(" in the group room at " + quoted.At.UTC().Format("2006-01-02 15:04 UTC") + ":").Line().Quote(clip(quoted.Body))
	}
	if !t.Deadline.IsZero() {
		msg.Text("Answer by " + render.Clock(t.Deadline, t.CreatedAt) + ". ")
	}
	p := d.Settings.Prefix
	return msg.Text("Reply in this thread to answer (the member sees it as Steward's); ").
		Code(p + "note TEXT").Text(" stays among admins; ").Code(p + "take " + t.ID).Text(" takes it; ").
		Code(p + "close " + t.ID + " DECISION").Text(" closes it.")
}

// FromMember carries a member's message from the ticket's direct chat into its thread.
// A message already carried (redelivered) is not carried again.
func (d *Tracker) FromMember(ctx context.Context, t *state.Ticket, eventID id.EventID, text string) error {
	return d.Txn(ctx, func(ctx context.Context) error {
		added, err := d.Store.AddMessage(ctx, &state.TicketMessage{TicketID: t.ID, Direction: state.TicketIn, Sender: t.Member, EventID: eventID, Body: text, CreatedAt: d.Now()})
		if err != nil || !added {
			return err
		}
		mentions := []id.UserID{}
		if t.Assignee != "" {
			mentions = append(mentions, t.Assignee)
		}
		_, err = d.Matrix.Post(ctx, d.Settings.AdminRoom, t.ThreadMsg, render.New("").Pill(t.Member).Text(":").Line().Quote(clip(text)), mentions...)
		return err
	})
}

// FromAdmin carries an admin's answer from the thread to the member, as Steward's, or
// signed with the admin's ID when signed is set.
func (d *Tracker) FromAdmin(ctx context.Context, t *state.Ticket, admin id.UserID, eventID id.EventID, text string, signed bool) error {
	if t.State != state.TicketOpen {
		return ErrClosed
	}
	return d.Txn(ctx, func(ctx context.Context) error {
		added, err := d.Store.AddMessage(ctx, &state.TicketMessage{TicketID: t.ID, Direction: state.TicketOut, Sender: admin, EventID: eventID, Body: text, CreatedAt: d.Now()})
		if err != nil || !added {
			return err
		}
		msg := render.New("").Bold("The admins:").Line().Quote(clip(text))
		if signed {
			msg = render.New("").Pill(admin).Text(" (an admin):").Line().Quote(clip(text))
		}
		return d.toMember(ctx, t, msg)
	})
}

// ErrNotPrivate is a member's chat that someone else has joined: nothing more is sent
// there.
var ErrNotPrivate = errors.New("the member's chat has other people in it")

// toMember queues msg for the ticket's member, if their chat is still private.
func (d *Tracker) toMember(ctx context.Context, t *state.Ticket, msg *render.Message) error {
	if d.Private != nil && !d.Private(ctx, t.DMRoom, t.Member) {
		return ErrNotPrivate
	}
	_, err := d.Matrix.Post(ctx, t.DMRoom, 0, msg)
	return err
}

// ErrClosed is a ticket that is closed already.
var ErrClosed = errors.New("the ticket is closed")

// Note records a note among admins on the ticket; nothing reaches the member.
func (d *Tracker) Note(ctx context.Context, t *state.Ticket, admin id.UserID, eventID id.EventID, text string) error {
	_, err := d.Store.AddMessage(ctx, &state.TicketMessage{TicketID: t.ID, Direction: state.TicketNote, Sender: admin, EventID: eventID, Body: text, CreatedAt: d.Now()})
	return err
}

// Tell tells the ticket's member, in plain words, what the admins did about it.
func (d *Tracker) Tell(ctx context.Context, t *state.Ticket, text string) error {
	return d.toMember(ctx, t, render.New("About ticket ").Bold(t.ID).Text(": "+text))
}

// Take makes admin the ticket's assignee, replacing any earlier one; ErrClosed when
// the ticket is no longer open.
func (d *Tracker) Take(ctx context.Context, t *state.Ticket, admin id.UserID) error {
	ok, err := d.Store.Assign(ctx, t.ID, admin, d.Now())
	if err != nil {
		return err
	}
	if !ok {
		return ErrClosed
	}
	t.Assignee = admin
	return nil
}

// Close closes the ticket with the admins' decision, and tells the member in plain
// words. A ticket is closed once.
func (d *Tracker) Close(ctx context.Context, t *state.Ticket, admin id.UserID, decision string) error {
	return d.Txn(ctx, func(ctx context.Context) error {
		ok, err := d.Store.Close(ctx, t.ID, admin, decision, d.Now())
		if err != nil {
			return err
		}
		if !ok {
			return ErrClosed
		}
		t.State, t.Decision, t.ClosedBy = state.TicketClosed, decision, admin
		err = d.toMember(ctx, t, render.New("Ticket ").Bold(t.ID).Text(" is closed. The admins' decision:").Line().Quote(decision).
			Text("Anything you write here later opens a new ticket."))
		if errors.Is(err, ErrNotPrivate) {
			return nil // closed all the same; the decision stays with the admins
		}
		return err
	})
}

// maxQuote bounds the text a relayed message carries, so the encrypted event stays
// far below the homeserver's 64 KiB limit (the whole text stays with the ticket).
const maxQuote = 8000

// clip shortens text to maxQuote characters, saying so.
func clip(text string) string {
	if r := []rune(text); len(r) > maxQuote {
		return string(r[:maxQuote]) + "… (cut; the whole text is kept with the ticket)"
	}
	return text
}

// CloseOrphans closes the tickets a stop left without a private chat or thread (it
// came between their record and their rooms): nobody could answer them. The command
// that opened one is reported as interrupted, so its member knows to ask again.
// Only tickets created before "before" (the start) count: one being opened now is
// not an orphan.
func (d *Tracker) CloseOrphans(ctx context.Context, before time.Time) (int, error) {
	open, err := d.Store.List(ctx, state.TicketFilter{State: state.TicketOpen})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range open {
		if (t.DMRoom != "" && t.ThreadMsg != 0) || !t.CreatedAt.Before(before) {
			continue
		}
		if _, err = d.Store.Close(ctx, t.ID, "", "never set up: Steward stopped while opening it", d.Now()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Remind looks at the open abuse reports' deadlines: a reminder in the ticket's thread
// when RemindBefore is left, and a call to every admin once the deadline has passed.
// Each is sent once, also across restarts (Ticket.Reminded).
func (d *Tracker) Remind(ctx context.Context) error {
	open, err := d.Store.List(ctx, state.TicketFilter{State: state.TicketOpen})
	if err != nil {
		return err
	}
	now := d.Now()
	for _, t := range open {
		if t.Deadline.IsZero() {
			continue
		}
		var msg *render.Message
		var mentions []id.UserID
		level := t.Reminded
		switch {
		case !now.Before(t.Deadline) && t.Reminded < 2:
			level = 2
			mentions = d.Settings.Admins
			msg = render.New("⏰ The deadline of abuse report " + t.ID + " has passed (" + render.Clock(t.Deadline, now) + "), and it is still open. ")
			for _, a := range mentions {
				msg.Pill(a).Text(" ")
			}
			msg.Text("— who takes it?")
		case !now.Before(t.Deadline.Add(-d.Settings.RemindBefore)) && t.Reminded < 1:
			level = 1
			if t.Assignee != "" {
				mentions = []id.UserID{t.Assignee}
			}
			msg = render.New("⏳ Abuse report " + t.ID + " is due at " + render.Clock(t.Deadline, now) + " (in " + render.Duration(t.Deadline.Sub(now)) + ").")
		default:
			continue
		}
		err := d.Txn(ctx, func(ctx context.Context) error {
			if err := d.Store.SetReminded(ctx, t.ID, level); err != nil {
				return err
			}
			_, err := d.Matrix.Post(ctx, d.Settings.AdminRoom, t.ThreadMsg, msg, mentions...)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
