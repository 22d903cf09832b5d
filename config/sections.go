package config

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// RestartNeeded lists the sections (dotted keys, in the order of Config) that differ
// between the running config and a reloaded one and take effect only when Steward
// restarts: every section but monitor, which a reload applies at once, and of monitor
// its daily digest, whose schedule starts with the process. The sections are read off
// Config itself, so a section added later is never left out of the list.
func RestartNeeded(running, reloaded *Config) []string {
	var later []string
	old, now := reflect.ValueOf(running).Elem(), reflect.ValueOf(reloaded).Elem()
	for i, field := range reflect.VisibleFields(old.Type()) {
		name, _, _ := strings.Cut(field.Tag.Get("yaml"), ",")
		switch {
		case !field.IsExported() || name == "" || name == "-":
		case name == "monitor":
			if !SameSettings(running.Monitor.DailyDigest, reloaded.Monitor.DailyDigest) {
				later = append(later, "monitor.daily_digest")
			}
		case !SameSettings(old.Field(i).Interface(), now.Field(i).Interface()):
			later = append(later, name)
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
