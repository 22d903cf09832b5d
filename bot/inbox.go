package bot

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// RunInbox runs recorded commands: one at a time per room, so commands given in a room
// take effect in the order they were given (a stop before a start), and rooms do not
// wait for each other. Each command is claimed (marked started, committed) before it
// runs, so a restart never runs it a second time. Commands run on the work context; ctx
// only stops the loop from taking new ones.
func (b *Bot) RunInbox(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	workCtx := b.work.Context()
	finished := make(chan id.RoomID, 16)
	busy := make(map[id.RoomID]bool)
	for {
		entries, err := b.db.Inbox.InState(workCtx, state.InboxReceived)
		if err != nil {
			log.Err(err).Msg("Failed to read the inbox")
		}
		held := make(map[id.RoomID]bool) // rooms whose next command could not be claimed
		for _, entry := range entries {
			if ctx.Err() != nil {
				return
			}
			if busy[entry.RoomID] || held[entry.RoomID] {
				continue
			}
			claimed, err := b.db.Inbox.Claim(workCtx, entry.EventID)
			if err != nil {
				// Keep the room's order: nothing after this one runs before it.
				log.Err(err).Msg("Failed to claim command")
				held[entry.RoomID] = true
				continue
			} else if !claimed {
				continue
			}
			CrashPoint("command-claimed")
			busy[entry.RoomID] = true
			if entry.ReceivedAt.Before(b.startedAt) {
				// Recorded by a run that stopped before running it: it reaches
				// Steward only now, and is judged stale or not as of now.
				entry.ReceivedAt = time.Now()
			}
			b.work.Go(func(workCtx context.Context) {
				// The loop may have stopped by now; finished has room for every
				// command it started only while it runs, so never block on it.
				defer func() {
					select {
					case finished <- entry.RoomID:
					case <-ctx.Done():
					}
				}()
				outcome := b.handler.Handle(workCtx, entry)
				CrashPoint("command-answered")
				if err := b.finishCommand(workCtx, entry.EventID, outcome); err != nil {
					log.Err(err).Msg("Failed to mark command done")
				} else if entry.Kind == state.InboxRelay || b.handler.IsPrivate(entry.RoomID, entry.Body) {
					if err = b.db.Inbox.Forget(workCtx, entry.EventID); err != nil {
						log.Err(err).Msg("Failed to forget a ticket message's text")
					}
				}
			})
		}
		select {
		case <-ctx.Done():
			return
		case room := <-finished:
			delete(busy, room)
		case <-b.inboxWake:
		case <-time.After(30 * time.Second):
		}
	}
}

// ReportInterrupted settles the commands that were running when Steward stopped. They
// are never run again: a restart, an update half-done, must not happen twice by
// surprise. A command that had already been answered is just marked done; one that had
// not gets a note saying its result is unknown. Each is settled in one transaction, so
// a crash here never sends the note twice.
func (b *Bot) ReportInterrupted(ctx context.Context) error {
	entries, err := b.db.Inbox.InState(ctx, state.InboxStarted)
	if err != nil {
		return err
	}
	for _, e := range entries {
		err = b.db.DoTxn(ctx, func(ctx context.Context) error {
			recorded, err := b.db.Audit.ForEvent(ctx, e.EventID)
			if err != nil {
				return err
			}
			if len(recorded) > 0 {
				// It ran to the end; only marking it done was cut off, and with it
				// the record of any answer to it the outbox gave up on.
				return b.finishCommand(ctx, e.EventID, recorded[len(recorded)-1].Outcome)
			}
			if e.Kind == state.InboxReaction || e.Kind == state.InboxRelay {
				// An answer to a request is recorded in one transaction with all it
				// decides, and nothing of it was; a ticket's message is carried once
				// per event whatever happens: take it again.
				return b.db.Inbox.Requeue(ctx, e.EventID)
			}
			answered, err := b.db.Outbox.Answered(ctx, e.EventID)
			if err != nil {
				return err
			}
			if !answered {
				msg := render.New("Steward stopped while it was running this command, so its result is unknown. I did not run it again; check, and send it again if it is still needed.")
				if err = b.outbox.Reply(ctx, e.RoomID, e.EventID, e.ThreadRoot, msg); err != nil {
					return err
				}
			}
			args := e.Body
			if b.handler.IsPrivate(e.RoomID, e.Body) {
				args = "(private)" // a member's words to the admins stay out of the log
			}
			if _, err = b.db.Audit.Append(ctx, &state.AuditEntry{
				Actor: e.Sender, ActorDevice: e.DeviceID, RoomID: e.RoomID, EventID: e.EventID,
				Action: "command", Arguments: args, Outcome: state.OutcomeInterrupted,
			}); err != nil {
				return err
			}
			if err = b.finishCommand(ctx, e.EventID, state.OutcomeInterrupted); err != nil {
				return err
			}
			if args != e.Body {
				return b.db.Inbox.Forget(ctx, e.EventID)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
