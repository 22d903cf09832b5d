package config

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written the way people write it ("90s", "10m",
// "1h30m", "7d") instead of as a count of nanoseconds.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler so durations are read with
// ParseDuration, the grammar chat commands use too; a bare number is refused
// because its unit is a guess.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration like 90s, 10m or 1h30m, got %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("not a duration: %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration; config fields are Durations so that YAML
// takes "7d", and callers convert with D where the time package needs one.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints the duration as time.Duration does ("10m0s"), so logs and
// printed configs show a readable value.
func (d Duration) String() string { return time.Duration(d).String() }

// longUnits are the units ParseDuration adds to Go's: spans of backups,
// retention and silences are counted in days and weeks.
var longUnits = map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour}

// ParseDuration reads a span of time the way both the config file and chat
// commands take it: Go's durations ("90s", "1h30m", "-5m", "0") plus the units
// d (24 hours) and w (7 days), which may be mixed with the others ("1d12h",
// "1.5d", "2w"). A number without a unit is refused, except 0.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("not a duration: %q", s)
	if !strings.ContainsAny(s, "dw") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		return d, nil
	}
	rest, sign := strings.TrimPrefix(s, "+"), time.Duration(1)
	if r, ok := strings.CutPrefix(s, "-"); ok {
		rest, sign = r, -1
	}
	var total time.Duration
	for rest != "" {
		num, unit, after := nextComponent(rest)
		rest = after
		var d time.Duration
		var err error
		if long, ok := longUnits[unit]; ok {
			// Read as hours, then scaled, so fractions like 1.5d stay exact.
			d, err = time.ParseDuration(num + "h")
			if d > math.MaxInt64/(long/time.Hour) {
				err = errOverflow
			}
			d *= long / time.Hour
		} else {
			d, err = time.ParseDuration(num + unit)
		}
		// A bare number is refused here too: time.ParseDuration takes "0"
		// without a unit only as the whole string.
		if err != nil || num == "" || unit == "" || total > math.MaxInt64-d {
			return 0, bad
		}
		total += d
	}
	return sign * total, nil
}

var errOverflow = errors.New("overflow")

// nextComponent splits the number and unit ("1.5", "d") off the start of s.
func nextComponent(s string) (num, unit, rest string) {
	isNum := func(r rune) bool { return r >= '0' && r <= '9' || r == '.' }
	i := strings.IndexFunc(s, func(r rune) bool { return !isNum(r) })
	if i < 0 {
		return s, "", ""
	}
	j := strings.IndexFunc(s[i:], isNum)
	if j < 0 {
		return s[:i], s[i:], ""
	}
	return s[:i], s[i : i+j], s[i+j:]
}
