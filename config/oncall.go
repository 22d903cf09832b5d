package config

import (
	"fmt"
	"slices"
	"time"

	"maunium.net/go/mautrix/id"
)

// The values of oncall.handover.
const (
	handoverDaily  = "daily"
	handoverWeekly = "weekly"
)

// OnCall is the rotation of admins on duty: the one who is called first when a
// critical alert is not taken, so a problem at night wakes one person rather
// than everyone. The section is optional; without a rotation nobody is on duty.
type OnCall struct {
	// Rotation lists admins, each also in Matrix.Admins, in the order they
	// take turns. Empty (the default) means no rotation: escalation goes to
	// all admins at once.
	Rotation []id.UserID `yaml:"rotation"`
	// Handover is how often duty passes to the next admin, daily or weekly;
	// use Daily.
	Handover string `yaml:"handover" default:"weekly" oneof:"daily weekly"`
	// Day is the weekday of a weekly handover, monday to sunday (or mon to
	// sun), in any case; use Weekday. It is refused with a daily handover,
	// where it would mean nothing.
	Day string `yaml:"day" default:"monday" nonempty:"true"`
	// Hour is the hour of the handover, 0 to 23, in TimeZone.
	Hour int `yaml:"hour" default:"9" min:"0" max:"23" note:"the hour of the day in time_zone"`
	// TimeZone is an IANA zone name like Europe/Berlin, so the handover
	// happens at the same local time across daylight saving changes.
	TimeZone string `yaml:"time_zone" default:"UTC" nonempty:"true"`
	// Location is TimeZone loaded, filled in by Load and Parse even when
	// the section is absent, so a loaded config never has it nil.
	Location *time.Location `yaml:"-" zone:"time_zone"`
}

// Weekday returns the weekday of a weekly handover: Day, or Monday when Day
// is empty or not a day (Load and Parse accept only days it knows).
func (o OnCall) Weekday() time.Weekday {
	if d, ok := parseWeekday(o.Day); ok {
		return d
	}
	return time.Monday
}

// Daily reports whether duty passes on every day. Any other Handover,
// including an empty one in an OnCall built in code, is weekly.
func (o OnCall) Daily() bool { return o.Handover == handoverDaily }

// checkOnCall validates the oncall section against the admins configured.
func (v *validator) checkOnCall(c *Config) {
	o := &c.OnCall
	admins := c.Matrix.Admins
	v.checkUserIDs("oncall.rotation", o.Rotation, func(key string, u id.UserID) {
		// No admins is reported at matrix.admins; every entry would only
		// repeat it.
		if len(admins) > 0 && !slices.Contains(admins, u) {
			v.invalid(key, fmt.Sprintf("%s is not in matrix.admins: only admins can be on duty", u))
		}
	})

	switch {
	case o.Daily() && v.set["oncall.day"]:
		v.invalid("oncall.day", "day only applies to a weekly handover; leave it out with handover: daily")
	case o.Daily():
		o.Day = "" // the declared default is a weekly handover's
	case o.Day != "":
		v.checkWeekday("oncall.day", o.Day)
	}
}
