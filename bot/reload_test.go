package bot

import (
	"testing"

	"github.com/steward-bot/steward/config"
)

// A config read twice is the same config, time zones and all; a changed threshold is
// not. (Each load makes new *time.Location values, which must not look like changes.)
func TestSameSettings(t *testing.T) {
	load := func() *config.Config {
		t.Helper()
		cfg, err := config.Load("../config/testdata/valid.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a, b := load(), load()
	if a.Monitor.DailyDigest == nil || a.Monitor.DailyDigest.Location == nil {
		t.Fatal("the test config should have a daily digest with a time zone")
	}
	if !sameSettings(&a.Monitor, &b.Monitor) || !sameSettings(a.OnCall, b.OnCall) || !sameSettings(a.DecisionLog, b.DecisionLog) {
		t.Error("the same file loaded twice reads as changed")
	}
	b.Monitor.Memory.Warning++
	if sameSettings(&a.Monitor, &b.Monitor) {
		t.Error("a changed memory threshold reads as unchanged")
	}
}
