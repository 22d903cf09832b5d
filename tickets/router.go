package tickets

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// Router carries the messages the inbox recorded for tickets (state.InboxRelay): a
// member's words in their private chat to the ticket's thread in the admin room, and
// an admin's answer in that thread back to the member.
type Router struct {
	Tracker *Tracker
	// Lookup finds the tickets of a chat or a thread (state.Tickets).
	Lookup interface {
		OpenInRoom(ctx context.Context, room id.RoomID) (*state.Ticket, error)
		ByThreadMsg(ctx context.Context, msgID int64) (*state.Ticket, error)
	}
	// ThreadMessage returns the outbox ID of Steward's message root (0 when Steward did
	// not send it): a ticket's thread is known by the message that starts it.
	ThreadMessage func(ctx context.Context, root id.EventID) (int64, error)
	// Replier answers a message (the transport's outbox).
	Replier interface {
		Reply(ctx context.Context, roomID id.RoomID, replyTo, threadRoot id.EventID, msg *render.Message) error
	}
	// IsAdmin and IsMember tell the sender's role in the group; an admin is a
	// member too.
	IsAdmin, IsMember func(ctx context.Context, user id.UserID) bool
	// IsPrivateChat reports whether room holds nobody but member and Steward.
	IsPrivateChat func(ctx context.Context, room id.RoomID, member id.UserID) bool
	// VerifiedRequired asks that answers reaching a member come from a verified
	// device; SignReplies that they carry the admin's name.
	VerifiedRequired, SignReplies bool
	// Limiter paces what members say in their private chats, per member
	// (rate_limit.message_burst, messages_per_minute); nil lets everything through.
	Limiter Limiter

	// told is when each member over the limit was last told so.
	toldMu sync.Mutex
	told   map[id.UserID]time.Time
}

// Limiter gives each member a bucket of messages (commands.Limiter).
type Limiter interface {
	// Allow takes one of sender's tokens and reports whether there was one.
	Allow(sender id.UserID) bool
	// FirstRefusal reports whether this refusal is the first since sender was last
	// allowed, and marks it.
	FirstRefusal(sender id.UserID) bool
}

// TooFastMessage is what a member writing faster than the limit is told, at most once
// a minute (tooFastEvery), in answer to the first message that was not passed on.
const TooFastMessage = "You're sending messages faster than I can pass them on, so this one did not reach the admins, " +
	"and some of what you send in the next minute won't either. Wait a minute, then send again what they should read."

// tooFastEvery is how often at most a member over the limit, and the admins about
// them, are told: a member who keeps flooding gets a message through each time a
// token comes back, which ends the limiter's episode, and would be told every time.
const tooFastEvery = time.Minute

// InRoom returns the open ticket of a member's private chat, nil when it has none
// (a closed ticket's chat no longer counts).
func (r *Router) InRoom(ctx context.Context, room id.RoomID) (*state.Ticket, error) {
	return r.Lookup.OpenInRoom(ctx, room)
}

// ByThread returns the ticket whose thread in the admin room starts at root.
func (r *Router) ByThread(ctx context.Context, root id.EventID) (*state.Ticket, error) {
	if root == "" {
		return nil, nil
	}
	msgID, err := r.ThreadMessage(ctx, root)
	if err != nil || msgID == 0 {
		return nil, err
	}
	return r.Lookup.ByThreadMsg(ctx, msgID)
}

