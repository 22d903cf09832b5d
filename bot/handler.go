package bot

import (
	"context"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
)

// Work is the runner the transport works under (service.Work in Steward), declared
// here so the transport knows no more of it than it uses. Commands taken from the inbox
// run with Go, on Context, which outlives the inbox loop by the grace a shutdown gives
// them; every loop of the transport waits with Sleep, which returns false once ctx
// ends and true when d has passed or wakeup fired.
type Work interface {
	Context() context.Context
	Go(fn func(ctx context.Context))
	Sleep(ctx context.Context, d time.Duration, wakeup <-chan struct{}) bool
}

// Handler is the command side as the transport sees it: what counts as a command, and
// what runs an entry of the inbox. The sync loop asks the first questions while it
// records events; RunInbox calls Handle, one entry at a time per room.
type Handler interface {
	// IsCommand reports whether body, said in one of Steward's rooms, is addressed to
	// Steward (starts with the prefix).
	IsCommand(body string) bool
	// IsKnownCommand reports whether body names a command that exists; in a member's
	// private chat anything else is a message to carry to the admins.
	IsKnownCommand(body string) bool
	// WantsReaction reports whether a reaction with key may answer something
	// (an approval request, an alert).
	WantsReaction(key string) bool
	// IsMember reports whether user belongs to the group (a member or an admin), whose
	// invitations to a private chat Steward accepts.
	IsMember(ctx context.Context, user id.UserID) bool
	// IsPrivate reports whether body, sent in room, must stay out of the records once
	// handled (a member's words to the admins).
	IsPrivate(room id.RoomID, body string) bool
	// Handle runs entry (a command, a reaction, a message to carry for a ticket) and
	// returns its outcome for the inbox. The entry is claimed already: it never runs
	// twice.
	Handle(ctx context.Context, entry *state.InboxEntry) (outcome string)
}
