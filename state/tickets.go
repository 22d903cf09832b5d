package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// The kinds and states of a ticket.
const (
	TicketRequest = "request"
	TicketReport  = "report"
	TicketOpen    = "open"
	TicketClosed  = "closed"
)

// The directions of a ticket message.
const (
	TicketIn   = "in"   // from the member
	TicketOut  = "out"  // from an admin, relayed to the member
	TicketNote = "note" // among admins only
)

// Ticket is a member's request for help or abuse report.
type Ticket struct {
	// ID is short, for people to type.
	ID       string
	Member   id.UserID
	Kind     string
	Category string
	State    string
	// DMRoom is the direct chat with the member.
	DMRoom id.RoomID
	// ThreadMsg is the outbox ID of the message that starts the ticket's thread in
	// the admin room.
	ThreadMsg int64
	Assignee  id.UserID
	Decision  string
	ClosedBy  id.UserID
	// Deadline is when an abuse report must be answered; zero for requests.
	Deadline time.Time
	// Reminded counts the reminders sent about the deadline.
	Reminded int
	// TargetRoom, TargetEvent and TargetUser are the message a report points at,
	// and who sent it.
	TargetRoom  id.RoomID
	TargetEvent id.EventID
	TargetUser  id.UserID
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time
}

// TicketMessage is one message of a ticket.
type TicketMessage struct {
	ID        int64
	TicketID  string
	Direction string
	Sender    id.UserID
	EventID   id.EventID
	Body      string
	CreatedAt time.Time
}

// Tickets keeps the tickets and their messages.
type Tickets struct {
	db *dbutil.Database
}

const ticketColumns = `id, member, kind, category, state, dm_room, thread_msg, assignee, decision, closed_by,
	deadline, reminded, created_at, updated_at, closed_at, target_room, target_event, target_user`

func scanTicket(row dbutil.Scannable) (*Ticket, error) {
	var t Ticket
	var deadline, created, updated, closed int64
	err := row.Scan(&t.ID, &t.Member, &t.Kind, &t.Category, &t.State, &t.DMRoom, &t.ThreadMsg, &t.Assignee, &t.Decision,
		&t.ClosedBy, &deadline, &t.Reminded, &created, &updated, &closed, &t.TargetRoom, &t.TargetEvent, &t.TargetUser)
	t.Deadline, t.CreatedAt, t.UpdatedAt, t.ClosedAt = fromMS(deadline), fromMS(created), fromMS(updated), fromMS(closed)
	return &t, err
}

// ErrNoFreeTicketID means no unused ticket ID was found; it does not happen in practice.
var ErrNoFreeTicketID = errors.New("no free ticket ID")

