package config

import (
	"bytes"
	"encoding/json"
)

// RestartNeeded lists the sections (dotted keys) that differ between the running
// config and a reloaded one and take effect only when Steward restarts: everything but
// the monitor section, which a reload applies at once, and its daily digest, whose
// schedule starts with the process.
func RestartNeeded(running, reloaded *Config) []string {
	var later []string
	if !SameSettings(running.Monitor.DailyDigest, reloaded.Monitor.DailyDigest) {
		later = append(later, "monitor.daily_digest")
	}
	for _, section := range []struct {
		name     string
		old, new any
	}{
		{"matrix", running.Matrix, reloaded.Matrix}, {"data_dir", running.DataDir, reloaded.DataDir}, {"log", running.Log, reloaded.Log},
		{"rate_limit", running.RateLimit, reloaded.RateLimit}, {"policy", running.Policy, reloaded.Policy}, {"decision_log", running.DecisionLog, reloaded.DecisionLog},
		{"oncall", running.OnCall, reloaded.OnCall}, {"docker", running.Docker, reloaded.Docker}, {"backups", running.Backups, reloaded.Backups},
	} {
		if !SameSettings(section.old, section.new) {
			later = append(later, section.name)
		}
	}
	return later
}

// SameSettings compares two parts of a config by their values, as JSON: pointers by
// what they point to, and a loaded time zone (a new *time.Location on every load, with
// nothing exported) by the name written next to it.
func SameSettings(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
