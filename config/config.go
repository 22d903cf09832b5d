// Package config loads and validates Steward's YAML configuration file.
//
// A bot that refuses to start is only useful if it says exactly why, so loading
// reports every problem in the file at once, each with its dotted key and line,
// instead of stopping at the first one. The file is first read as a YAML node
// tree and walked alongside the Config type (by its yaml tags, walk.go), which
// catches unknown keys and wrongly typed values with their location; it is then
// decoded normally, the defaults declared next to each field are filled in and
// its declared bounds checked (declare.go), the rules that relate one setting
// to another are checked (one file per section), and only then are the files
// it names opened and its time zones loaded (load.go).
package config

import (
	"fmt"

	// Embedded zone data, so decision_log.weekly_summary.time_zone,
	// monitor.daily_digest.time_zone and oncall.time_zone work on hosts (and
	// minimal container images) without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// PasswordEnv is the environment variable that, when set and non-empty, holds
// the bot's Matrix password. It wins over matrix.password_file so that
// container setups can inject the secret without mounting a file.
const PasswordEnv = "STEWARD_MATRIX_PASSWORD"

// Config is the whole of Steward's configuration, as read from steward.yaml.
// Its String and Format output never contain the Matrix password or the HTTP token.
type Config struct {
	Matrix      Matrix      `yaml:"matrix"`
	DataDir     string      `yaml:"data_dir"`
	Log         Log         `yaml:"log"`
	Monitor     Monitor     `yaml:"monitor"`
	OnCall      OnCall      `yaml:"oncall"`
	Docker      Docker      `yaml:"docker"`
	Backups     Backups     `yaml:"backups"`
	Tickets     Tickets     `yaml:"tickets"`
	RateLimit   RateLimit   `yaml:"rate_limit"`
	Retention   Retention   `yaml:"retention"`
	Policy      Policy      `yaml:"policy"`
	DecisionLog DecisionLog `yaml:"decision_log"`
	// HTTP is the listener for Alertmanager, job pings, metrics and health checks.
	HTTP         HTTP         `yaml:"http"`
	Alertmanager Alertmanager `yaml:"alertmanager"`
	// Jobs are the jobs outside Steward that ping it when they run.
	Jobs      []Job     `yaml:"jobs"`
	Heartbeat Heartbeat `yaml:"heartbeat"`
	Fallback  Fallback  `yaml:"fallback"`

	// password is kept unexported so that YAML, JSON and the fmt verbs (via
	// Format) never emit it; only Password hands it out.
	password string
}

// Log chooses how verbose Steward's own log is and whether it is meant for
// machines (json) or for a person at a terminal (console).
type Log struct {
	// Level has no trace: at that level the database layer logs query
	// arguments, which include the session's access token.
	Level  string `yaml:"level" default:"info" oneof:"debug info warn error"`
	Format string `yaml:"format" default:"json" oneof:"json console"`
}

// RateLimit caps how many commands one user may send, so a stuck client or a
// loop of bots cannot keep the server busy restarting things.
type RateLimit struct {
	Burst     int     `yaml:"burst" default:"5" min:"1"`
	PerMinute float64 `yaml:"per_minute" default:"20" above:"0"`
	// MessageBurst and MessagesPerMinute pace what one member says that Steward
	// carries or answers outside commands: messages in their private chats (a
	// ticket's), invitations to new private chats, reactions. Past it the member is
	// told once and the rest is not passed on, so one member can't keep the
	// admins' messages waiting or fill the disk.
	MessageBurst      int     `yaml:"message_burst" default:"10" min:"1"`
	MessagesPerMinute float64 `yaml:"messages_per_minute" default:"30" above:"0"`
}

// Retention is how long the working records (the command inbox, sent messages,
// decided approval requests, messages that never decrypted) are kept once nothing
// needs them any more. The decision log is kept whole, always.
type Retention struct {
	// After is how long they are kept; at least a day, so a message waiting for its
	// room key (kept a day) or a command redelivered after an outage is still
	// known.
	After Duration `yaml:"after" default:"30d" min:"24h"`
}

// Password returns the Matrix password read at load time, from PasswordEnv if
// set, else from matrix.password_file. It is the only way to get at it.
func (c *Config) Password() string { return c.password }

// Format implements fmt.Formatter so every verb, including %+v and %#v,
// prints the config with the password replaced by "[redacted]".
func (c Config) Format(f fmt.State, verb rune) {
	type plain Config // same fields, no methods: no recursion into Format
	p := plain(c)
	if p.password != "" {
		p.password = "[redacted]"
	}
	if p.HTTP.token != "" {
		p.HTTP.token = "[redacted]"
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), p)
}
