package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
)

// An answer the homeserver refused for good (too large, Steward no longer in the
// room) was never read, whatever the command's decision log entry says. So the entry
// is followed by one saying so, linked to it: the log is append-only, so the "ok"
// stays, and the entry after it tells the rest.
//
// The command's entry is written when the command returns, and its answer may be
// refused before that (the send runs beside it). Two places therefore look, each in
// the transaction that ends its side, so that exactly one of them writes: the outbox,
// when it gives up on a message, if the command's inbox entry is done; and the inbox,
// when it marks the command done, for the answers given up on before.

// refuse marks msg failed for good, records the undelivered answer if its command is
// done, and tells the admin room, all in one transaction.
func (o *Outbox) refuse(ctx context.Context, msg *state.OutboxMessage, cause error) error {
	return o.txn(ctx, func(ctx context.Context) error {
		if err := o.store.MarkFailed(ctx, msg.ID, cause); err != nil {
			return err
		}
		if o.db != nil && msg.ReplyTo != "" {
			entry, err := o.db.Inbox.Get(ctx, msg.ReplyTo)
			if err != nil {
				return err
			}
			// Not done yet: the inbox records it when the command ends. No inbox
			// entry at all is a command approved and run by the approval stage,
			// whose entries are written already.
			if entry == nil || entry.State == state.InboxDone {
				if err = o.logUndelivered(ctx, msg, cause); err != nil {
					return err
				}
			}
		}
		o.reportRefused(ctx, msg, cause)
		return nil
	})
}

// finishCommand marks the inbox entry eventID done with outcome and records the
// answers to it the outbox gave up on while it ran.
func (b *Bot) finishCommand(ctx context.Context, eventID id.EventID, outcome string) error {
	return b.db.DoTxn(ctx, func(ctx context.Context) error {
		if err := b.db.Inbox.Finish(ctx, eventID, outcome); err != nil {
			return err
		}
		failed, err := b.db.Outbox.FailedReplies(ctx, eventID)
		if err != nil {
			return err
		}
		for _, msg := range failed {
			if err = b.outbox.logUndelivered(ctx, msg, errors.New(msg.LastError)); err != nil {
				return err
			}
		}
		return nil
	})
}

// logUndelivered appends, after the newest decision log entry of the command msg
// answers, an entry saying the answer did not reach the room. A message that answers
// nothing logged (a ticket's relay) has no entry to follow.
func (o *Outbox) logUndelivered(ctx context.Context, msg *state.OutboxMessage, cause error) error {
	entries, err := o.db.Audit.ForEvent(ctx, msg.ReplyTo)
	if err != nil {
		return err
	}
	var parent *state.AuditEntry
	for _, e := range entries {
		if e.Outcome != state.OutcomeUndelivered {
			parent = e
		}
	}
	if parent == nil {
		return nil
	}
	why := "the homeserver refused it"
	var httpErr mautrix.HTTPError
	switch {
	case tooLarge(cause):
		why = fmt.Sprintf("the homeserver refused it as too large (%d KB)", len(msg.Content)>>10)
	case errors.As(cause, &httpErr) && httpErr.RespError != nil && httpErr.RespError.ErrCode != "":
		why += " (" + httpErr.RespError.ErrCode + ")"
	case cause != nil && cause.Error() != "":
		why += ": " + cause.Error()
	}
	_, err = o.db.Audit.Append(ctx, &state.AuditEntry{
		Actor: o.self, RoomID: msg.RoomID, EventID: msg.ReplyTo, Action: "reply", Outcome: state.OutcomeUndelivered,
		Detail: fmt.Sprintf("Steward's answer (outbox message %d) was not delivered: %s", msg.ID, why), ParentID: parent.ID,
	})
	if err == nil {
		zerolog.Ctx(ctx).Warn().Stringer("event_id", msg.ReplyTo).Int64("outbox_id", msg.ID).Int64("parent_id", parent.ID).
			Msg("Recorded an answer nobody got in the decision log")
	}
	return err
}

// txn runs fn in one transaction of the database, or as it is without one (the
// outbox's tests, over the outbox table alone).
func (o *Outbox) txn(ctx context.Context, fn func(ctx context.Context) error) error {
	if o.db == nil {
		return fn(ctx)
	}
	return o.db.DoTxn(ctx, fn)
}
