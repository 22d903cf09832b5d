package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// The anchor lives in Steward's account data, which its access token (in the database,
// on the host) can rewrite. So Steward also posts checkpoints of its log, the newest
// entry's ID and hash, in the encrypted admin room: every admin's client keeps them,
// and a past event can be redacted but not changed. A log rewritten on the host no
// longer fits the checkpoints posted before, and !log verify names the first.

// CheckpointField is the content key of a checkpoint message, {"id": N, "hash": H}.
const CheckpointField = state.CheckpointKey

// checkpointKey is the KV key of the last checkpoint posted, with its time.
const checkpointKey = "decision_log.checkpoint"

// lastCheckpoint is the checkpoint Steward posted last.
type lastCheckpoint struct {
	state.AuditHead
	// At is when it was queued, in Unix milliseconds.
	At int64 `json:"at"`
}

// CheckpointLine is the machine-readable line of a checkpoint message's body, for
// people and scripts reading the room without Steward.
func CheckpointLine(head state.AuditHead) string {
	return fmt.Sprintf("steward-checkpoint v1 id=%d hash=%s", head.ID, head.Hash)
}

// checkpoint posts head in the admin room when the log has grown by
// decision_log.checkpoint_every entries since the last checkpoint, or has grown at all
// and the last one is decision_log.checkpoint_interval old. head must extend the
// anchored head (anchorHead checks that first): a rewritten log is not witnessed.
func (b *Bot) checkpoint(ctx context.Context, head state.AuditHead, now time.Time) error {
	var last lastCheckpoint
	raw, err := b.db.KV.Get(ctx, checkpointKey)
	if err != nil {
		return err
	}
	if raw != "" {
		if err = json.Unmarshal([]byte(raw), &last); err != nil {
			return fmt.Errorf("read the last checkpoint: %w", err)
		}
	}
	cfg := b.cfg.DecisionLog
	due := head.ID-last.ID >= int64(cfg.CheckpointEvery) || now.Sub(time.UnixMilli(last.At)) >= cfg.CheckpointInterval.D()
	if head.ID == 0 || head.ID == last.ID || !due {
		return nil
	}
	next, err := json.Marshal(lastCheckpoint{AuditHead: head, At: now.UnixMilli()})
	if err != nil {
		return err
	}
	msg := render.New("").Bold("Decision log checkpoint").Text(fmt.Sprintf(": entry #%d. ", head.ID)).
		Text("Your client keeps this message where the server can't change it; ").Code("!log verify").
		Text(" compares the log with every checkpoint here. Don't redact it.").
		CodeBlock(CheckpointLine(head))
	content := msg.Notice()
	content.Mentions = &event.Mentions{}
	err = b.db.DoTxn(ctx, func(ctx context.Context) error {
		if err := b.outbox.SendExtra(ctx, b.adminRoom, content, map[string]any{CheckpointField: head}); err != nil {
			return err
		}
		return b.db.KV.Set(ctx, checkpointKey, string(next))
	})
	if err == nil {
		zerolog.Ctx(ctx).Info().Int64("entry_id", head.ID).Msg("Posted a decision log checkpoint")
	}
	return err
}

// Checkpoints reads the checkpoints Steward posted in the admin room back from the
// room's history, decrypting them with the running bot's keys (see Witness).
func (b *Bot) Checkpoints(ctx context.Context) ([]state.Checkpoint, error) {
	return b.witness().Checkpoints(ctx)
}

// witness is the running bot's view of the admin room's history.
func (b *Bot) witness() *Witness {
	return &Witness{client: b.client, decrypter: b.crypto, adminRoom: b.adminRoom, outbox: b.db.Outbox}
}

// checkpointOf reads the checkpoint field of message content.
func checkpointOf(raw json.RawMessage) (state.AuditHead, bool) {
	var content struct {
		Checkpoint *state.AuditHead `json:"org.steward.checkpoint"`
	}
	if json.Unmarshal(raw, &content) != nil || content.Checkpoint == nil || content.Checkpoint.ID <= 0 {
		return state.AuditHead{}, false
	}
	return *content.Checkpoint, true
}

// onRedaction raises the alarm when a checkpoint in the admin room is redacted: a
// witness of the log removed, by an admin or by someone using Steward's own account.
// It is said once per checkpoint and recorded in the decision log.
func (b *Bot) onRedaction(ctx context.Context, evt *event.Event) {
	if evt.RoomID != b.adminRoom {
		return
	}
	_ = evt.Content.ParseRaw(event.EventRedaction)
	redacts := evt.Redacts
	if c, ok := evt.Content.Parsed.(*event.RedactionEventContent); ok && c.Redacts != "" {
		redacts = c.Redacts
	}
	if redacts == "" {
		return
	}
	msgID, err := b.db.Outbox.IDByEvent(ctx, redacts)
	if err != nil || msgID == 0 {
		return // not Steward's message, as far as it knows
	}
	msg, err := b.db.Outbox.Get(ctx, msgID)
	if err != nil || msg == nil {
		return
	}
	head, ok := checkpointOf(msg.Content)
	if !ok {
		return
	}
	log := zerolog.Ctx(ctx)
	log.Error().Stringer("event_id", redacts).Stringer("sender", evt.Sender).Int64("entry_id", head.ID).Msg("A decision log checkpoint was redacted")
	first, err := b.db.KV.SetOnce(ctx, "decision_log.checkpoint_redacted:"+redacts.String(), evt.ID.String())
	if err != nil || !first {
		if err != nil {
			log.Err(err).Msg("Failed to record the redacted checkpoint")
			markBatchFailed(ctx)
		}
		return
	}
	alarm := render.New("").Bold("A decision log checkpoint was redacted.").
		Text(fmt.Sprintf(" The checkpoint of entry #%d was removed by ", head.ID)).Pill(evt.Sender).
		Text(". Checkpoints are the log's witness outside the server; if nobody on the team did this, someone is covering tracks: run ").
		Code("!log verify").Text(" and check who has access to the server and to Steward's account.")
	err = b.db.DoTxn(ctx, func(ctx context.Context) error {
		if _, err := b.db.Audit.Append(ctx, &state.AuditEntry{
			Actor: evt.Sender, RoomID: evt.RoomID, EventID: evt.ID, Action: "decision_log.checkpoint_redacted", Outcome: state.OutcomeError,
			Detail: fmt.Sprintf("checkpoint %s of entry #%d %s", redacts, head.ID, head.Hash),
		}); err != nil {
			return err
		}
		return b.outbox.Notice(ctx, b.adminRoom, alarm)
	})
	if err != nil {
		log.Err(err).Msg("Failed to raise the redacted-checkpoint alarm")
		markBatchFailed(ctx)
	}
}
