package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
)

// The moderation actions, named as the power levels they need are.
const (
	ActionKick   = "kick"
	ActionBan    = "ban"
	ActionRedact = "redact"
)

// ErrPowerUnknown is power levels that could not be read: whether Steward may act is
// not known.
var ErrPowerUnknown = errors.New("I can't read the group room's power levels right now; try again in a moment")

// CanModerate says why Steward can't kick or ban in the group room, reading its power
// levels fresh from the homeserver; nil when it can.
func (b *Bot) CanModerate(ctx context.Context, action string) error {
	var pl event.PowerLevelsEventContent
	if err := b.client.StateEvent(ctx, b.groupRoom, event.StatePowerLevels, "", &pl); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to read the group room's power levels")
		return ErrPowerUnknown
	}
	need := pl.Ban()
	switch action {
	case ActionKick:
		need = pl.Kick()
	case ActionRedact:
		need = pl.Redact()
	}
	if have := pl.GetUserLevel(b.client.UserID); have < need {
		return fmt.Errorf("I can't %s in the group room: that takes power level %d, and I have %d. A room admin can raise mine", action, need, have)
	}
	return nil
}

// Moderate kicks user from the group room for ActionKick and bans them for any other
// action; reason goes into the membership event.
func (b *Bot) Moderate(ctx context.Context, action string, user id.UserID, reason string) error {
	var err error
	if action == ActionKick {
		_, err = b.client.KickUser(ctx, b.groupRoom, &mautrix.ReqKickUser{UserID: user, Reason: reason})
	} else {
		_, err = b.client.BanUser(ctx, b.groupRoom, &mautrix.ReqBanUser{UserID: user, Reason: reason})
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, user, err)
	}
	return nil
}

// Redact removes a message of the group room, the only room it redacts in; reason
// goes with the redaction.
func (b *Bot) Redact(ctx context.Context, eventID id.EventID, reason string) error {
	if _, err := b.client.RedactEvent(ctx, b.groupRoom, eventID, mautrix.ReqRedact{Reason: reason}); err != nil {
		return fmt.Errorf("redact %s: %w", eventID, err)
	}
	return nil
}

// QueueRedaction queues the removal of a message of the group room, reason going
// with it. Queued, it is done even when Steward stops right after (in the transaction
// of what made it necessary: a ticket opened from a member's words there), in order
// with the messages around it.
func (b *Bot) QueueRedaction(ctx context.Context, eventID id.EventID, reason string) error {
	return b.outbox.Redact(ctx, b.groupRoom, eventID, reason)
}

// Warn sends user a warning from the admins in a new private chat.
func (b *Bot) Warn(ctx context.Context, user id.UserID, text string) error {
	room, err := b.OpenDirect(ctx, user, "Steward: a message from the admins")
	if err != nil {
		return fmt.Errorf("open a private chat with %s: %w", user, err)
	}
	msg := render.New("").Bold("A warning from the admins of the group:").Line().Quote(text)
	content := msg.Notice()
	// The warning's text mentions nobody, whoever it names.
	content.Mentions = &event.Mentions{}
	return b.outbox.Send(ctx, room, content)
}
