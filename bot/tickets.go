package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
	"github.com/steward-bot/steward/tickets"
)

// ticketDesk is the tickets desk as commands and the inbox use it, with the lookups
// that need Steward's own records.
type ticketDesk struct {
	*tickets.Tracker
	db *state.DB
	b  *Bot
}

var _ commands.TicketDesk = ticketDesk{}

// newTickets builds the tickets desk from the config.
func (b *Bot) newTickets() ticketDesk {
	cfg := b.cfg.Tickets
	return ticketDesk{db: b.db, b: b, Tracker: &tickets.Tracker{
		Settings: tickets.Settings{
			AdminRoom: b.adminRoom, Admins: b.cfg.Matrix.Admins, Prefix: b.cfg.Matrix.CommandPrefix,
			AbuseDeadline: cfg.AbuseDeadline.D(), RemindBefore: cfg.RemindBefore.D(), MaxPerDay: cfg.MaxPerDay,
		},
		Store: b.db.Tickets, Matrix: ticketMatrix{b}, Once: b.db.KV, Txn: b.db.DoTxn, Now: time.Now, Private: b.isPrivate,
	}}
}

// Get returns the ticket with id.
func (t ticketDesk) Get(ctx context.Context, ticketID string) (*state.Ticket, error) {
	return t.db.Tickets.Get(ctx, ticketID)
}

// List lists tickets.
func (t ticketDesk) List(ctx context.Context, f state.TicketFilter) ([]*state.Ticket, error) {
	return t.db.Tickets.List(ctx, f)
}

// InRoom returns the open ticket of a member's private chat.
func (t ticketDesk) InRoom(ctx context.Context, room id.RoomID) (*state.Ticket, error) {
	return t.db.Tickets.OpenInRoom(ctx, room)
}

// ByThread returns the ticket whose thread in the admin room starts at root.
func (t ticketDesk) ByThread(ctx context.Context, root id.EventID) (*state.Ticket, error) {
	if root == "" {
		return nil, nil
	}
	msgID, err := t.db.Outbox.IDByEvent(ctx, root)
	if err != nil || msgID == 0 {
		return nil, err
	}
	return t.db.Tickets.ByThreadMsg(ctx, msgID)
}

// Answer carries an admin's answer to the ticket's member (answerMember).
func (t ticketDesk) Answer(ctx context.Context, tk *state.Ticket, admin id.UserID, eventID id.EventID, text string, signed bool) error {
	err := t.FromAdmin(ctx, tk, admin, eventID, text, signed)
	if why := whyNotSent(tk, err); why != "" {
		return commands.Usagef("%s", why)
	}
	return err
}

// Fetch fetches and decrypts a message of the group room that a report points at.
// Only the group room's messages can be fetched: a report can't make Steward read
// rooms it does not serve.
func (t ticketDesk) Fetch(ctx context.Context, room id.RoomID, eventID id.EventID) (*tickets.Quoted, error) {
	b := t.b
	if room != b.groupRoom {
		return nil, errors.New("not a message of the group room")
	}
	evt, err := b.client.GetEvent(ctx, room, eventID)
	if err != nil {
		return nil, err
	}
	if err = evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return nil, err
	}
	if evt.Type == event.EventEncrypted {
		encrypted := evt
		if evt, err = b.crypto.Decrypt(ctx, encrypted); err != nil {
			// Its room key may still be on its way (a member who just joined): wait
			// a little for it, as for a command.
			content := encrypted.Content.AsEncrypted()
			if !b.crypto.WaitForSession(ctx, room, content.SenderKey, content.SessionID, 10*time.Second) {
				return nil, err
			}
			if evt, err = b.crypto.Decrypt(ctx, encrypted); err != nil {
				return nil, err
			}
		}
	}
	content := evt.Content.AsMessage()
	content.RemoveReplyFallback()
	return &tickets.Quoted{Sender: evt.Sender, Room: room, EventID: evt.ID, At: time.UnixMilli(evt.Timestamp), Body: content.Body}, nil
}

// ticketMatrix opens members' private chats and queues tickets' messages.
type ticketMatrix struct{ b *Bot }