// Relay carries a recorded message across for its ticket and returns the outcome for
// the inbox.
func (r *Router) Relay(ctx context.Context, entry *state.InboxEntry) string {
	log := zerolog.Ctx(ctx).With().Stringer("room_id", entry.RoomID).Stringer("event_id", entry.EventID).Logger()
	tracker := r.Tracker
	if !entry.Encrypted {
		return state.OutcomeRefused // ticket contents stay in encrypted rooms
	}
	var err error
	switch {
	case entry.RoomID == tracker.Settings.AdminRoom:
		var t *state.Ticket
		if t, err = r.ByThread(ctx, entry.ThreadRoot); err != nil || t == nil {
			break // a thread that is not a ticket's
		}
		if !r.IsAdmin(ctx, entry.Sender) {
			return state.OutcomeRefused
		}
		if r.VerifiedRequired && entry.Trust < id.TrustStateCrossSignedTOFU {
			// What reaches a member in the admins' name comes from a verified device.
			err = r.Replier.Reply(ctx, entry.RoomID, entry.EventID, entry.ThreadRoot, render.New("This did not reach the member: answers to tickets must come from a device you have verified."))
			break
		}
		err = tracker.FromAdmin(ctx, t, entry.Sender, entry.EventID, entry.Body, r.SignReplies)
		if why := WhyNotSent(t, err); why != "" {
			err = r.Replier.Reply(ctx, entry.RoomID, entry.EventID, entry.ThreadRoot, render.New(why))
		}
	default:
		var t *state.Ticket
		if t, err = r.InRoom(ctx, entry.RoomID); err != nil {
			break
		}
		if r.Limiter != nil && !r.Limiter.Allow(entry.Sender) {
			// Refused, not held: a flood kept for later would reach the admins for
			// hours. The member is told once which message was the first not
			// passed on, and the admins once in the ticket's thread that some
			// were not.
			if r.Limiter.FirstRefusal(entry.Sender) && (r.IsMember(ctx, entry.Sender) || (t != nil && t.Member == entry.Sender)) && r.mayTell(entry.Sender) {
				err = r.tooFast(ctx, entry, t)
			}
			if err != nil {
				log.Err(err).Msg("Failed to tell a member they are sending too fast")
			}
			return state.OutcomeRateLimited
		}
		switch {
		case t != nil && t.Member == entry.Sender:
			err = tracker.FromMember(ctx, t, entry.EventID, entry.Body)
		case t == nil && r.IsMember(ctx, entry.Sender) && !r.IsPrivateChat(ctx, entry.RoomID, entry.Sender):
			err = r.Replier.Reply(ctx, entry.RoomID, entry.EventID, "", render.New("I only take requests in a private chat with one member. Start a direct chat with me, or send "+
				tracker.Settings.Prefix+"request in the group room."))
		case t == nil && r.IsMember(ctx, entry.Sender):
			// A chat the member started, or one whose ticket was closed: a new ticket.
			_, err = tracker.Open(ctx, entry.Sender, state.TicketRequest, "", entry.Body, entry.EventID, nil, entry.RoomID)
			if errors.Is(err, ErrTooMany) {
				err = r.Replier.Reply(ctx, entry.RoomID, entry.EventID, "", render.New(TooManyMessage))
			}
		default:
			return state.OutcomeIgnored
		}
	}
	if err != nil {
		log.Err(err).Msg("Failed to carry a ticket message across")
		return state.OutcomeError
	}
	return state.OutcomeOK
}

// mayTell reports whether member may be told now that they are over the limit (not in
// the last tooFastEvery), and marks it.
func (r *Router) mayTell(member id.UserID) bool {
	r.toldMu.Lock()
	defer r.toldMu.Unlock()
	now := r.Tracker.Now()
	if last, ok := r.told[member]; ok && now.Sub(last) < tooFastEvery {
		return false
	}
	if r.told == nil {
		r.told = make(map[id.UserID]time.Time)
	}
	r.told[member] = now
	return true
}

// tooFast tells a member over the limit, and the admins when there is a ticket, that
// messages are not passed on; one transaction, so a crash tells both or neither.
func (r *Router) tooFast(ctx context.Context, entry *state.InboxEntry, t *state.Ticket) error {
	return r.Tracker.Txn(ctx, func(ctx context.Context) error {
		if err := r.Replier.Reply(ctx, entry.RoomID, entry.EventID, "", render.New(TooFastMessage)); err != nil {
			return err
		}
		if t == nil || t.Member != entry.Sender {
			return nil
		}
		_, err := r.Tracker.Matrix.Post(ctx, r.Tracker.Settings.AdminRoom, t.ThreadMsg, render.New("").Pill(t.Member).
			Text(" is sending messages faster than I pass them on, so some of what they send does not reach this thread. They were told to send it again."))
		return err
	})
}

// WhyNotSent says, for the admins, why an answer did not reach the member; "" when
// err is no such reason.
func WhyNotSent(t *state.Ticket, err error) string {
	switch {
	case errors.Is(err, ErrNotPrivate):
		return "Ticket " + t.ID + "'s chat has other people in it now, so this did not go there. Answer the member in a new private chat."
	case errors.Is(err, ErrClosed):
		return "Ticket " + t.ID + " is closed, so this did not reach the member."
	}
	return ""
}

// Reminders is the service that sends the reminders of abuse reports' deadlines and
// removes the text of tickets closed longer than the retention.
type Reminders struct {
	Tracker *Tracker
	// Scrub removes the text of tickets closed before a time (state.Tickets).
	Scrub     func(ctx context.Context, closedBefore time.Time) (int64, error)
	Retention time.Duration
	// StartedAt is when this process started: a ticket it finds without its rooms
	// was left so by a stop before.
	StartedAt time.Time
}

// Run reminds every 15 seconds (a query on an index; reminders come at most that
// late), and scrubs every hour.
func (r *Reminders) Run(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	if n, err := r.Tracker.CloseOrphans(ctx, r.StartedAt); err != nil {
		log.Err(err).Msg("Failed to close tickets a stop left unset")
	} else if n > 0 {
		log.Warn().Int("tickets", n).Msg("Closed tickets a stop left without their rooms")
	}
	var scrubbed time.Time
	for service.Sleep(ctx, 15*time.Second, nil) {
		if err := r.Tracker.Remind(ctx); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to remind of tickets' deadlines")
		}
		// Retention is counted in days: once an hour is plenty.
		if time.Since(scrubbed) < time.Hour {
			continue
		}
		scrubbed = time.Now()
		if n, err := r.Scrub(ctx, time.Now().Add(-r.Retention)); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to remove the text of old tickets")
		} else if n > 0 {
			log.Info().Int64("messages", n).Msg("Removed the text of closed tickets past their retention")
		}
	}
}