// Create stores a new open ticket and sets t.ID to a fresh short ID.
func (tk *Tickets) Create(ctx context.Context, t *Ticket) error {
	t.State = TicketOpen
	err := insertShortID(&t.ID, ErrNoFreeTicketID, func() (sql.Result, error) {
		res, err := tk.db.Exec(ctx, `INSERT INTO ticket (`+ticketColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, '', '', '', $8, 0, $9, $9, 0, $10, $11, $12) ON CONFLICT (id) DO NOTHING`,
			t.ID, t.Member, t.Kind, t.Category, t.State, t.DMRoom, t.ThreadMsg, ms(t.Deadline), ms(t.CreatedAt),
			t.TargetRoom, t.TargetEvent, t.TargetUser)
		if err != nil {
			return nil, fmt.Errorf("store ticket: %w", err)
		}
		return res, nil
	})
	if err == nil {
		t.UpdatedAt = t.CreatedAt
	}
	return err
}

func (tk *Tickets) one(ctx context.Context, where string, args ...any) (*Ticket, error) {
	t, err := scanTicket(tk.db.QueryRow(ctx, "SELECT "+ticketColumns+" FROM ticket WHERE "+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return t, err
}

// Get returns the ticket with id, nil when there is none.
func (tk *Tickets) Get(ctx context.Context, ticketID string) (*Ticket, error) {
	return tk.one(ctx, "id=$1", ticketID)
}

// OpenInRoom returns the open ticket of the direct chat room, nil when there is none.
func (tk *Tickets) OpenInRoom(ctx context.Context, room id.RoomID) (*Ticket, error) {
	return tk.one(ctx, "dm_room=$1 AND state='open' ORDER BY created_at DESC LIMIT 1", room)
}

// ByThreadMsg returns the ticket whose admin-room thread starts with outbox message
// msgID, nil when there is none.
func (tk *Tickets) ByThreadMsg(ctx context.Context, msgID int64) (*Ticket, error) {
	return tk.one(ctx, "thread_msg=$1", msgID)
}

// TicketFilter narrows List.
type TicketFilter struct {
	// State is open, closed, or empty for both.
	State    string
	Member   id.UserID
	Assignee id.UserID
	Limit    int
}

// List returns the tickets that match f, oldest first.
func (tk *Tickets) List(ctx context.Context, f TicketFilter) ([]*Ticket, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := tk.db.Query(ctx, "SELECT "+ticketColumns+` FROM ticket
		WHERE ($1='' OR state=$1) AND ($2='' OR member=$2) AND ($3='' OR assignee=$3)
		ORDER BY created_at, id LIMIT $4`, f.State, f.Member, f.Assignee, limit)
	return dbutil.NewRowIterWithError(rows, scanTicket, err).AsList()
}

// SetRoom records the ticket's direct chat and admin-room thread.
func (tk *Tickets) SetRoom(ctx context.Context, ticketID string, dmRoom id.RoomID, threadMsg int64, at time.Time) error {
	_, err := tk.db.Exec(ctx, "UPDATE ticket SET dm_room=$1, thread_msg=$2, updated_at=$3 WHERE id=$4", dmRoom, threadMsg, at.UnixMilli(), ticketID)
	return err
}

// Assign makes admin the ticket's assignee; it reports false when the ticket is not
// open.
func (tk *Tickets) Assign(ctx context.Context, ticketID string, admin id.UserID, at time.Time) (bool, error) {
	res, err := tk.db.Exec(ctx, "UPDATE ticket SET assignee=$1, updated_at=$2 WHERE id=$3 AND state='open'", admin, at.UnixMilli(), ticketID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Close closes an open ticket with a decision; it reports false when the ticket was
// not open (closed already), so a decision is recorded once.
func (tk *Tickets) Close(ctx context.Context, ticketID string, by id.UserID, decision string, at time.Time) (bool, error) {
	res, err := tk.db.Exec(ctx, `UPDATE ticket SET state='closed', closed_by=$1, decision=$2, closed_at=$3, updated_at=$3
		WHERE id=$4 AND state='open'`, by, decision, at.UnixMilli(), ticketID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetReminded records that n reminders about the ticket's deadline were sent.
func (tk *Tickets) SetReminded(ctx context.Context, ticketID string, n int) error {
	_, err := tk.db.Exec(ctx, "UPDATE ticket SET reminded=$1 WHERE id=$2", n, ticketID)
	return err
}

// AddMessage records a message of a ticket; it reports false when the event was
// recorded before (a redelivered event).
func (tk *Tickets) AddMessage(ctx context.Context, m *TicketMessage) (bool, error) {
	res, err := tk.db.Exec(ctx, `INSERT INTO ticket_message (ticket_id, direction, sender, event_id, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`,
		m.TicketID, m.Direction, m.Sender, m.EventID, m.Body, m.CreatedAt.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("record ticket message: %w", err)
	}
	n, err := res.RowsAffected()
	if err == nil && n == 1 {
		_, err = tk.db.Exec(ctx, "UPDATE ticket SET updated_at=$1 WHERE id=$2", m.CreatedAt.UnixMilli(), m.TicketID)
	}
	return n == 1, err
}

// Messages returns a ticket's messages in order.
func (tk *Tickets) Messages(ctx context.Context, ticketID string) ([]*TicketMessage, error) {
	rows, err := tk.db.Query(ctx, `SELECT id, ticket_id, direction, sender, event_id, body, created_at
		FROM ticket_message WHERE ticket_id=$1 ORDER BY id`, ticketID)
	return dbutil.NewRowIterWithError(rows, func(row dbutil.Scannable) (*TicketMessage, error) {
		var m TicketMessage
		var created int64
		err := row.Scan(&m.ID, &m.TicketID, &m.Direction, &m.Sender, &m.EventID, &m.Body, &created)
		m.CreatedAt = time.UnixMilli(created)
		return &m, err
	}, err).AsList()
}

// OpenedSince counts the tickets member opened since t, for the rate limit.
func (tk *Tickets) OpenedSince(ctx context.Context, member id.UserID, t time.Time) (int, error) {
	var n int
	err := tk.db.QueryRow(ctx, "SELECT COUNT(*) FROM ticket WHERE member=$1 AND created_at>=$2", member, t.UnixMilli()).Scan(&n)
	return n, err
}

// Scrub removes the text of the messages of tickets closed before t, keeping the
// tickets and their decisions; it returns how many messages lost their text. The
// copies Steward sent (its outbox: the thread's messages, the member's chat) lose
// their content too, once sent.
func (tk *Tickets) Scrub(ctx context.Context, before time.Time) (int64, error) {
	res, err := tk.db.Exec(ctx, `UPDATE ticket_message SET body='' WHERE body<>'' AND ticket_id IN
		(SELECT id FROM ticket WHERE state='closed' AND closed_at<$1)`, before.UnixMilli())
	if err != nil {
		return 0, err
	}
	_, err = tk.db.Exec(ctx, `UPDATE outbox SET content='{}' WHERE state='sent' AND content<>'{}' AND (
			room_id IN (SELECT dm_room FROM ticket WHERE state='closed' AND closed_at<$1)
			OR id IN (SELECT thread_msg FROM ticket WHERE state='closed' AND closed_at<$1)
			OR relates_to_msg IN (SELECT thread_msg FROM ticket WHERE state='closed' AND closed_at<$1 AND thread_msg<>0))`,
		before.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
