package bot

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// IsJoined reports whether userID is joined to roomID, from the synced room state.
func (b *Bot) IsJoined(ctx context.Context, roomID id.RoomID, userID id.UserID) bool {
	return b.client.StateStore.IsMembership(ctx, roomID, userID, event.MembershipJoin)
}

// IsEncrypted reports whether roomID has encryption turned on, from the room state
// Steward has synced; a clear-text message in such a room is refused.
func (b *Bot) IsEncrypted(ctx context.Context, roomID id.RoomID) (bool, error) {
	return b.client.StateStore.IsEncrypted(ctx, roomID)
}

// isOurRoom reports whether roomID is one Steward serves.
func (b *Bot) isOurRoom(roomID id.RoomID) bool {
	return roomID == b.adminRoom || roomID == b.groupRoom
}

func joinedAtKey(roomID id.RoomID) string { return "joined_at:" + string(roomID) }

// invitedKey remembers who invited Steward to a member's private chat, and when.
func invitedKey(roomID id.RoomID) string { return "invited:" + string(roomID) }

// rememberInvite records evt, an invite to a member's private chat, before Steward
// joins: what the member wrote after inviting Steward and before it joined is theirs
// to be answered (Element's first message creates the room, and comes with the
// invite), not history. Dendrite v0.15.2 puts the invite event itself, with its
// origin_server_ts, in the invite's state, and sends the messages before the join in
// the timeline of the first sync after it (seen running here). Without the invite's
// time (a homeserver that strips it from the invite's state), nothing before the join
// counts, as in other rooms: an earlier invite to the same room, maybe from someone
// else, is forgotten.
func (b *Bot) rememberInvite(ctx context.Context, evt *event.Event) error {
	if evt.Timestamp <= 0 {
		return b.db.KV.Set(ctx, invitedKey(evt.RoomID), "")
	}
	return b.db.KV.Set(ctx, invitedKey(evt.RoomID), strconv.FormatInt(evt.Timestamp, 10)+" "+evt.Sender.String())
}

