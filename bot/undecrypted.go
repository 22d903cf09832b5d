package bot

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// keepUndecryptedFor is how long a message waiting for its room key is retried across
// restarts.
const keepUndecryptedFor = 24 * time.Hour

// onEncrypted runs after the crypto helper has tried to decrypt evt. When the room key
// was not there, the helper waits for it in the background, past the point where the
// batch (and its sync position) is committed; so the message is kept in the database
// until it is decrypted, and a restart in between retries it instead of losing it.
// That holds in members' private chats too (Steward is in no other rooms): a member's
// first message may come before the key Steward needs for it.
func (b *Bot) onEncrypted(ctx context.Context, evt *event.Event) {
	if evt.Sender == b.client.UserID || isInitialSync(ctx) || b.joinedAfter(ctx, evt) {
		return
	}
	content := evt.Content.AsEncrypted()
	session, err := b.crypto.Machine().CryptoStore.GetGroupSession(ctx, evt.RoomID, content.SessionID)
	if err == nil && session != nil {
		return // decrypted already, or failed for a reason a retry would not mend
	}
	b.pendingMu.Lock()
	b.pending[evt.ID] = struct{}{}
	b.pendingMu.Unlock()
	if err = b.db.Undecrypted.Add(ctx, evt); err != nil {
		zerolog.Ctx(ctx).Err(err).Stringer("event_id", evt.ID).Msg("Failed to keep a message waiting for its key")
		markBatchFailed(ctx)
	}
}

// forgetUndecrypted drops eventID from the kept messages once it was handled or given
// up on. A failure only leaves the row to be retried (harmlessly) at the next start.
func (b *Bot) forgetUndecrypted(ctx context.Context, eventID id.EventID) {
	b.pendingMu.Lock()
	_, kept := b.pending[eventID]
	b.pendingMu.Unlock()
	if !kept {
		return
	}
	if err := b.db.Undecrypted.Forget(ctx, eventID); err != nil {
		zerolog.Ctx(ctx).Err(err).Stringer("event_id", eventID).Msg("Failed to forget a decrypted message")
		return
	}
	b.pendingMu.Lock()
	delete(b.pending, eventID)
	b.pendingMu.Unlock()
}

// retryUndecrypted hands the messages kept by an earlier run back to the crypto
// helper, which decrypts them when their key is here or arrives, and dispatches them
// like any other.
func (b *Bot) retryUndecrypted(ctx context.Context) error {
	if err := b.db.Undecrypted.Expire(ctx, time.Now().Add(-keepUndecryptedFor)); err != nil {
		return err
	}
	events, err := b.db.Undecrypted.All(ctx)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	zerolog.Ctx(ctx).Info().Int("count", len(events)).Msg("Retrying messages that were waiting for their keys")
	// A non-empty sync token tells the helper it may wait for keys and request them.
	retryCtx := context.WithValue(ctx, mautrix.SyncTokenContextKey, "retry")
	for _, evt := range events {
		b.pendingMu.Lock()
		b.pending[evt.ID] = struct{}{}
		b.pendingMu.Unlock()
		b.crypto.HandleEncrypted(retryCtx, evt)
	}
	return nil
}
