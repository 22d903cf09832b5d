package config

import (
	"slices"
	"testing"
)

// A config read twice is the same config, time zones and all; a changed threshold is
// not. (Each load makes new *time.Location values, which must not look like changes.)
func TestSameSettings(t *testing.T) {
	a, b := loadForReload(t), loadForReload(t)
	if a.Monitor.DailyDigest == nil || a.Monitor.DailyDigest.Location == nil {
		t.Fatal("the test config should have a daily digest with a time zone")
	}
	if !SameSettings(&a.Monitor, &b.Monitor) || !SameSettings(a.OnCall, b.OnCall) || !SameSettings(a.DecisionLog, b.DecisionLog) {
		t.Error("the same file loaded twice reads as changed")
	}
	b.Monitor.Memory.Warning++
	if SameSettings(&a.Monitor, &b.Monitor) {
		t.Error("a changed memory threshold reads as unchanged")
	}
}

// Only the sections that wait for a restart are listed, each once, in the order of
// Config; the monitor section (applied at once) is not, but its daily digest is.
func TestRestartNeeded(t *testing.T) {
	running, reloaded := loadForReload(t), loadForReload(t)
	if got := RestartNeeded(running, reloaded); len(got) != 0 {
		t.Fatalf("RestartNeeded of the same file = %q, want none", got)
	}
	reloaded.Monitor.Memory.Warning++
	reloaded.Monitor.DailyDigest.Hour = (reloaded.Monitor.DailyDigest.Hour + 1) % 24
	reloaded.RateLimit.Burst++
	reloaded.Matrix.DeviceName += " (renamed)"
	reloaded.Tickets.MaxPerDay++
	got := RestartNeeded(running, reloaded)
	if want := []string{"matrix", "monitor.daily_digest", "tickets", "rate_limit"}; !slices.Equal(got, want) {
		t.Fatalf("RestartNeeded = %q, want %q", got, want)
	}
}

// loadForReload loads the test config, a new *time.Location and all on every call.
func loadForReload(t *testing.T) *Config {
	t.Helper()
	cfg, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