// onMember accepts invites from configured admins to the configured rooms and rejects
// every other invite, so nobody can pull Steward into a room and talk to it there.
func (b *Bot) onMember(ctx context.Context, evt *event.Event) {
	if evt.GetStateKey() != b.client.UserID.String() || evt.Mautrix.EventSource&event.SourceInvite == 0 {
		return
	}
	if evt.Content.AsMember().Membership != event.MembershipInvite {
		return
	}
	log := zerolog.Ctx(ctx).With().Stringer("room_id", evt.RoomID).Stringer("inviter", evt.Sender).Logger()
	entry := &state.AuditEntry{Actor: evt.Sender, RoomID: evt.RoomID, EventID: evt.ID, Action: "invite"}
	isAdmin := slices.Contains(b.cfg.Matrix.Admins, evt.Sender)
	switch {
	case !b.isOurRoom(evt.RoomID) && b.isPrivateInvite(ctx, evt):
		// A member starts a private chat with Steward: it becomes a ticket with their
		// first message, which may have come before Steward joined.
		greeting := "Hello! Write what you need, or what you want to report, and the admins will answer here. Only they see it."
		if b.invites != nil && !b.invites.Allow(evt.Sender) {
			if !b.invites.FirstRefusal(evt.Sender) {
				// Declined: each chat taken is a join and a greeting. The member
				// was told in the first chat over the limit, which is taken.
				entry.Outcome, entry.Detail = state.OutcomeRateLimited, "too many private chats at once"
				reason := "You're opening chats with me faster than I take them. Wait a minute, then start one again."
				if _, err := b.client.LeaveRoom(ctx, evt.RoomID, &mautrix.ReqLeave{Reason: reason}); err != nil {
					log.Err(err).Msg("Failed to decline a private chat")
				}
				log.Warn().Msg("Declined a member's private chat: too many at once")
				break
			}
			// Dendrite drops a leave's reason, so the member is told here, in a chat
			// that works like any other.
			greeting = "You're opening chats with me faster than I take them, so I am not joining the ones you open in the next minute. " +
				"Write here what you need, and the admins will answer here. Only they see it."
		}
		err := b.rememberInvite(ctx, evt)
		if err == nil {
			err = b.join(ctx, evt.RoomID)
		}
		if err != nil {
			log.Err(err).Msg("Failed to join a member's private chat")
			entry.Outcome, entry.Detail = state.OutcomeError, err.Error()
		} else if encrypted, _ := b.IsEncrypted(ctx, evt.RoomID); !encrypted || !b.IsPrivateChat(ctx, evt.RoomID, evt.Sender) {
			// Answers meant for the member must not reach anyone else, nor the
			// server in clear text.
			entry.Outcome, entry.Detail = state.OutcomeRefused, "a direct chat that is not encrypted, or has other people in it"
			reason := "Steward only takes encrypted private chats with one member: turn on encryption when you start the chat."
			if _, err = b.client.LeaveRoom(ctx, evt.RoomID, &mautrix.ReqLeave{Reason: reason}); err != nil {
				log.Err(err).Msg("Failed to leave a chat that is not private")
			}
		} else {
			log.Info().Msg("Joined a member's private chat")
			entry.Outcome, entry.Detail = state.OutcomeOK, "a member's private chat"
			if err = b.outbox.Send(ctx, evt.RoomID, render.New(greeting).Notice()); err != nil {
				log.Err(err).Msg("Failed to greet a member")
			}
		}
	case isAdmin && b.isOurRoom(evt.RoomID):
		if err := b.join(ctx, evt.RoomID); err != nil {
			log.Err(err).Msg("Failed to join room")
			entry.Outcome, entry.Detail = state.OutcomeError, err.Error()
		} else {
			log.Info().Msg("Joined room on an admin's invite")
			entry.Outcome = state.OutcomeOK
		}
	default:
		reason := "Steward only joins its configured rooms, when a configured admin invites it."
		entry.Outcome, entry.Detail = state.OutcomeRefused, "not an admin or not a configured room"
		if _, err := b.client.LeaveRoom(ctx, evt.RoomID, &mautrix.ReqLeave{Reason: reason}); err != nil {
			log.Err(err).Msg("Failed to reject invite")
		}
		log.Warn().Bool("inviter_is_admin", isAdmin).Msg("Rejected invite")
	}
	if _, err := b.db.Audit.Append(ctx, entry); err != nil {
		log.Err(err).Msg("Failed to write audit entry")
	}
}

// join joins roomID and loads its state before anything is sent there, so the state
// store knows the room is encrypted (replies would otherwise go out in clear text).
func (b *Bot) join(ctx context.Context, roomID id.RoomID) error {
	if err := b.db.KV.Set(ctx, joinedAtKey(roomID), strconv.FormatInt(time.Now().UnixMilli(), 10)); err != nil {
		return err
	}
	if _, err := b.client.JoinRoomByID(ctx, roomID); err != nil {
		return err
	}
	_, err := b.client.State(ctx, roomID)
	return err
}

// joinedAfter reports whether Steward joined evt's room after evt was sent, that is,
// whether evt is history. In a member's private chat, what the member who invited
// Steward wrote after the invite is not: it was written to Steward.
func (b *Bot) joinedAfter(ctx context.Context, evt *event.Event) bool {
	raw, err := b.db.KV.Get(ctx, joinedAtKey(evt.RoomID))
	if err != nil || raw == "" {
		return false
	}
	joinedAt, _ := strconv.ParseInt(raw, 10, 64)
	if evt.Timestamp >= joinedAt {
		return false
	}
	if b.isOurRoom(evt.RoomID) {
		return true
	}
	invite, err := b.db.KV.Get(ctx, invitedKey(evt.RoomID))
	if err != nil || invite == "" {
		return true
	}
	at, inviter, _ := strings.Cut(invite, " ")
	invitedAt, _ := strconv.ParseInt(at, 10, 64)
	return evt.Sender.String() != inviter || evt.Timestamp < invitedAt
}

