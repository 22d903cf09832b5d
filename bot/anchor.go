package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// The hash chain shows an entry edited, removed or moved, but not entries cut off the
// end: the shortened log is a valid chain. So Steward keeps the head of its log (the
// newest entry's ID and hash) outside its database too, in its account data on the
// homeserver, and at start checks that its database still holds that entry. Someone
// who can change Steward's files but not its Matrix account cannot hide a truncation.

// While Steward runs, the anchor only moves forward: a head is anchored only when the
// log still holds the anchored entry, unchanged, and every entry after it links to the
// one before (state.Audit.Extends). A log cut back, or edited and re-hashed, on a
// running Steward is not anchored: Steward keeps the old anchor and reports the fault
// (DecisionLogFault, an alert of the monitor's "decision-log" check) for as long as the
// log does not extend the anchor again. Only a start takes a log that does not fit as
// the new baseline, and it says so in the admin room and in the log first.

// anchorType is the account data event that holds the decision log's head.
const anchorType = "org.steward.decision_log.head"

// anchorEvery is how often a changed head is written to the homeserver.
const anchorEvery = time.Minute

// logHead is the anchored head of the decision log.
type logHead = state.AuditHead

// checkAnchor compares the head anchored on the homeserver with the database and
// tells the admin room when the database no longer holds it: entries were cut off the
// end, or the whole log was replaced. It returns the head to extend: the anchored one,
// or, once the admins have been told, none, so the current head is anchored and the
// alarm is raised once.
func (b *Bot) checkAnchor(ctx context.Context) (anchored logHead, err error) {
	if err = b.client.GetAccountData(ctx, anchorType, &anchored); errors.Is(err, mautrix.MNotFound) {
		return logHead{}, nil // a new Steward: nothing anchored yet
	} else if err != nil {
		return logHead{}, fmt.Errorf("read the anchored log head: %w", err)
	}
	hash, err := b.db.Audit.HashOf(ctx, anchored.ID)
	if err != nil {
		return anchored, err
	}
	if hash == anchored.Hash {
		zerolog.Ctx(ctx).Info().Int64("anchored_id", anchored.ID).Msg("Decision log matches its anchor")
		return anchored, nil
	}
	zerolog.Ctx(ctx).Error().Int64("anchored_id", anchored.ID).Str("anchored_hash", anchored.Hash).Bool("entry_exists", hash != "").
		Msg("The decision log no longer holds the head Steward anchored on the homeserver")
	what := "entries were removed from its end"
	if hash != "" {
		what = "it was replaced by another log"
	}
	msg := render.New("").Bold("The decision log has been cut short or replaced.").
		Text(fmt.Sprintf(" When Steward last ran, its newest entry was #%d; the database no longer holds that entry as it was, so %s. ", anchored.ID, what)).
		Text("If nobody restored an old backup or started Steward with a new database on purpose, someone with access to the server removed decisions from the record: check who.")
	return logHead{}, b.db.DoTxn(ctx, func(ctx context.Context) error {
		if _, err := b.db.Audit.Append(ctx, &state.AuditEntry{
			Actor: b.client.UserID, Action: "decision_log.truncated", Outcome: state.OutcomeError,
			Detail: fmt.Sprintf("anchored head #%d %s not found", anchored.ID, anchored.Hash),
		}); err != nil {
			return err
		}
		return b.outbox.Send(ctx, b.adminRoom, msg.Notice())
	})
}

// anchorHead writes the log's head to the homeserver if it moved since last and
// extends it. A head that does not extend last is not anchored: the fault is kept for
// DecisionLogFault until the log fits again.
func (b *Bot) anchorHead(ctx context.Context, last *logHead) error {
	head, err := b.db.Audit.Extends(ctx, *last)
	var chainErr *state.ChainError
	if errors.As(err, &chainErr) {
		if old := b.logFault.Swap(chainErr); old == nil || *old != *chainErr {
			zerolog.Ctx(ctx).Error().Int64("anchored_id", last.ID).Int64("entry_id", chainErr.EntryID).Str("reason", chainErr.Reason).
				Msg("The decision log no longer extends its anchored head; not anchoring it")
		}
		return nil
	} else if err != nil {
		return fmt.Errorf("check the log against its anchor: %w", err)
	}
	if b.logFault.Swap(nil) != nil {
		zerolog.Ctx(ctx).Info().Int64("anchored_id", last.ID).Msg("The decision log extends its anchored head again")
	}
	if err = b.checkpoint(ctx, head, time.Now()); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to post a decision log checkpoint")
	}
	if head.ID == 0 || head == *last {
		return nil
	}
	if err = b.client.SetAccountData(ctx, anchorType, &head); err != nil {
		return fmt.Errorf("anchor the log head: %w", err)
	}
	*last = head
	return nil
}

// DecisionLogFault returns why the decision log no longer extends the head Steward
// anchored, or nil while it does: the monitor alerts on it.
func (b *Bot) DecisionLogFault() *state.ChainError { return b.logFault.Load() }

// KeepAnchored verifies the decision log and checks it against its anchor, then keeps
// the anchor up to date until ctx ends, and once more at the end, so a clean stop
// leaves the exact head anchored. It runs beside everything else: a long log must not
// delay the start.
func (b *Bot) KeepAnchored(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	b.checkDecisionLog(ctx)
	last, err := b.checkAnchor(ctx)
	if err != nil {
		log.Err(err).Msg("Failed to check the decision log against its anchor")
	}
	for {
		if err = b.anchorHead(ctx, &last); err != nil {
			log.Err(err).Msg("Failed to anchor the decision log's head")
		}
		if !b.work.Sleep(ctx, anchorEvery, nil) {
			// The shutdown stops ctx once the last commands have finished: anchor
			// the final head, on a short context of its own.
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err = b.anchorHead(final, &last); err != nil {
				log.Err(err).Msg("Failed to anchor the decision log's head")
			}
			return
		}
	}
}

// checkDecisionLog verifies the decision log's hash chain at start and tells the admin
// room when someone has edited, removed or reordered entries behind Steward's back.
func (b *Bot) checkDecisionLog(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	checked, err := b.db.Audit.Verify(ctx)
	var chainErr *state.ChainError
	switch {
	case errors.As(err, &chainErr):
		log.Error().Int64("entry_id", chainErr.EntryID).Str("reason", chainErr.Reason).Msg("The decision log's hash chain is broken")
		msg := render.New("").Bold("The decision log has been tampered with.").
			Text(fmt.Sprintf(" Entry %d: %s. The %d entries before it are intact. Someone with access to the server changed Steward's database: check who, and run ", chainErr.EntryID, chainErr.Reason, checked)).
			Code("steward audit verify").Text(" there.")
		if err = b.outbox.Send(ctx, b.adminRoom, msg.Notice()); err != nil {
			log.Err(err).Msg("Failed to queue the broken-log alert")
		}
	case err != nil:
		log.Err(err).Msg("Failed to verify the decision log")
	default:
		log.Info().Int("entries", checked).Msg("Decision log verified")
	}
}