// OpenDirect creates an encrypted direct chat with member and invites them. Its
// state is loaded at once, so what Steward sends there is encrypted for the member.
func (m ticketMatrix) OpenDirect(ctx context.Context, member id.UserID, name string) (id.RoomID, error) {
	b := m.b
	// Only Steward may invite: the chat must stay between the member and the admins.
	onlySteward := 100
	resp, err := b.client.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat", IsDirect: true, Invite: []id.UserID{member}, Name: name,
		PowerLevelOverride: &event.PowerLevelsEventContent{
			Users: map[id.UserID]int{b.client.UserID: 100}, InvitePtr: &onlySteward,
		},
		InitialState: []*event.Event{{
			Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		return "", err
	}
	if err = b.db.KV.Set(ctx, joinedAtKey(resp.RoomID), strconv.FormatInt(time.Now().UnixMilli(), 10)); err != nil {
		return "", err
	}
	if _, err = b.client.State(ctx, resp.RoomID); err != nil {
		return "", err
	}
	return resp.RoomID, nil
}

// Post queues msg for roomID, inside the thread that queued message threadMsg starts
// when threadMsg > 0.
func (m ticketMatrix) Post(ctx context.Context, roomID id.RoomID, threadMsg int64, msg *render.Message, mentions ...id.UserID) (int64, error) {
	content := msg.Notice()
	content.Mentions = &event.Mentions{UserIDs: mentions}
	if threadMsg == 0 {
		return m.b.queue(ctx, roomID, content, "")
	}
	// The thread's root is filled in when this is sent (resolveRelation).
	content.RelatesTo = &event.RelatesTo{Type: event.RelThread, IsFallingBack: true, InReplyTo: &event.InReplyTo{}}
	return m.b.queueRelated(ctx, roomID, event.EventMessage, content, threadMsg)
}

// relayOf returns the inbox entry for a message to carry across for a ticket: any text
// from someone in a private chat with Steward, or a message in a thread of the admin
// room. Whether it belongs to a ticket is decided by the inbox worker, not in the sync
// loop.
func (b *Bot) relayOf(evt *event.Event, body string, threadRoot id.EventID) *state.InboxEntry {
	private := !b.isOurRoom(evt.RoomID)
	if !private && (evt.RoomID != b.adminRoom || threadRoot == "") {
		return nil
	}
	entry := inboxEntryOf(evt, body)
	entry.Kind, entry.ThreadRoot = state.InboxRelay, threadRoot
	return entry
}

// relay carries a recorded message across for its ticket and returns the outcome for
// the inbox.
func (b *Bot) relay(ctx context.Context, entry *state.InboxEntry) string {
	log := zerolog.Ctx(ctx).With().Stringer("room_id", entry.RoomID).Stringer("event_id", entry.EventID).Logger()
	desk := b.tickets
	if !entry.Encrypted {
		return state.OutcomeRefused // ticket contents stay in encrypted rooms
	}
	var err error
	switch {
	case entry.RoomID == b.adminRoom:
		var t *state.Ticket
		if t, err = desk.ByThread(ctx, entry.ThreadRoot); err != nil || t == nil {
			break // a thread that is not a ticket's
		}
		if b.proc.RoleOf(ctx, entry.Sender) != commands.RoleAdmin {
			return state.OutcomeRefused
		}
		if b.cfg.Matrix.VerifiedDevicesRequired() && entry.Trust < id.TrustStateCrossSignedTOFU {
			// What reaches a member in the admins' name comes from a verified device.
			err = b.Reply(ctx, entry.RoomID, entry.EventID, entry.ThreadRoot, render.New("This did not reach the member: answers to tickets must come from a device you have verified."))
			break
		}
		err = desk.FromAdmin(ctx, t, entry.Sender, entry.EventID, entry.Body, b.cfg.Tickets.SignReplies)
		if why := whyNotSent(t, err); why != "" {
			err = b.Reply(ctx, entry.RoomID, entry.EventID, entry.ThreadRoot, render.New(why))
		}
	default:
		var t *state.Ticket
		if t, err = desk.InRoom(ctx, entry.RoomID); err != nil {
			break
		}
		switch {
		case t != nil && t.Member == entry.Sender:
			err = desk.FromMember(ctx, t, entry.EventID, entry.Body)
		case t == nil && b.proc.RoleOf(ctx, entry.Sender) >= commands.RoleMember && !b.isPrivate(ctx, entry.RoomID, entry.Sender):
			err = b.Reply(ctx, entry.RoomID, entry.EventID, "", render.New("I only take requests in a private chat with one member. Start a direct chat with me, or send "+
				b.cfg.Matrix.CommandPrefix+"request in the group room."))
		case t == nil && b.proc.RoleOf(ctx, entry.Sender) >= commands.RoleMember:
			// A chat the member started, or one whose ticket was closed: a new ticket.
			_, err = desk.Open(ctx, entry.Sender, state.TicketRequest, "", entry.Body, entry.EventID, nil, entry.RoomID)
			if errors.Is(err, tickets.ErrTooMany) {
				err = b.Reply(ctx, entry.RoomID, entry.EventID, "", render.New(tickets.TooManyMessage))
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

// whyNotSent says, for the admins, why an answer did not reach the member; "" when
// err is no such reason.
func whyNotSent(t *state.Ticket, err error) string {
	switch {
	case errors.Is(err, tickets.ErrNotPrivate):
		return "Ticket " + t.ID + "'s chat has other people in it now, so this did not go there. Answer the member in a new private chat."
	case errors.Is(err, tickets.ErrClosed):
		return "Ticket " + t.ID + " is closed, so this did not reach the member."
	}
	return ""
}

// isPrivate reports whether room holds nobody but member and Steward (joined or
// invited): answers meant for the member must not reach anyone else.
func (b *Bot) isPrivate(ctx context.Context, room id.RoomID, member id.UserID) bool {
	members, err := b.client.StateStore.GetRoomJoinedOrInvitedMembers(ctx, room)
	if err != nil || !slices.Contains(members, member) {
		return false // the member left: nobody to tell
	}
	for _, m := range members {
		if m != member && m != b.client.UserID {
			return false
		}
	}
	return true
}

// isPrivateInvite reports whether evt invites Steward to a direct chat from a member
// of the group: such a chat becomes a ticket.
func (b *Bot) isPrivateInvite(ctx context.Context, evt *event.Event) bool {
	return evt.Content.AsMember().IsDirect && b.proc.RoleOf(ctx, evt.Sender) >= commands.RoleMember
}

// remindTickets sends the reminders of abuse reports' deadlines every 15 seconds (a
// query on an index; reminders come at most that late), and removes the text of
// tickets closed longer than tickets.retention every hour.
func (b *Bot) remindTickets(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	if n, err := b.tickets.CloseOrphans(ctx, b.startedAt); err != nil {
		log.Err(err).Msg("Failed to close tickets a stop left unset")
	} else if n > 0 {
		log.Warn().Int("tickets", n).Msg("Closed tickets a stop left without their rooms")
	}
	var scrubbed time.Time
	for sleep(ctx, 15*time.Second, nil) {
		if err := b.tickets.Remind(ctx); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to remind of tickets' deadlines")
		}
		// Retention is counted in days: once an hour is plenty.
		if time.Since(scrubbed) < time.Hour {
			continue
		}
		scrubbed = time.Now()
		if n, err := b.db.Tickets.Scrub(ctx, time.Now().Add(-b.cfg.Tickets.Retention.D())); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Failed to remove the text of old tickets")
		} else if n > 0 {
			log.Info().Int64("messages", n).Msg("Removed the text of closed tickets past their retention")
		}
	}
}

var _ commands.Moderator = (*Bot)(nil)

// CanModerate says why Steward can't kick or ban in the group room, reading its power
// levels fresh from the homeserver; nil when it can.
func (b *Bot) CanModerate(ctx context.Context, action string) error {
	var pl event.PowerLevelsEventContent
	if err := b.client.StateEvent(ctx, b.groupRoom, event.StatePowerLevels, "", &pl); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to read the group room's power levels")
		return errors.New("I can't read the group room's power levels right now; try again in a moment")
	}
	need := pl.Ban()
	switch action {
	case commands.ActionKick:
		need = pl.Kick()
	case commands.ActionRedact:
		need = pl.Redact()
	}
	if have := pl.GetUserLevel(b.client.UserID); have < need {
		return fmt.Errorf("I can't %s in the group room: that takes power level %d, and I have %d. A room admin can raise mine", action, need, have)
	}
	return nil
}

// Moderate kicks or bans user from the group room.
func (b *Bot) Moderate(ctx context.Context, action string, user id.UserID, reason string) error {
	var err error
	if action == commands.ActionKick {
		_, err = b.client.KickUser(ctx, b.groupRoom, &mautrix.ReqKickUser{UserID: user, Reason: reason})
	} else {
		_, err = b.client.BanUser(ctx, b.groupRoom, &mautrix.ReqBanUser{UserID: user, Reason: reason})
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, user, err)
	}
	return nil
}

// Redact removes a message of the group room.
func (b *Bot) Redact(ctx context.Context, eventID id.EventID, reason string) error {
	if _, err := b.client.RedactEvent(ctx, b.groupRoom, eventID, mautrix.ReqRedact{Reason: reason}); err != nil {
		return fmt.Errorf("redact %s: %w", eventID, err)
	}
	return nil
}

// Warn sends user a warning from the admins in a new private chat.
func (b *Bot) Warn(ctx context.Context, user id.UserID, text string) error {
	room, err := ticketMatrix{b}.OpenDirect(ctx, user, "Steward: a message from the admins")
	if err != nil {
		return fmt.Errorf("open a private chat with %s: %w", user, err)
	}
	msg := render.New("").Bold("A warning from the admins of the group:").Line().Quote(text)
	return b.Send(ctx, room, msg.Notice())
}
