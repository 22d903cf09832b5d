package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written the way people write it ("90s", "10m",
// "1h30m") instead of as a count of nanoseconds.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler so durations are read with
// time.ParseDuration; a bare number is refused because its unit is a guess.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration like 90s, 10m or 1h30m, got %s", describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("not a duration: %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration for use with the time package.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints the duration as time.Duration does ("10m0s"), so logs and
// printed configs show a readable value.
func (d Duration) String() string { return time.Duration(d).String() }
