package monitor

import (
	"testing"

	"github.com/steward-bot/steward/state"
)

func TestThresholdLevel(t *testing.T) {
	const (
		ok       = state.SeverityOK
		warning  = state.SeverityWarning
		critical = state.SeverityCritical
	)
	th := Threshold{Warning: 85, Critical: 95, Margin: 3}
	tests := []struct {
		name  string
		value float64
		prev  state.Severity
		want  state.Severity
	}{
		// Rising from nothing.
		{"well below warning", 50, ok, ok},
		{"just below warning", 84.99, ok, ok},
		{"exactly at warning", 85, ok, warning},
		{"between the lines", 90, ok, warning},
		{"just below critical", 94.99, ok, warning},
		{"exactly at critical", 95, ok, critical},
		{"above critical", 100, ok, critical},
		// A warning holds until the reading falls Margin below the warning line.
		{"warning holds just below its line", 84.9, warning, warning},
		{"warning holds just above line minus margin", 82.01, warning, warning},
		{"warning ends exactly margin below", 82, warning, ok},
		{"warning ends below the margin", 70, warning, ok},
		{"warning rises to critical", 95, warning, critical},
		{"warning stays warning below critical", 94, warning, warning},
		// A critical holds until the reading falls Margin below the critical line.
		{"critical holds just below its line", 94, critical, critical},
		{"critical holds just above line minus margin", 92.01, critical, critical},
		{"critical becomes warning exactly margin below", 92, critical, warning},
		{"critical keeps warning's hysteresis", 83, critical, warning},
		{"critical ends below both margins", 82, critical, ok},
		// Without a previous level, the margin does not apply.
		{"no hysteresis for a new reading below warning", 84, ok, ok},
		{"no hysteresis for a new reading below critical", 94, ok, warning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := th.Level(tt.value, tt.prev); got != tt.want {
				t.Errorf("Level(%v, prev %s) = %s, want %s", tt.value, tt.prev, got, tt.want)
			}
		})
	}
}

func TestThresholdWithoutMargin(t *testing.T) {
	th := Threshold{Warning: 85, Critical: 95}
	if got := th.Level(84.99, state.SeverityWarning); got != state.SeverityOK {
		t.Errorf("with no margin, 84.99 after a warning = %s, want ok", got)
	}
	if got := th.Level(94.99, state.SeverityCritical); got != state.SeverityWarning {
		t.Errorf("with no margin, 94.99 after critical = %s, want warning", got)
	}
}
