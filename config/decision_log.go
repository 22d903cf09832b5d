package config

import (
	"fmt"
	"strings"
	"time"
)

// DecisionLog configures what Steward reports from its decision log on its
// own, so the admins see what was done without having to ask.
type DecisionLog struct {
	// WeeklySummary, when set, posts a summary of the week's decisions to the
	// admin room. Nil (the key absent or null) means no summary.
	WeeklySummary *WeeklySummary `yaml:"weekly_summary"`
	// CheckpointEvery is how many new entries make Steward post a checkpoint of the
	// log (its newest entry's ID and hash) in the admin room, where every admin's
	// client keeps it out of the host's reach.
	CheckpointEvery int `yaml:"checkpoint_every" default:"50" min:"1" max:"100000"`
	// CheckpointInterval is the longest a changed log goes without a checkpoint.
	CheckpointInterval Duration `yaml:"checkpoint_interval" default:"24h" min:"1m"`
}

// WeeklySummary says when the weekly summary is posted.
type WeeklySummary struct {
	// Day is monday to sunday (or mon to sun), in any case; use Weekday.
	Day string `yaml:"day"`
	// Hour is the hour of the day, 0 to 23, in TimeZone.
	Hour int `yaml:"hour" default:"9" min:"0" max:"23" note:"the hour of the day in time_zone"`
	// TimeZone is an IANA zone name like Europe/Berlin, so the summary
	// arrives at the same local time across daylight saving changes.
	TimeZone string `yaml:"time_zone" default:"UTC" nonempty:"true"`
	// Location is TimeZone loaded, filled in by Load and Parse.
	Location *time.Location `yaml:"-" zone:"time_zone"`
}

// Weekday returns Day as a time.Weekday. Load and Parse accept only days it
// knows; for any other it returns -1, which is no day of the week.
func (w *WeeklySummary) Weekday() time.Weekday {
	d, _ := parseWeekday(w.Day)
	return d
}

// parseWeekday reads a day name, full or the first three letters, in any case.
func parseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(s)
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if s == name || s == name[:3] {
			return d, true
		}
	}
	return -1, false
}

// checkWeeklySummary validates the day of decision_log.weekly_summary.
func (v *validator) checkWeeklySummary(ws *WeeklySummary) {
	const key = "decision_log.weekly_summary"
	if ws.Day == "" {
		v.invalid(key+".day", "required: the day to post the summary on, like monday (or mon)")
	} else {
		v.checkWeekday(key+".day", ws.Day)
	}
}

// checkWeekday requires the day at key to be one parseWeekday knows.
func (v *validator) checkWeekday(key, day string) {
	if _, ok := parseWeekday(day); !ok {
		v.invalid(key, fmt.Sprintf("not a day of the week: %q; use monday to sunday, or mon to sun", day))
	}
}
