package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/state"
)

// roomCheckpoints stands in for the admin room's history: the checkpoints it holds,
// whatever the database says now. The comparison is the real decision log's.
type roomCheckpoints struct {
	*state.Audit
	checkpoints []state.Checkpoint
}

func (r *roomCheckpoints) Checkpoints(context.Context) ([]state.Checkpoint, error) {
	return r.checkpoints, nil
}

// TestLogVerifyNamesTheFirstCheckpointThatNoLongerFits posts checkpoints of a log,
// rewrites the log's past the ways a rooted host can, and checks that !log verify
// says the log is intact before, and names the first checkpoint that no longer fits
// after.
func TestLogVerifyNamesTheFirstCheckpointThatNoLongerFits(t *testing.T) {
	tests := []struct {
		name     string
		tamper   string
		redact   int // index of a checkpoint redacted in the room, -1 for none, -2 for all
		contains []string
	}{
		{"untouched", "", -1, []string{"fits all 3 checkpoints in the admin room, the newest of entry #6"}},
		{"cut back", "DELETE FROM audit WHERE id > 3", -1, []string{"no longer fits", "the checkpoint of entry #4"}},
		{"rewritten and re-hashed", "UPDATE audit SET actor='@mallory:example.org', hash='x' || hash WHERE id >= 4", -1, []string{"no longer fits", "the checkpoint of entry #4"}},
		{"edited after the newest", "UPDATE audit SET outcome='refused' WHERE id = 7", -1, []string{"no longer fits", "the checkpoint of entry #6"}},
		{"a checkpoint redacted", "", 1, []string{"fits all 2 checkpoints", "A decision log checkpoint was redacted: the one posted", "($redacted)", "What it said", "removed it,"}},
		{"every checkpoint redacted", "", -2, []string{"No checkpoint in the admin room is left", "3 decision log checkpoints were redacted", "What they said", "removed them,"}},
		// A redaction does not hide a rewrite the other checkpoints show.
		{"redacted and cut back", "DELETE FROM audit WHERE id > 5", 0, []string{"no longer fits", "the checkpoint of entry #6", "A decision log checkpoint was redacted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			witness := &roomCheckpoints{}
			h := newHarness(t, nil, func(h *harness) {
				witness.Audit = h.db.Audit
				h.registry = commands.Builtin(commands.Features{LogWitness: witness})
			})
			for i := range 8 {
				id, err := h.db.Audit.Append(ctx, &state.AuditEntry{Actor: admin, Action: "command.ping", Outcome: state.OutcomeOK})
				if err != nil {
					t.Fatal(err)
				}
				if i == 1 || i == 3 || i == 5 {
					hash, _ := h.db.Audit.HashOf(ctx, id)
					witness.checkpoints = append(witness.checkpoints, state.Checkpoint{
						AuditHead: state.AuditHead{ID: id, Hash: hash}, EventID: "$cp", Time: time.Now(),
					})
				}
			}
			if tt.tamper != "" {
				if _, err := h.db.Raw.RawDB.ExecContext(ctx, tt.tamper); err != nil {
					t.Fatal(err)
				}
			}
			for i := range witness.checkpoints {
				if i == tt.redact || tt.redact == -2 {
					witness.checkpoints[i] = state.Checkpoint{EventID: "$redacted", Time: time.Now(), Redacted: true}
				}
			}
			replies, _ := h.send(admin, adminRoom, "!log verify")
			got := onlyReply(t, replies).Plain
			for _, want := range tt.contains {
				if !strings.Contains(got, want) {
					t.Errorf("!log verify said %q, want it to contain %q", got, want)
				}
			}
			if tt.tamper == "" && strings.Contains(got, "no longer fits") {
				t.Errorf("!log verify says an untouched log no longer fits: %q", got)
			}
		})
	}
}
