package health

import (
	"context"
	"fmt"
	"time"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/state"
)

// DecisionLogWitness is what keeps the decision log honest while Steward runs
// (bot.Bot): the anchor that refuses a head not extending the last anchored one.
type DecisionLogWitness interface {
	// DecisionLogFault returns why the log no longer extends its anchored head, or
	// nil while it does.
	DecisionLogFault() *state.ChainError
}

// DecisionLogCheck turns a decision log rewritten behind Steward's back into a
// critical alert, which escalates like any other and stays firing until the log
// extends its anchor again, instead of a notice that scrolls away.
type DecisionLogCheck struct {
	Witness DecisionLogWitness
	Every   time.Duration
}

var _ monitor.Check = (*DecisionLogCheck)(nil)

// Name implements monitor.Check.
func (c *DecisionLogCheck) Name() string { return "decision-log" }

// Interval implements monitor.Check.
func (c *DecisionLogCheck) Interval() time.Duration { return c.Every }

// Observe implements monitor.Check.
func (c *DecisionLogCheck) Observe(context.Context) ([]monitor.Observation, error) {
	fault := c.Witness.DecisionLogFault()
	if fault == nil {
		return nil, nil
	}
	return []monitor.Observation{{
		Fingerprint: "decision-log:rewritten",
		Subject:     "decision log",
		Summary:     "The decision log was rewritten behind Steward's back",
		Value:       fmt.Sprintf("entry %d: %s", fault.EntryID, fault.Reason),
		Hint: "Someone with access to the server changed Steward's database while it ran. Steward no longer anchors the log " +
			"and compares it with the checkpoints in this room: run !log verify, and check who has been on the server.",
		Severity: state.SeverityCritical,
	}}, nil
}