// onMessage records a command addressed to Steward in the inbox. It runs inside the
// sync loop, so it only writes and wakes the inbox worker; the command runs elsewhere.
// A message that had been kept waiting for its room key is let go only once it is
// handled (recorded, or found not to be a command).
func (b *Bot) onMessage(ctx context.Context, evt *event.Event) {
	b.record(ctx, evt, b.commandOf(ctx, evt))
}

// onReaction records a ✅ or ❌ in one of Steward's rooms in the inbox, where it is
// taken in order with the commands: it may answer an approval request. Whether it does
// is decided there, not in the sync loop.
func (b *Bot) onReaction(ctx context.Context, evt *event.Event) {
	b.record(ctx, evt, b.reactionOf(ctx, evt))
}

// record writes entry (nil when evt is nothing to act on) to the inbox. A message that
// had been kept waiting for its room key is let go only once it is handled (recorded,
// or found to be nothing for Steward).
func (b *Bot) record(ctx context.Context, evt *event.Event, entry *state.InboxEntry) {
	if evt.Mautrix.WasEncrypted {
		var device id.DeviceID
		if evt.Mautrix.TrustSource != nil {
			device = evt.Mautrix.TrustSource.DeviceID
		}
		b.undecryptable.decrypted(evt.Sender, device)
	}
	if entry == nil {
		if evt.Mautrix.WasEncrypted {
			b.forgetUndecrypted(ctx, evt.ID)
		}
		return
	}
	log := zerolog.Ctx(ctx).With().Stringer("room_id", evt.RoomID).Stringer("event_id", evt.ID).Stringer("sender", evt.Sender).Logger()
	var isNew bool
	err := b.db.DoTxn(ctx, func(ctx context.Context) (err error) {
		if isNew, err = b.db.Inbox.Record(ctx, entry); err != nil {
			return err
		}
		b.forgetUndecrypted(ctx, evt.ID)
		return nil
	})
	if err != nil {
		// In a batch, the batch is fetched again; a message decrypted late stays kept
		// and is retried at the next start.
		log.Err(err).Msg("Failed to record command")
		markBatchFailed(ctx)
		return
	}
	CrashPoint("command-recorded")
	if isNew {
		markBatchRecorded(ctx)
		wake(b.inboxWake)
	}
}

// reactionOf returns the inbox entry for evt when it may answer an approval request or
// take an alert: an ✅, ❌ or 👀 from someone else, in one of Steward's rooms, sent after
// Steward got there.
func (b *Bot) reactionOf(ctx context.Context, evt *event.Event) *state.InboxEntry {
	if evt.Sender == b.client.UserID || !b.isOurRoom(evt.RoomID) {
		return nil
	}
	rel := evt.Content.AsReaction().RelatesTo
	if !b.handler.WantsReaction(rel.Key) || rel.Type != event.RelAnnotation || rel.EventID == "" {
		return nil
	}
	if isInitialSync(ctx) || b.joinedAfter(ctx, evt) {
		return nil
	}
	entry := inboxEntryOf(evt, rel.Key)
	entry.Kind, entry.RelatesTo = state.InboxReaction, rel.EventID
	return entry
}

