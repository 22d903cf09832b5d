package bot

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
)

// TestJoinedAfterTakesInvitersFirstWords checks what counts as history in a room
// Steward joined at 1000: in its own rooms, everything before the join; in a member's
// private chat, everything before the join except what the member who invited Steward
// (at 900) wrote after the invite — Element's "first message creates the room".
func TestJoinedAfterTakesInvitersFirstWords(t *testing.T) {
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := t.Context()
	const group, chat, other = id.RoomID("!group:x"), id.RoomID("!chat:x"), id.RoomID("!other-chat:x")
	const carol, dave = id.UserID("@carol:x"), id.UserID("@dave:x")
	b := &Bot{db: db, groupRoom: group, adminRoom: "!admins:x"}
	for _, room := range []id.RoomID{group, chat, other} {
		if err = db.KV.Set(ctx, joinedAtKey(room), "1000"); err != nil {
			t.Fatal(err)
		}
	}
	if err = b.rememberInvite(ctx, &event.Event{RoomID: chat, Sender: carol, Timestamp: 900}); err != nil {
		t.Fatal(err)
	}
	// An invite whose time the homeserver did not say: nothing before the join.
	if err = b.rememberInvite(ctx, &event.Event{RoomID: other, Sender: carol}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		room    id.RoomID
		sender  id.UserID
		ts      int64
		history bool
	}{
		{group, carol, 950, true},
		{group, carol, 1000, false},
		{chat, carol, 950, false}, // the inviter's first words
		{chat, carol, 899, true},  // written before the invite
		{chat, dave, 950, true},   // not the inviter
		{chat, dave, 1001, false},
		{other, carol, 950, true},
		{other, carol, 1200, false},
	}
	for _, c := range cases {
		evt := &event.Event{RoomID: c.room, Sender: c.sender, Timestamp: c.ts}
		if got := b.joinedAfter(ctx, evt); got != c.history {
			t.Errorf("%s by %s at %s: history = %v, want %v", c.room, c.sender, strconv.FormatInt(c.ts, 10), got, c.history)
		}
	}
}

// An invite to a chat Steward was invited to before, whose time the homeserver does
// not say, forgets the earlier invite: what its inviter wrote since then, maybe to
// others while Steward was away, is not taken for the new inviter's first words.
func TestRememberInviteForgetsEarlierInviter(t *testing.T) {
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := t.Context()
	const chat = id.RoomID("!chat:x")
	const carol, dave = id.UserID("@carol:x"), id.UserID("@dave:x")
	b := &Bot{db: db, groupRoom: "!group:x", adminRoom: "!admins:x"}
	// Carol invited Steward at 900; it joined at 1000, and left later.
	if err = b.rememberInvite(ctx, &event.Event{RoomID: chat, Sender: carol, Timestamp: 900}); err != nil {
		t.Fatal(err)
	}
	// Dave invites it again, and it joins at 2000.
	if err = b.rememberInvite(ctx, &event.Event{RoomID: chat, Sender: dave}); err != nil {
		t.Fatal(err)
	}
	if err = db.KV.Set(ctx, joinedAtKey(chat), "2000"); err != nil {
		t.Fatal(err)
	}
	if !b.joinedAfter(ctx, &event.Event{RoomID: chat, Sender: carol, Timestamp: 1500}) {
		t.Error("what Carol wrote while Steward was away is taken for first words to it, after Dave invited it")
	}
}
