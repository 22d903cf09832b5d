package bot

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Members' private chats with Steward carry tickets; this is what the transport does
// for them: open one, post into a ticket's thread, fetch a reported message, and tell
// which messages are to be carried across.

// OpenDirect creates an encrypted direct chat with member and invites them. Its
// state is loaded at once, so what Steward sends there is encrypted for the member.
func (b *Bot) OpenDirect(ctx context.Context, member id.UserID, name string) (id.RoomID, error) {
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

// PostInThread queues msg for roomID, inside the thread that queued message threadMsg
// starts when threadMsg > 0, notifying mentions; it returns the message's outbox ID.
// It is how tickets talk, so it queues at members' priority, in the admin room too:
// a member writing fast delays no alert.
func (o *Outbox) PostInThread(ctx context.Context, roomID id.RoomID, threadMsg int64, msg *render.Message, mentions ...id.UserID) (int64, error) {
	content := msg.Notice()
	content.Mentions = &event.Mentions{UserIDs: mentions}
	shorten(ctx, content, render.MaxContent-render.RelationRoom)
	if threadMsg == 0 {
		return o.queueAt(ctx, state.PriorityMembers, roomID, event.EventMessage, content, "", 0)
	}
	// The thread's root is filled in when this is sent (resolveRelation).
	content.RelatesTo = &event.RelatesTo{Type: event.RelThread, IsFallingBack: true, InReplyTo: &event.InReplyTo{}}
	return o.queueAt(ctx, state.PriorityMembers, roomID, event.EventMessage, content, "", threadMsg)
}

// ThreadMessage returns the outbox ID of Steward's message root, which starts a thread
// (a ticket's, in the admin room); 0 when Steward did not send it.
func (b *Bot) ThreadMessage(ctx context.Context, root id.EventID) (int64, error) {
	return b.db.Outbox.IDByEvent(ctx, root)
}

// ErrNotGroupRoom refuses to fetch a message of another room than the group room.
var ErrNotGroupRoom = errors.New("not a message of the group room")

// FetchMessage fetches and decrypts a text message of the group room (one a report
// points at), its reply fallback removed. Only the group room's messages can be
// fetched: a report can't make Steward read rooms it does not serve.
func (b *Bot) FetchMessage(ctx context.Context, room id.RoomID, eventID id.EventID) (*event.Event, *event.MessageEventContent, error) {
	if room != b.groupRoom {
		return nil, nil, ErrNotGroupRoom
	}
	evt, err := b.client.GetEvent(ctx, room, eventID)
	if err != nil {
		return nil, nil, err
	}
	if err = evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return nil, nil, err
	}
	if evt.Type == event.EventEncrypted {
		encrypted := evt
		if evt, err = b.crypto.Decrypt(ctx, encrypted); err != nil {
			// Its room key may still be on its way (a member who just joined): wait
			// a little for it, as for a command.
			content := encrypted.Content.AsEncrypted()
			if !b.crypto.WaitForSession(ctx, room, content.SenderKey, content.SessionID, 10*time.Second) {
				return nil, nil, err
			}
			if evt, err = b.crypto.Decrypt(ctx, encrypted); err != nil {
				return nil, nil, err
			}
		}
	}
	content := evt.Content.AsMessage()
	content.RemoveReplyFallback()
	return evt, content, nil
}

// relayOf returns the inbox entry for a message to carry across for a ticket: any text
// from someone in a private chat with Steward, or a message in a thread of the admin
// room. Whether it belongs to a ticket is decided by the handler, not in the sync
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

// IsPrivateChat reports whether room holds nobody but member and Steward (joined or
// invited): answers meant for the member must not reach anyone else.
func (b *Bot) IsPrivateChat(ctx context.Context, room id.RoomID, member id.UserID) bool {
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
	return evt.Content.AsMember().IsDirect && b.handler.IsMember(ctx, evt.Sender)
}