// commandOf returns the inbox entry for evt when it is a command to run: a text message
// in one of Steward's rooms, from someone else, sent after Steward got there.
//
// Steward is only in its two rooms and in members' private chats (tickets), so a
// message anywhere else is a ticket's; one that is not a command may be carried across
// for a ticket (relayOf).
func (b *Bot) commandOf(ctx context.Context, evt *event.Event) *state.InboxEntry {
	if evt.Sender == b.client.UserID {
		return nil
	}
	content := evt.Content.AsMessage()
	if content.MsgType != event.MsgText || content.RelatesTo.GetReplaceID() != "" {
		return nil
	}
	content.RemoveReplyFallback()
	threadRoot := content.RelatesTo.GetThreadParent()
	var entry *state.InboxEntry
	isCommand := b.handler.IsCommand(content.Body)
	if !b.isOurRoom(evt.RoomID) {
		// In a member's private chat, "!!! he threatened me" is a message to carry.
		isCommand = b.handler.IsKnownCommand(content.Body)
	}
	if isCommand {
		entry = inboxEntryOf(evt, content.Body)
		// A command sent as a reply names that message (!report answering abuse).
		entry.ThreadRoot, entry.RelatesTo = threadRoot, content.RelatesTo.GetNonFallbackReplyTo()
	} else if entry = b.relayOf(evt, content.Body, threadRoot); entry == nil {
		return nil
	}
	if isInitialSync(ctx) || b.joinedAfter(ctx, evt) {
		zerolog.Ctx(ctx).Debug().Stringer("event_id", evt.ID).Msg("Not replaying a message from before Steward was here")
		return nil
	}
	return entry
}

// inboxEntryOf records who sent evt, from which device, and when.
func inboxEntryOf(evt *event.Event, body string) *state.InboxEntry {
	entry := &state.InboxEntry{
		Kind:       state.InboxCommand,
		EventID:    evt.ID,
		RoomID:     evt.RoomID,
		Sender:     evt.Sender,
		Trust:      evt.Mautrix.TrustState,
		Encrypted:  evt.Mautrix.WasEncrypted,
		Body:       body,
		SentAt:     time.UnixMilli(evt.Timestamp),
		ReceivedAt: time.Now(),
	}
	if evt.Mautrix.TrustSource != nil {
		entry.DeviceID = evt.Mautrix.TrustSource.DeviceID
	}
	return entry
}

// onDecryptError tells an admin when their message in the admin room can't be
// decrypted, so a command is never silently lost. The group room is left alone: most of
// what is said there is not for Steward. It says so at most once an hour per sender.
func (b *Bot) onDecryptError(evt *event.Event, err error) {
	if errors.Is(err, context.Canceled) || b.stopping() {
		// Shutting down (the crypto helper's waits for keys end with "no session"
		// then): the message stays kept and is retried at the next start.
		return
	}
	b.log.Warn().Err(err).Stringer("event_id", evt.ID).Stringer("sender", evt.Sender).Msg("Failed to decrypt message")
	b.forgetUndecrypted(b.baseCtx, evt.ID)
	// History handed over by the first sync of a database (which a new device never
	// had keys for) is not worth a word.
	if evt.Sender == b.client.UserID || !b.isOurRoom(evt.RoomID) || b.initialSync.Load() || b.joinedAfter(b.baseCtx, evt) {
		return
	}
	b.undecryptable.failed(evt)
	if evt.RoomID != b.adminRoom {
		return
	}
	b.decryptWarnMu.Lock()
	last := b.decryptWarned[evt.Sender]
	if time.Since(last) < time.Hour {
		b.decryptWarnMu.Unlock()
		return
	}
	b.decryptWarned[evt.Sender] = time.Now()
	b.decryptWarnMu.Unlock()
	ctx := b.baseCtx
	msg := "I couldn't decrypt a message from " + evt.Sender.String() + " sent at " +
		time.UnixMilli(evt.Timestamp).UTC().Format("15:04:05") + " UTC. If it was a command, please send it again (verifying your session helps)."
	if qErr := b.outbox.Reply(ctx, evt.RoomID, evt.ID, "", render.New(msg)); qErr != nil {
		b.log.Err(qErr).Msg("Failed to queue decryption failure notice")
	}
}

// stopping reports whether Steward is shutting down: Connect's context or the sync's
// has ended.
func (b *Bot) stopping() bool {
	if b.baseCtx.Err() != nil {
		return true
	}
	ctx := b.syncCtx.Load()
	return ctx != nil && (*ctx).Err() != nil
}

// wake signals a worker without blocking; one pending signal is enough.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
