package health

import (
	"strings"
	"testing"

	"github.com/steward-bot/steward/state"
)

type faultyLog struct{ fault *state.ChainError }

func (f *faultyLog) DecisionLogFault() *state.ChainError { return f.fault }

// TestDecisionLogCheckAlertsWhileTheLogDoesNotFit: the alert is critical, names the
// entry, and goes once the log extends its anchor again.
func TestDecisionLogCheckAlertsWhileTheLogDoesNotFit(t *testing.T) {
	w := &faultyLog{fault: &state.ChainError{EntryID: 42, Reason: "the entry Steward anchored is gone (the log was cut back)"}}
	c := &DecisionLogCheck{Witness: w}
	obs, err := c.Observe(t.Context())
	if err != nil || len(obs) != 1 || obs[0].Severity != state.SeverityCritical || !strings.Contains(obs[0].Value, "entry 42") {
		t.Fatalf("Observe with a fault = %+v, %v", obs, err)
	}
	w.fault = nil
	if obs, err = c.Observe(t.Context()); err != nil || len(obs) != 0 {
		t.Fatalf("Observe without a fault = %+v, %v", obs, err)
	}
}
