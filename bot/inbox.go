package bot

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/bot/render"
	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/state"
)

// maxConcurrentCommands bounds how many commands run at once; a slow one (a container
// update, later) must not hold up a ping.
const maxConcurrentCommands = 4

// runInbox runs recorded commands. Each is claimed (marked started, committed) before
// it runs, so a restart never runs it a second time. Commands run on workCtx; pollCtx
// only stops the loop from taking new ones.
func (b *Bot) runInbox(pollCtx, workCtx context.Context) {
	log := zerolog.Ctx(pollCtx)
	slots := make(chan struct{}, maxConcurrentCommands)
	for {
		entries, err := b.db.Inbox.InState(workCtx, state.InboxReceived)
		if err != nil {
			log.Err(err).Msg("Failed to read the inbox")
		}
		for _, entry := range entries {
			select {
			case slots <- struct{}{}:
			case <-pollCtx.Done():
				return
			}
			claimed, err := b.db.Inbox.Claim(workCtx, entry.EventID)
			if err != nil || !claimed {
				<-slots
				if err != nil {
					log.Err(err).Msg("Failed to claim command")
				}
				continue
			}
			b.running.Add(1)
			go func() {
				defer func() { <-slots; b.running.Done() }()
				outcome := b.proc.Handle(workCtx, inputOf(entry))
				if err := b.db.Inbox.Finish(workCtx, entry.EventID, outcome); err != nil {
					log.Err(err).Msg("Failed to mark command done")
				}
			}()
		}
		select {
		case <-pollCtx.Done():
			return
		case <-b.inboxWake:
		case <-time.After(30 * time.Second):
		}
	}
}

func inputOf(e *state.InboxEntry) *commands.Input {
	return &commands.Input{
		Body: e.Body, Sender: e.Sender, DeviceID: e.DeviceID, Trust: e.Trust, Encrypted: e.Encrypted,
		RoomID: e.RoomID, EventID: e.EventID, ThreadRoot: e.ThreadRoot, SentAt: e.SentAt, ReceivedAt: e.ReceivedAt,
	}
}

// reportInterrupted answers the commands that were running when Steward stopped. They
// are not run again: a restart, an update half-done, must not happen twice by surprise.
func (b *Bot) reportInterrupted(ctx context.Context) error {
	entries, err := b.db.Inbox.InState(ctx, state.InboxStarted)
	if err != nil {
		return err
	}
	for _, e := range entries {
		msg := render.New("Steward stopped while it was running this command, so its result is unknown. I did not run it again; check, and send it again if it is still needed.")
		if err = b.Reply(ctx, e.RoomID, e.EventID, e.ThreadRoot, msg); err != nil {
			return err
		}
		if _, err = b.db.Audit.Append(ctx, &state.AuditEntry{
			Actor: e.Sender, ActorDevice: e.DeviceID, RoomID: e.RoomID, EventID: e.EventID,
			Action: "command", Arguments: e.Body, Outcome: state.OutcomeInterrupted,
		}); err != nil {
			return err
		}
		if err = b.db.Inbox.Finish(ctx, e.EventID, state.OutcomeInterrupted); err != nil {
			return err
		}
	}
	return nil
}
