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
const CheckpointField = "org.steward.checkpoint"

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
