// Package monitor watches the host, its disks and the group's services, and turns what
// it finds into alerts: one message per problem in the admin room, followed from firing
// to resolved. Checks observe; the Engine decides (pending, firing, resolved) and keeps
// every alert in SQLite, so a restart neither repeats nor forgets one.
package monitor

import (
	"context"
	"time"

	"github.com/steward-bot/steward/state"
)

// Observation is what a check found about one thing in one round.
type Observation struct {
	// Fingerprint names the problem stably across rounds and restarts: "disk:/var".
	Fingerprint string
	// Subject is what it is about, for people: "/var".
	Subject string
	// Summary says it in a sentence: "Disk /var is 91% full".
	Summary string
	// Value is the current reading with its thresholds: "91% used (warning at 85%)".
	Value string
	Hint  string
	// Public marks a problem members notice, such as a service being down.
	Public bool
	// For is how long the problem must last before it alerts.
	For time.Duration
	// Severity is how bad it is, when Level is nil.
	Severity state.Severity
	// Level, when set, decides the severity knowing the alert's previous one, so a
	// value hovering at a threshold does not flap (see Threshold).
	Level func(prev state.Severity) state.Severity
	// Labels are the labels a sender outside Steward gave the problem.
	Labels map[string]string
	// Link is where to see more, like Alertmanager's generatorURL.
	Link string
	// Detail is a block of text shown as it is, like a failed job's last lines.
	Detail string
}

// Check is one kind of watching: it runs every Interval and reports its observations.
// Things it no longer reports are considered fine again.
type Check interface {
	// Name is stable and short ("disk", "http:web"); alerts are filed under it.
	Name() string
	Interval() time.Duration
	Observe(ctx context.Context) ([]Observation, error)
}

// Threshold is a pair of alert levels for a reading where higher is worse, with
// hysteresis: once a level is reached, the reading must fall Margin below it to leave.
type Threshold struct {
	Warning, Critical float64
	Margin            float64
}

// Level returns the severity of value, given the severity it had before.
func (t Threshold) Level(value float64, prev state.Severity) state.Severity {
	switch {
	case value >= t.Critical:
		return state.SeverityCritical
	case prev == state.SeverityCritical && value > t.Critical-t.Margin:
		return state.SeverityCritical
	case value >= t.Warning:
		return state.SeverityWarning
	case prev >= state.SeverityWarning && value > t.Warning-t.Margin:
		return state.SeverityWarning
	default:
		return state.SeverityOK
	}
}

// measured builds the observation of a reading against t.
func measured(t Threshold, value float64) func(prev state.Severity) state.Severity {
	return func(prev state.Severity) state.Severity { return t.Level(value, prev) }
}
