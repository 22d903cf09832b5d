// Package config loads and validates Steward's YAML configuration file.
//
// A bot that refuses to start is only useful if it says exactly why, so loading
// reports every problem in the file at once, each with its dotted key and line,
// instead of stopping at the first one. The file is first read as a YAML node
// tree and walked alongside the Config type (by its yaml tags), which catches
// unknown keys and wrongly typed values with their location; it is then decoded
// normally, defaults are filled in, and the values are checked.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	// Embedded zone data, so decision_log.weekly_summary.time_zone,
	// monitor.daily_digest.time_zone and oncall.time_zone work on hosts (and
	// minimal container images) without /usr/share/zoneinfo.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"
	"maunium.net/go/mautrix/id"
)

// PasswordEnv is the environment variable that, when set and non-empty, holds
// the bot's Matrix password. It wins over matrix.password_file so that
// container setups can inject the secret without mounting a file.
const PasswordEnv = "STEWARD_MATRIX_PASSWORD"

// Defaults applied to keys that are absent or null. A key that is present with
// an explicitly empty or zero value is not defaulted but checked, so a typo
// such as "burst: 0" is reported instead of silently replaced.
const (
	DefaultDeviceName    = "Steward"
	DefaultCommandPrefix = "!"
	DefaultStaleAfter    = Duration(10 * time.Minute)
	DefaultLogLevel      = "info"
	DefaultLogFormat     = "json"
	DefaultDiskPath      = "/"
	DefaultBurst         = 5
	DefaultPerMinute     = 20.0
	DefaultApprovalTTL   = Duration(30 * time.Minute)
	DefaultSummaryHour   = 9
	DefaultSummaryZone   = "UTC"
)

// Defaults of the monitor section. Levels are percentages, except load's,
// which are the 5-minute load average per CPU core.
const (
	DefaultMonitorInterval = Duration(30 * time.Second)
	DefaultAlertFor        = Duration(2 * time.Minute)
	DefaultHysteresis      = 3.0
	DefaultGroupWait       = Duration(10 * time.Second)
	DefaultEscalateAfter   = Duration(15 * time.Minute)
	DefaultAnnounceAfter   = Duration(10 * time.Minute)

	DefaultCPUWarning     = 90.0
	DefaultCPUCritical    = 98.0
	DefaultCPUFor         = Duration(5 * time.Minute) // a busy CPU is normal for a while
	DefaultMemoryWarning  = 90.0
	DefaultMemoryCritical = 95.0
	DefaultSwapWarning    = 50.0
	DefaultSwapCritical   = 80.0
	DefaultLoadWarning    = 2.0
	DefaultLoadCritical   = 4.0

	DefaultDiskWarning    = 85.0
	DefaultDiskCritical   = 95.0
	DefaultInodesWarning  = 85.0
	DefaultInodesCritical = 95.0
	DefaultDiskForecast   = Duration(72 * time.Hour)
	DefaultHTTPInterval   = Duration(30 * time.Second)
	DefaultHTTPTimeout    = Duration(10 * time.Second)
	DefaultLatencyWarning = Duration(2 * time.Second)
	DefaultCertWarning    = Duration(14 * 24 * time.Hour)
	DefaultCertCritical   = Duration(3 * 24 * time.Hour)
	DefaultDigestHour     = 9
	DefaultDigestZone     = "UTC"

	DefaultRestartLoop   = 3
	DefaultRestartWindow = Duration(10 * time.Minute)
	DefaultContainersFor = Duration(0) // not monitor.for: a container that died is down now
)

// Defaults of the oncall section: duty passes on every Monday at 9 UTC.
const (
	DefaultHandover     = handoverWeekly
	DefaultHandoverDay  = "monday"
	DefaultHandoverHour = 9
	DefaultHandoverZone = "UTC"
)

// The values of oncall.handover.
const (
	handoverDaily  = "daily"
	handoverWeekly = "weekly"
)

// Bounds of the monitor section's durations and of monitor.hysteresis.
const (
	minCheckInterval = Duration(time.Second) // checking more often only costs
	maxGroupWait     = Duration(5 * time.Minute)
	minEscalateAfter = Duration(time.Minute)
	maxEscalateAfter = Duration(24 * time.Hour)
	maxAnnounceAfter = Duration(24 * time.Hour)
	maxHysteresis    = 20.0
	minRestartLoop   = 2 // one restart is a container recovering, not a loop
	minRestartWindow = Duration(time.Minute)
	maxRestartWindow = Duration(24 * time.Hour)
)

// Bounds of policy.approval_ttl: long enough to reach a phone, short enough
// that a forgotten request cannot be approved by surprise weeks later.
const (
	minApprovalTTL = Duration(time.Minute)
	maxApprovalTTL = Duration(168 * time.Hour)
)

// The kinds of approval policy ParsePolicy returns, from least to most strict.
const (
	PolicyNone        = "none"         // runs at once
	PolicyConfirm     = "confirm"      // any admin confirms, the requester included
	PolicySecondAdmin = "second_admin" // one admin other than the requester approves
	PolicyQuorum      = "quorum"       // N admins other than the requester approve
)

// MaxQuorum is the largest N in "quorum:N"; no group of friends has more
// admins than that, so a larger N is a typo.
const MaxQuorum = 20

// maxCommandPrefix keeps the prefix short enough to type on a phone.
const maxCommandPrefix = 8

// Config is the whole of Steward's configuration, as read from steward.yaml.
// Its String and Format output never contain the Matrix password.
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
	Policy      Policy      `yaml:"policy"`
	DecisionLog DecisionLog `yaml:"decision_log"`

	// password is kept unexported so that YAML, JSON and the fmt verbs (via
	// Format) never emit it; only Password hands it out.
	password string
}

// Matrix says how the bot logs in, where it listens and whom it obeys.
type Matrix struct {
	// Homeserver is the client-server API base URL, e.g. https://matrix.example.org.
	Homeserver string `yaml:"homeserver"`
	// UserID is the bot's own account, e.g. @steward:example.org.
	UserID id.UserID `yaml:"user_id"`
	// PasswordFile holds the bot's password; not needed when PasswordEnv is set.
	PasswordFile string `yaml:"password_file"`
	// DeviceName is shown to people verifying the bot's device.
	DeviceName string `yaml:"device_name"`
	// AdminRoom receives alerts and approval requests; only admins act there.
	AdminRoom string `yaml:"admin_room"`
	// GroupRoom is where the friends on the server talk to the bot.
	GroupRoom string `yaml:"group_room"`
	// Admins may run privileged commands and approve destructive ones.
	Admins []id.UserID `yaml:"admins"`
	// CommandPrefix starts every command, e.g. "!" in "!status".
	CommandPrefix string `yaml:"command_prefix"`
	// ShareKeysWithUnverified lets unverified devices decrypt the bot's messages.
	ShareKeysWithUnverified bool `yaml:"share_keys_with_unverified"`
	// AllowUnencrypted lets the bot answer in rooms without encryption.
	AllowUnencrypted bool `yaml:"allow_unencrypted"`
	// RequireVerifiedDevices, when nil, means true; use VerifiedDevicesRequired.
	RequireVerifiedDevices *bool `yaml:"require_verified_devices"`
	// StaleAfter is how old a command may be before the bot ignores it, so a
	// backlog replayed after downtime does not restart things twice.
	StaleAfter Duration `yaml:"stale_after"`
}

// VerifiedDevicesRequired reports whether commands are accepted only from
// verified devices. It is true unless require_verified_devices is explicitly
// false, so a Matrix value built in code without the field stays safe.
func (m Matrix) VerifiedDevicesRequired() bool {
	return m.RequireVerifiedDevices == nil || *m.RequireVerifiedDevices
}

// Log chooses how verbose Steward's own log is and whether it is meant for
// machines (json) or for a person at a terminal (console).
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Monitor says what Steward watches on the host and beyond, when that is
// worth an alert, and how alerts reach people. !status shows the same
// values the alerts are about.
type Monitor struct {
	// Disks defaults to the root filesystem; an explicit empty list
	// ("disks: []") turns disk monitoring off.
	Disks []Disk `yaml:"disks"`
	// Interval is how often the host and disk checks run.
	Interval Duration `yaml:"interval"`
	// For is how long a problem must last before it alerts, so a short
	// spike (a backup, a build) does not wake anyone. Checks that have a
	// For of their own fall back to this one.
	For Duration `yaml:"for"`
	// Hysteresis is how far, in percentage points, a value must fall back
	// below a threshold before the alert clears, so a value hovering at
	// the threshold does not alert and clear over and over. For load,
	// which is not a percentage, it is the same share of the threshold
	// (Hysteresis/100 of it).
	Hysteresis float64 `yaml:"hysteresis"`
	// GroupWait is how long Steward waits to gather alerts that fire
	// together (a full disk slowing every service) into one message.
	GroupWait Duration `yaml:"group_wait"`
	// EscalateAfter is how long a critical alert may go unacknowledged
	// before it mentions the on-duty admin; after twice this it mentions
	// every admin.
	EscalateAfter Duration `yaml:"escalate_after"`
	// AnnounceAfter is how long a service members use (HTTPCheck.Public,
	// or a container labelled steward.public=true) may be down before the
	// group room is told, so members learn that the admins know without
	// hearing of every short blip.
	AnnounceAfter Duration `yaml:"announce_after"`
	// CPU is the share of time all cores are busy, in percent.
	CPU Threshold `yaml:"cpu"`
	// Memory is the share of memory in use, in percent.
	Memory Threshold `yaml:"memory"`
	// Swap is the share of swap in use, in percent; hosts without swap
	// skip it.
	Swap Threshold `yaml:"swap"`
	// Load is the 5-minute load average per CPU core. It is not a
	// percentage: any level above 0 is allowed.
	Load Threshold `yaml:"load"`
	// HTTP lists the web endpoints to watch; none by default.
	HTTP []HTTPCheck `yaml:"http"`
	// Containers watches the containers of the Docker Engine at
	// Config.Docker.
	Containers Containers `yaml:"containers"`
	// DailyDigest, when set, posts a digest of the last 24 hours of alerts
	// to the admin room. Nil (the key absent or null) means no digest.
	DailyDigest *DailyDigest `yaml:"daily_digest"`
}

// Threshold is a check's alert levels. A value at or above Warning warns,
// one at or above Critical is critical; Load and Parse make sure Warning is
// below Critical.
type Threshold struct {
	// Enabled, when nil, means true; use On.
	Enabled *bool `yaml:"enabled"`
	// Warning and Critical are the levels, in the unit of the check.
	Warning  float64 `yaml:"warning"`
	Critical float64 `yaml:"critical"`
	// For is how long the value must stay at a level before it alerts;
	// it defaults to Monitor.For (for CPU, to DefaultCPUFor).
	For Duration `yaml:"for"`
	// Hint is shown in the alert: what to look at first, or a runbook link.
	Hint string `yaml:"hint"`
}

// On reports whether the check runs. It is true unless enabled is
// explicitly false, so a Threshold built in code without the field still
// alerts.
func (t Threshold) On() bool { return t.Enabled == nil || *t.Enabled }

// Disk names one filesystem to watch by any absolute path on it, and when
// its space and inodes are worth an alert. Levels are percentages used.
type Disk struct {
	Path           string  `yaml:"path"`
	Warning        float64 `yaml:"warning"`
	Critical       float64 `yaml:"critical"`
	InodesWarning  float64 `yaml:"inodes_warning"`
	InodesCritical float64 `yaml:"inodes_critical"`
	// Forecast warns when, at the rate the disk has been filling, it will
	// be full within this span, so there is time to act before the space
	// levels are reached. 0 turns the forecast off.
	Forecast Duration `yaml:"forecast"`
	// For defaults to Monitor.For.
	For Duration `yaml:"for"`
	// Hint is shown in the alert: what usually fills this disk, or a
	// runbook link.
	Hint string `yaml:"hint"`
}

// HTTPCheck watches one HTTP(S) endpoint: whether it answers, with an
// accepted status, quickly enough, and with a certificate that is not about
// to expire.
type HTTPCheck struct {
	// Name identifies the check in alerts and their fingerprints, so
	// renaming it starts a new alert; lower-case letters, digits, - and _.
	Name string `yaml:"name"`
	// URL is the http:// or https:// address requested.
	URL string `yaml:"url"`
	// Interval is how often the URL is requested.
	Interval Duration `yaml:"interval"`
	// Timeout is how long a request may take before it counts as down; at
	// most Interval, so requests never pile up.
	Timeout Duration `yaml:"timeout"`
	// Status lists the accepted status codes; nil means any 2xx or 3xx.
	// Use OK.
	Status []int `yaml:"status"`
	// LatencyWarning warns when an answer takes longer than this.
	LatencyWarning Duration `yaml:"latency_warning"`
	// CertWarning and CertCritical are how long before an https
	// certificate expires the check warns and turns critical; CertWarning
	// is the longer one.
	CertWarning  Duration `yaml:"cert_warning"`
	CertCritical Duration `yaml:"cert_critical"`
	// For defaults to Monitor.For.
	For Duration `yaml:"for"`
	// Hint is shown in the alert: where the service runs, or a runbook link.
	Hint string `yaml:"hint"`
	// Public marks a service members use: when it is down longer than
	// Monitor.AnnounceAfter, the group room is told.
	Public bool `yaml:"public"`
}

// OK reports whether code is an accepted answer: one listed in Status, or
// any 2xx or 3xx when Status is nil.
func (h HTTPCheck) OK(code int) bool {
	if h.Status == nil {
		return code >= 200 && code <= 399
	}
	return slices.Contains(h.Status, code)
}

// Containers watches the Docker Engine's containers: one that stopped or
// exited unexpectedly (an exit code other than 0, or killed), is unhealthy,
// keeps restarting or was killed for running out of memory alerts, and so
// does the engine being unreachable. A container stopped on purpose (docker
// stop) does not; one labelled steward.monitor=false is not watched at all,
// and one labelled steward.public=true is announced to members like a
// public HTTP check.
type Containers struct {
	// Enabled, when nil, means true; use On. Turn it off on hosts without
	// Docker, where the unreachable engine would otherwise alert.
	Enabled *bool `yaml:"enabled"`
	// RestartLoop is how many restarts within RestartWindow make a
	// restart loop; at least 2, since a single restart is the restart
	// policy doing its job.
	RestartLoop int `yaml:"restart_loop"`
	// RestartWindow is the span RestartLoop restarts are counted over,
	// from 1m to 24h.
	RestartWindow Duration `yaml:"restart_window"`
	// For is how long a container's problem must last before it alerts.
	// Unlike other checks' it does not fall back to Monitor.For but
	// defaults to 0s: a container that died is not a spike that passes by
	// itself.
	For Duration `yaml:"for"`
	// Hint is shown in the alert: where the compose files live, or a
	// runbook link.
	Hint string `yaml:"hint"`
}

// On reports whether containers are watched. It is true unless enabled is
// explicitly false, so a Containers built in code without the field still
// alerts.
func (c Containers) On() bool { return c.Enabled == nil || *c.Enabled }

// DailyDigest says when the daily digest of alerts is posted.
type DailyDigest struct {
	// Hour is the hour of the day, 0 to 23, in TimeZone.
	Hour int `yaml:"hour"`
	// TimeZone is an IANA zone name like Europe/Berlin, so the digest
	// arrives at the same local time across daylight saving changes.
	TimeZone string `yaml:"time_zone"`
	// Location is TimeZone loaded, filled in by Load and Parse.
	Location *time.Location `yaml:"-"`
}

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
	Handover string `yaml:"handover"`
	// Day is the weekday of a weekly handover, monday to sunday (or mon to
	// sun), in any case; use Weekday. It is refused with a daily handover,
	// where it would mean nothing.
	Day string `yaml:"day"`
	// Hour is the hour of the handover, 0 to 23, in TimeZone.
	Hour int `yaml:"hour"`
	// TimeZone is an IANA zone name like Europe/Berlin, so the handover
	// happens at the same local time across daylight saving changes.
	TimeZone string `yaml:"time_zone"`
	// Location is TimeZone loaded, filled in by Load and Parse even when
	// the section is absent, so a loaded config never has it nil.
	Location *time.Location `yaml:"-"`
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

// Docker is how Steward reaches the Docker Engines whose containers it watches
// and manages: one engine (Host, TLS, SSH, OnlyLabel), or several by name
// (Hosts), as a group with more than one machine has.
type Docker struct {
	// Host is the engine's address: unix:///path/to/socket,
	// tcp://host:port or ssh://user@host. Empty (the default) means
	// $DOCKER_HOST, else the local socket unix:///var/run/docker.sock, as
	// for the docker command.
	Host string `yaml:"host"`
	// TLS are the files for a tcp:// engine that requires TLS.
	TLS DockerTLS `yaml:"tls"`
	// SSH are the options of an ssh:// engine.
	SSH DockerSSH `yaml:"ssh"`
	// OnlyLabel limits Steward to the engine's containers with this label
	// (KEY or KEY=VALUE); the others are neither watched nor managed.
	OnlyLabel string `yaml:"only_label"`
	// Hosts names several engines; commands then take HOST/CONTAINER. It
	// replaces host, tls, ssh and only_label.
	Hosts map[string]DockerHost `yaml:"hosts"`
	// UpdateCheck is how often Steward asks the registries whether the images the
	// containers run have newer versions under their tags, and tells the admin room
	// about each new one once. 0 turns the check off (!updates still works).
	UpdateCheck Duration `yaml:"update_check"`
	// Settle is how long a container updated by !update, when its image has no
	// health check, must run without stopping or restarting to count as healthy;
	// otherwise the update is rolled back.
	Settle Duration `yaml:"settle"`
}

// DockerHost is one of several engines (docker.hosts).
type DockerHost struct {
	// Address is where the engine is reached, as docker.host.
	Address   string    `yaml:"address"`
	TLS       DockerTLS `yaml:"tls"`
	SSH       DockerSSH `yaml:"ssh"`
	OnlyLabel string    `yaml:"only_label"`
}

// DockerTLS names the files of a TLS connection to a tcp:// engine, as
// docker --tlsverify takes them: the CA that signed the engine's certificate,
// and Steward's own certificate and key.
type DockerTLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// On reports whether TLS files are set.
func (t DockerTLS) On() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// DockerSSH are the options of an ssh:// engine. Empty, ssh uses the
// configuration of the user Steward runs as.
type DockerSSH struct {
	// Identity is the private key to log in with.
	Identity string `yaml:"identity"`
	// KnownHosts is the known_hosts file that holds the host's key; with it,
	// an unknown or changed host key is refused.
	KnownHosts string `yaml:"known_hosts"`
}

// DockerEngine is one engine to manage, as Docker.Engines lists them.
type DockerEngine struct {
	// Name is the host's name in commands; empty for the one engine of
	// docker.host.
	Name string
	DockerHost
}

// Engines lists the engines to manage: those of docker.hosts in name order,
// or else the one engine of docker.host.
func (d Docker) Engines() []DockerEngine {
	if len(d.Hosts) == 0 {
		return []DockerEngine{{DockerHost: DockerHost{Address: d.Host, TLS: d.TLS, SSH: d.SSH, OnlyLabel: d.OnlyLabel}}}
	}
	engines := make([]DockerEngine, 0, len(d.Hosts))
	for _, name := range slices.Sorted(maps.Keys(d.Hosts)) {
		engines = append(engines, DockerEngine{Name: name, DockerHost: d.Hosts[name]})
	}
	return engines
}

// DefaultUpdateCheck is how often images are checked for updates.
const DefaultUpdateCheck = Duration(24 * time.Hour)

// DefaultSettle is how long an updated container without a health check must run.
const DefaultSettle = Duration(10 * time.Second)

// RateLimit caps how many commands one user may send, so a stuck client or a
// loop of bots cannot keep the server busy restarting things.
type RateLimit struct {
	Burst     int     `yaml:"burst"`
	PerMinute float64 `yaml:"per_minute"`
}

// Policy lets the admins ask for more approval than the built-in policy of a
// command requires, and sets how long approval requests stay open. It can
// only make a command stricter than its built-in policy, never looser.
type Policy struct {
	// Commands tightens the approval policy of single commands, by command
	// name (without the prefix): none, confirm, second_admin or quorum:N, as
	// read by ParsePolicy.
	Commands map[string]string `yaml:"commands"`
	// ApprovalTTL is how long an approval request stays open.
	ApprovalTTL Duration `yaml:"approval_ttl"`
	// AllowSingleAdmin lets second_admin and quorum fall back to confirm when
	// exactly one admin is configured, so a one-person team is not locked out
	// of its own server.
	AllowSingleAdmin bool `yaml:"allow_single_admin"`
}

// ParsePolicy reads an approval policy as written in policy.commands: none,
// confirm, second_admin or quorum:N with N from 1 to MaxQuorum. It returns
// the kind (PolicyNone, PolicyConfirm, PolicySecondAdmin or PolicyQuorum)
// and, for a quorum, N; n is 0 for the other kinds. Its errors are plain
// enough to show to the person who wrote s.
func ParsePolicy(s string) (kind string, n int, err error) {
	kind, n, ok := parsePolicy(s)
	switch {
	case ok:
		return kind, n, nil
	case s == "":
		return "", 0, fmt.Errorf("no policy given; use %s", policyForms)
	}
	if rest, isQuorum := strings.CutPrefix(s, PolicyQuorum+":"); isQuorum && rest != "" &&
		strings.Trim(rest, "0123456789") == "" {
		return "", 0, fmt.Errorf("%s is out of range: N must be from 1 to %d", s, MaxQuorum)
	}
	// Case, spaces and dashes are forgiven in the suggestion only: the file
	// should say exactly what is meant.
	for _, space := range []rune{-1, '_'} { // "quorum: 2", "second admin"
		loose := strings.Map(func(r rune) rune {
			switch {
			case unicode.IsSpace(r):
				return space
			case r == '-':
				return '_'
			}
			return unicode.ToLower(r)
		}, strings.TrimSpace(s))
		if kind, n, ok := parsePolicy(loose); ok {
			return "", 0, fmt.Errorf("not a policy: %q (did you mean %q?)", s, formatPolicy(kind, n))
		}
	}
	return "", 0, fmt.Errorf("not a policy: %q; use %s", s, policyForms)
}

// policyForms lists the policies ParsePolicy accepts, for its messages; its
// 20 is MaxQuorum.
const policyForms = "none, confirm, second_admin or quorum:N with N from 1 to 20"

// parsePolicy is ParsePolicy without the explanations.
func parsePolicy(s string) (kind string, n int, ok bool) {
	switch s {
	case PolicyNone, PolicyConfirm, PolicySecondAdmin:
		return s, 0, true
	}
	rest, ok := strings.CutPrefix(s, PolicyQuorum+":")
	if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > MaxQuorum {
		return "", 0, false
	}
	return PolicyQuorum, n, true
}

// formatPolicy writes a policy the way ParsePolicy reads it.
func formatPolicy(kind string, n int) string {
	if kind == PolicyQuorum {
		return fmt.Sprintf("%s:%d", kind, n)
	}
	return kind
}

// DecisionLog configures what Steward reports from its decision log on its
// own, so the admins see what was done without having to ask.
type DecisionLog struct {
	// WeeklySummary, when set, posts a summary of the week's decisions to the
	// admin room. Nil (the key absent or null) means no summary.
	WeeklySummary *WeeklySummary `yaml:"weekly_summary"`
}

// WeeklySummary says when the weekly summary is posted.
type WeeklySummary struct {
	// Day is monday to sunday (or mon to sun), in any case; use Weekday.
	Day string `yaml:"day"`
	// Hour is the hour of the day, 0 to 23, in TimeZone.
	Hour int `yaml:"hour"`
	// TimeZone is an IANA zone name like Europe/Berlin, so the summary
	// arrives at the same local time across daylight saving changes.
	TimeZone string `yaml:"time_zone"`
	// Location is TimeZone loaded, filled in by Load and Parse.
	Location *time.Location `yaml:"-"`
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

// Problem is one thing wrong with the config file. Key is the dotted path of
// the setting, e.g. "matrix.admins[1]"; it is empty for problems with the file
// as a whole. Line is 1-based, or 0 when the setting is missing from the file.
type Problem struct {
	Key  string
	Line int
	Msg  string
}

// String formats the problem as one line, e.g.
// `matrix.stale_after (line 7): not a duration: "ten"`.
func (p Problem) String() string {
	switch {
	case p.Key != "" && p.Line > 0:
		return fmt.Sprintf("%s (line %d): %s", p.Key, p.Line, p.Msg)
	case p.Key != "":
		return p.Key + ": " + p.Msg
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	default:
		return p.Msg
	}
}

// Problems is every problem found in one config file. Load and Parse return
// it (as *Problems) so the operator can fix the whole file in one go.
type Problems []Problem

// Error lists the problems one per line, in file order, missing keys last.
func (p Problems) Error() string {
	lines := make([]string, len(p))
	for i, pr := range p {
		lines[i] = pr.String()
	}
	return strings.Join(lines, "\n")
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
	fmt.Fprintf(f, fmt.FormatString(f, verb), p)
}

// Load reads the config file at path, fills in defaults, checks every value
// and reads the password. Relative data_dir and password_file are taken
// relative to the file's directory, so a config and its secret can be moved
// together. It returns *Problems when the file is invalid, and a wrapped
// error when the file itself cannot be read.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve config path %s: %w", path, err)
	}
	return parse(data, os.Getenv, filepath.Dir(abs))
}

// Parse is Load for a config already in memory, with getenv standing in for
// os.Getenv (nil means an empty environment) so tests can set PasswordEnv.
// Relative paths are kept as given, i.e. relative to the working directory.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	return parse(data, getenv, "")
}

// parse does the work of Load and Parse; baseDir, when not empty, is the
// directory that relative paths are resolved against.
func parse(data []byte, getenv func(string) string, baseDir string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	root, ps := readDocument(data)
	if root == nil {
		return nil, &ps
	}

	w := walker{
		lines: map[string]int{},
		set:   map[string]bool{},
		bad:   map[string]bool{},
	}
	w.walk(root, reflect.TypeFor[Config](), "", root.Line)

	var cfg Config
	if err := root.Decode(&cfg); err != nil && len(w.problems) == 0 {
		// The walk should have found anything Decode trips over; if it did
		// not, still refuse the file rather than run on a half-read config.
		w.problems = append(w.problems, Problem{Msg: strings.TrimPrefix(err.Error(), "yaml: ")})
	}

	v := validator{walker: &w, getenv: getenv, baseDir: baseDir}
	v.applyDefaults(&cfg)
	v.check(&cfg)

	if len(w.problems) > 0 {
		ps := w.problems
		slices.SortStableFunc(ps, func(a, b Problem) int {
			// File order, with missing keys (line 0) at the end.
			return cmp.Compare(lineOrder(a.Line), lineOrder(b.Line))
		})
		return nil, &ps
	}
	return &cfg, nil
}

func lineOrder(line int) int {
	if line <= 0 {
		return math.MaxInt32
	}
	return line
}

// readDocument parses data into a single YAML mapping node, or returns nil and
// the reason it is not one.
func readDocument(data []byte) (*yaml.Node, Problems) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{Msg: "the config file is empty; it needs at least the matrix and data_dir settings"}}
		}
		return nil, Problems{syntaxProblem(err)}
	}
	var ps Problems
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		ps = append(ps, syntaxProblem(err))
	default:
		ps = append(ps, Problem{Line: extra.Line, Msg: "the file holds more than one YAML document (---); Steward reads exactly one"})
	}

	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	switch {
	case isNull(root) || root.Kind == yaml.DocumentNode:
		ps = append(ps, Problem{Line: root.Line, Msg: "the config file is empty; it needs at least the matrix and data_dir settings"})
	case root.Kind != yaml.MappingNode && !(root.Kind == yaml.AliasNode && root.Alias != nil && root.Alias.Kind == yaml.MappingNode):
		ps = append(ps, Problem{Line: root.Line, Msg: "expected a mapping of settings (matrix:, data_dir:, ...), got " + describe(root)})
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return root, nil
}

// syntaxProblem turns a yaml parse error ("yaml: line 3: did not find
// expected key") into a Problem with the line split out.
func syntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				return Problem{Line: line, Msg: "not valid YAML: " + text}
			}
		}
	}
	return Problem{Msg: "not valid YAML: " + msg}
}

// walker checks a YAML node tree against a Go type, recording what it finds
// so the later checks can give line numbers and skip keys already reported.
type walker struct {
	problems Problems
	lines    map[string]int  // dotted key -> line it appears on
	set      map[string]bool // keys present with a non-null value
	bad      map[string]bool // keys whose value could not be decoded
}

// typeProblem records a value that cannot be decoded into its field.
func (w *walker) typeProblem(key string, line int, msg string) {
	w.bad[key] = true
	w.problems = append(w.problems, Problem{Key: key, Line: line, Msg: msg})
}

// walk checks node n against type t at dotted key; line is where the key is.
// It reports false when n itself cannot be decoded into t (problems further
// down are handled by the callers lower in the tree), so the caller can
// replace n with null: the YAML decoder abandons the whole decode on some errors, and
// one bad value must not empty the rest of the config.
func (w *walker) walk(n *yaml.Node, t reflect.Type, key string, line int) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	w.lines[key] = line
	if isNull(n) {
		return true // absent: the default applies, as with yaml.Unmarshal
	}
	w.set[key] = true

	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		u := reflect.New(t).Interface().(yaml.Unmarshaler)
		if err := u.UnmarshalYAML(n); err != nil {
			w.typeProblem(key, line, err.Error())
			return false
		}
		return true
	}

	switch t.Kind() {
	case reflect.Pointer:
		return w.walk(n, t.Elem(), key, line)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.typeProblem(key, line, "expected a mapping of settings, got "+describe(n))
			return false
		}
		w.mapping(n, shape{fields: fieldsByName(t)}, key, map[string]int{})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.typeProblem(key, line, `expected a mapping (one "name: value" per line), got `+describe(n))
			return false
		}
		w.mapping(n, shape{key: t.Key(), elem: t.Elem()}, key, map[string]int{})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.typeProblem(key, line, `expected a list (one "- item" per line), got `+describe(n))
			return false
		}
		for i, item := range n.Content {
			if !w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", key, i), item.Line) {
				n.Content[i] = zeroNode(item, t.Elem())
			}
		}
	case reflect.Interface:
		// Anything goes.
	default:
		return w.scalar(n, t, key, line)
	}
	return true
}

// nullNode stands in for a value that was reported, so the final decode
// leaves its field at the zero value and carries on.
func nullNode(at *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: at.Line, Column: at.Column}
}

// zeroNode stands in for a list item that was reported. the YAML decoder drops null
// items from a list, which would move the items after it to indexes other
// than the ones their problems are recorded under; the zero value of the
// item's type keeps every item where the file has it.
func zeroNode(at *yaml.Node, t reflect.Type) *yaml.Node {
	var n yaml.Node
	if err := n.Encode(reflect.Zero(t).Interface()); err != nil {
		return nullNode(at)
	}
	n.Line, n.Column = at.Line, at.Column
	return &n
}

// shape is what the entries of a mapping are walked against: the fields of a
// struct, whose names are fixed, or the key and element types of a Go map,
// whose names are the user's (like the commands in policy.commands).
type shape struct {
	fields    map[string]reflect.StructField // for a struct
	key, elem reflect.Type                   // for a map
}

// mapping walks the entries of a mapping node against s, dropping entries
// that were reported so the final decode skips them. seen maps each key to
// its line, to catch keys set twice.
func (w *walker) mapping(n *yaml.Node, s shape, key string, seen map[string]int) {
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if w.entry(k, v, s, key, seen) {
			kept = append(kept, k, v)
		}
	}
	n.Content = kept
}

// entry checks one key/value pair of a mapping and reports whether the final
// decode may keep it.
func (w *walker) entry(k, v *yaml.Node, s shape, key string, seen map[string]int) bool {
	if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
		return w.merge(v, s, key)
	}
	if k.Kind != yaml.ScalarNode || (s.fields == nil && isNull(k)) {
		// Only this entry is dropped: the rest of the mapping is still
		// checked, so this is not a typeProblem of the mapping.
		w.problems = append(w.problems, Problem{Key: key, Line: k.Line, Msg: "keys must be plain names, got " + describe(k)})
		return false
	}
	child := joinKey(key, k.Value)
	if first, dup := seen[k.Value]; dup {
		w.typeProblem(child, k.Line, fmt.Sprintf("set twice (first on line %d)", first))
		return false
	}
	seen[k.Value] = k.Line
	if s.fields == nil {
		// A map: any name goes (the validator judges it), if it decodes
		// into the key type; the value is walked like any other.
		return w.scalar(k, s.key, child, k.Line) && w.walk(v, s.elem, child, k.Line)
	}
	f, ok := s.fields[k.Value]
	if !ok {
		w.problems = append(w.problems, Problem{Key: child, Line: k.Line, Msg: unknownKeyMsg(k.Value, s.fields)})
		return false
	}
	return w.walk(v, f.Type, child, k.Line)
}

// merge walks the mappings pulled in with "<<: *anchor". Their keys may be
// overridden by the mapping that merges them, so they get their own seen set.
// It reports whether the merge can be kept for the final decode.
func (w *walker) merge(v *yaml.Node, s shape, key string) bool {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		w.mapping(v, s, key, map[string]int{})
		return true
	case yaml.SequenceNode:
		ok := true
		for _, item := range v.Content {
			ok = w.merge(item, s, key) && ok
		}
		return ok
	default:
		w.typeProblem(key, v.Line, "<< must merge a mapping, got "+describe(v))
		return false
	}
}

// scalar checks that a leaf value decodes into t, on its own, so the error
// names this key rather than the whole file.
func (w *walker) scalar(n *yaml.Node, t reflect.Type, key string, line int) bool {
	if n.Kind == yaml.ScalarNode && n.Decode(reflect.New(t).Interface()) == nil {
		return true
	}
	w.typeProblem(key, line, fmt.Sprintf("expected %s, got %s", wantedKind(t), describe(n)))
	return false
}

// wantedKind names what a value of type t looks like in YAML.
func wantedKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a single value"
	default:
		return t.String()
	}
}

// describe names what a node is, quoting short scalars, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if utf8.RuneCountInString(v) > 40 {
			v = string([]rune(v)[:40]) + "..."
		}
		return strconv.Quote(v)
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a YAML document"
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func joinKey(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

// fieldsByName maps the YAML names of a struct's exported fields to them,
// following the YAML decoder's rules: the tag name, else the lowercased field name.
func fieldsByName(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fields[name] = f
	}
	return fields
}

// unknownKeyMsg explains an unknown key, suggesting the nearest known one so
// "homeservr" points at "homeserver". It never repeats the value, which may
// be a password typed into the wrong place.
func unknownKeyMsg(name string, fields map[string]reflect.StructField) string {
	if strings.Contains(strings.ToLower(name), "password") {
		return "unknown key; put the password in a file named by matrix.password_file, or set " + PasswordEnv
	}
	best, bestDist := "", 3 // suggest only close matches
	for known := range fields {
		if d := editDistance(strings.ToLower(name), known); d < bestDist || (d == bestDist && known < best) {
			best, bestDist = known, d
		}
	}
	if best == "" {
		known := make([]string, 0, len(fields))
		for k := range fields {
			known = append(known, k)
		}
		slices.Sort(known)
		return "unknown key; known keys here are " + strings.Join(known, ", ")
	}
	return fmt.Sprintf("unknown key (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validator fills in defaults and checks values after decoding, using what
// the walker recorded about presence, lines and already-reported keys.
type validator struct {
	*walker
	getenv  func(string) string
	baseDir string
}

// invalid records a problem with key, unless the key or one of its parents
// already failed to decode, which would only repeat that problem.
func (v *validator) invalid(key, msg string) {
	for k := key; ; {
		if v.bad[k] {
			return
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	v.problems = append(v.problems, Problem{Key: key, Line: v.lines[key], Msg: msg})
}

// applyDefaults fills in keys that are absent or null in the file.
func (v *validator) applyDefaults(c *Config) {
	setDefault(v, "matrix.device_name", &c.Matrix.DeviceName, DefaultDeviceName)
	setDefault(v, "matrix.command_prefix", &c.Matrix.CommandPrefix, DefaultCommandPrefix)
	setDefault(v, "matrix.stale_after", &c.Matrix.StaleAfter, DefaultStaleAfter)
	if c.Matrix.RequireVerifiedDevices == nil {
		yes := true
		c.Matrix.RequireVerifiedDevices = &yes
	}
	setDefault(v, "log.level", &c.Log.Level, DefaultLogLevel)
	setDefault(v, "log.format", &c.Log.Format, DefaultLogFormat)
	v.monitorDefaults(&c.Monitor)
	setDefault(v, "oncall.handover", &c.OnCall.Handover, DefaultHandover)
	if !c.OnCall.Daily() {
		setDefault(v, "oncall.day", &c.OnCall.Day, DefaultHandoverDay)
	}
	setDefault(v, "oncall.hour", &c.OnCall.Hour, DefaultHandoverHour)
	setDefault(v, "oncall.time_zone", &c.OnCall.TimeZone, DefaultHandoverZone)
	setDefault(v, "rate_limit.burst", &c.RateLimit.Burst, DefaultBurst)
	setDefault(v, "docker.update_check", &c.Docker.UpdateCheck, DefaultUpdateCheck)
	setDefault(v, "docker.settle", &c.Docker.Settle, DefaultSettle)
	setDefault(v, "rate_limit.per_minute", &c.RateLimit.PerMinute, DefaultPerMinute)
	setDefault(v, "policy.approval_ttl", &c.Policy.ApprovalTTL, DefaultApprovalTTL)
	v.backupDefaults(&c.Backups)
	v.ticketDefaults(&c.Tickets)
	if ws := c.DecisionLog.WeeklySummary; ws != nil {
		setDefault(v, "decision_log.weekly_summary.hour", &ws.Hour, DefaultSummaryHour)
		setDefault(v, "decision_log.weekly_summary.time_zone", &ws.TimeZone, DefaultSummaryZone)
	}
}

// monitorDefaults fills in the monitor section. Checks inherit monitor.for,
// so it is defaulted first.
func (v *validator) monitorDefaults(m *Monitor) {
	setDefault(v, "monitor.disks", &m.Disks, []Disk{{Path: DefaultDiskPath}})
	setDefault(v, "monitor.interval", &m.Interval, DefaultMonitorInterval)
	setDefault(v, "monitor.for", &m.For, DefaultAlertFor)
	setDefault(v, "monitor.hysteresis", &m.Hysteresis, DefaultHysteresis)
	setDefault(v, "monitor.group_wait", &m.GroupWait, DefaultGroupWait)
	setDefault(v, "monitor.escalate_after", &m.EscalateAfter, DefaultEscalateAfter)
	setDefault(v, "monitor.announce_after", &m.AnnounceAfter, DefaultAnnounceAfter)
	v.thresholdDefaults("monitor.cpu", &m.CPU, DefaultCPUWarning, DefaultCPUCritical, DefaultCPUFor)
	v.thresholdDefaults("monitor.memory", &m.Memory, DefaultMemoryWarning, DefaultMemoryCritical, m.For)
	v.thresholdDefaults("monitor.swap", &m.Swap, DefaultSwapWarning, DefaultSwapCritical, m.For)
	v.thresholdDefaults("monitor.load", &m.Load, DefaultLoadWarning, DefaultLoadCritical, m.For)
	for i := range m.Disks {
		d, key := &m.Disks[i], fmt.Sprintf("monitor.disks[%d]", i)
		setDefault(v, key+".warning", &d.Warning, DefaultDiskWarning)
		setDefault(v, key+".critical", &d.Critical, DefaultDiskCritical)
		setDefault(v, key+".inodes_warning", &d.InodesWarning, DefaultInodesWarning)
		setDefault(v, key+".inodes_critical", &d.InodesCritical, DefaultInodesCritical)
		setDefault(v, key+".forecast", &d.Forecast, DefaultDiskForecast)
		setDefault(v, key+".for", &d.For, m.For)
	}
	for i := range m.HTTP {
		h, key := &m.HTTP[i], fmt.Sprintf("monitor.http[%d]", i)
		setDefault(v, key+".interval", &h.Interval, DefaultHTTPInterval)
		// A check written to run every 5s should not be refused for the
		// default timeout being longer than that.
		timeout := DefaultHTTPTimeout
		if h.Interval >= minCheckInterval {
			timeout = min(timeout, h.Interval)
		}
		setDefault(v, key+".timeout", &h.Timeout, timeout)
		setDefault(v, key+".latency_warning", &h.LatencyWarning, DefaultLatencyWarning)
		setDefault(v, key+".cert_warning", &h.CertWarning, DefaultCertWarning)
		setDefault(v, key+".cert_critical", &h.CertCritical, DefaultCertCritical)
		setDefault(v, key+".for", &h.For, m.For)
	}
	if m.Containers.Enabled == nil {
		yes := true
		m.Containers.Enabled = &yes
	}
	setDefault(v, "monitor.containers.restart_loop", &m.Containers.RestartLoop, DefaultRestartLoop)
	setDefault(v, "monitor.containers.restart_window", &m.Containers.RestartWindow, DefaultRestartWindow)
	setDefault(v, "monitor.containers.for", &m.Containers.For, DefaultContainersFor)
	if dd := m.DailyDigest; dd != nil {
		setDefault(v, "monitor.daily_digest.hour", &dd.Hour, DefaultDigestHour)
		setDefault(v, "monitor.daily_digest.time_zone", &dd.TimeZone, DefaultDigestZone)
	}
}

// thresholdDefaults fills in the threshold at key with the given levels and
// For.
func (v *validator) thresholdDefaults(key string, t *Threshold, warning, critical float64, forDef Duration) {
	if t.Enabled == nil {
		yes := true
		t.Enabled = &yes
	}
	setDefault(v, key+".warning", &t.Warning, warning)
	setDefault(v, key+".critical", &t.Critical, critical)
	setDefault(v, key+".for", &t.For, forDef)
}

func setDefault[T any](v *validator, key string, field *T, def T) {
	if !v.set[key] && !v.bad[key] {
		*field = def
	}
}

// check validates every value and reads the password.
func (v *validator) check(c *Config) {
	v.checkMatrix(c)
	if c.DataDir == "" {
		v.invalid("data_dir", "required: the directory where Steward keeps its database and encryption keys, like /var/lib/steward")
	} else {
		c.DataDir = v.resolve(c.DataDir)
	}
	// No trace: at that level the database layer logs query arguments, which include
	// the session's access token.
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.invalid("log.level", fmt.Sprintf("must be one of debug, info, warn, error; got %q", c.Log.Level))
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		v.invalid("log.format", fmt.Sprintf("must be json or console; got %q", c.Log.Format))
	}
	v.checkMonitor(&c.Monitor)
	v.checkOnCall(c)
	v.checkDocker(&c.Docker)
	v.checkBackups(c)
	v.checkTickets(&c.Tickets)
	if uc := c.Docker.UpdateCheck.D(); uc < 0 || (uc > 0 && uc < time.Minute) {
		v.invalid("docker.update_check", fmt.Sprintf("must be 0s (off) or at least 1m, got %s", c.Docker.UpdateCheck))
	}
	if st := c.Docker.Settle.D(); st < time.Second || st > 10*time.Minute {
		v.invalid("docker.settle", fmt.Sprintf("must be between 1s and 10m, got %s", c.Docker.Settle))
	}
	if c.RateLimit.Burst < 1 {
		v.invalid("rate_limit.burst", fmt.Sprintf("must be at least 1, got %d", c.RateLimit.Burst))
	}
	if pm := c.RateLimit.PerMinute; math.IsNaN(pm) || math.IsInf(pm, 0) || pm <= 0 {
		v.invalid("rate_limit.per_minute", fmt.Sprintf("must be a finite number above 0, got %v", pm))
	}
	v.checkPolicy(c)
	if ws := c.DecisionLog.WeeklySummary; ws != nil {
		v.checkWeeklySummary(ws)
	}
}

// checkMonitor validates the monitor section and loads the daily digest's
// time zone into its Location.
func (v *validator) checkMonitor(m *Monitor) {
	if m.Interval < minCheckInterval {
		v.invalid("monitor.interval", fmt.Sprintf("must be at least 1s, got %s", m.Interval))
	}
	v.checkFor("monitor.for", m.For)
	if h := m.Hysteresis; math.IsNaN(h) || h < 0 || h > maxHysteresis {
		v.invalid("monitor.hysteresis", fmt.Sprintf("must be from 0 to 20 (percentage points), got %v", h))
	}
	if m.GroupWait < 0 || m.GroupWait > maxGroupWait {
		v.invalid("monitor.group_wait", fmt.Sprintf("must be between 0s and 5m, got %s", m.GroupWait))
	}
	if m.EscalateAfter < minEscalateAfter || m.EscalateAfter > maxEscalateAfter {
		v.invalid("monitor.escalate_after", fmt.Sprintf("must be between 1m and 24h, got %s", m.EscalateAfter))
	}
	if m.AnnounceAfter < 0 || m.AnnounceAfter > maxAnnounceAfter {
		v.invalid("monitor.announce_after", fmt.Sprintf("must be between 0s and 24h, got %s", m.AnnounceAfter))
	}
	v.checkThreshold("monitor.cpu", m.CPU, percentLevel)
	v.checkThreshold("monitor.memory", m.Memory, percentLevel)
	v.checkThreshold("monitor.swap", m.Swap, percentLevel)
	v.checkThreshold("monitor.load", m.Load, loadLevel)

	firstPath := map[string]int{}
	for i, d := range m.Disks {
		key := fmt.Sprintf("monitor.disks[%d]", i)
		switch clean := filepath.Clean(d.Path); {
		case d.Path == "":
			v.invalid(key+".path", "required: an absolute path on the filesystem to watch, like /")
		case !filepath.IsAbs(d.Path):
			v.invalid(key+".path", fmt.Sprintf("must be an absolute path, got %q", d.Path))
		default:
			if j, dup := firstPath[clean]; dup {
				v.invalid(key+".path", fmt.Sprintf("%s is listed twice (also monitor.disks[%d])", d.Path, j))
			} else {
				firstPath[clean] = i
			}
		}
		v.checkLevels(key+".warning", d.Warning, key+".critical", d.Critical, percentLevel)
		v.checkLevels(key+".inodes_warning", d.InodesWarning, key+".inodes_critical", d.InodesCritical, percentLevel)
		if d.Forecast < 0 {
			v.invalid(key+".forecast", fmt.Sprintf("must not be negative (0 turns the forecast off), got %s", d.Forecast))
		}
		v.checkFor(key+".for", d.For)
	}

	firstName := map[string]int{}
	for i, h := range m.HTTP {
		key := fmt.Sprintf("monitor.http[%d]", i)
		v.checkHTTP(key, h)
		if j, dup := firstName[h.Name]; dup && h.Name != "" {
			v.invalid(key+".name", fmt.Sprintf("%s is listed twice (also monitor.http[%d]); alerts tell checks apart by name", h.Name, j))
		} else {
			firstName[h.Name] = i
		}
	}

	v.checkContainers(m.Containers)

	if dd := m.DailyDigest; dd != nil {
		dd.Location = v.checkSchedule("monitor.daily_digest", dd.Hour, dd.TimeZone, DefaultDigestZone)
	}
}

// levelKind says which values the levels of a check accept.
type levelKind int

const (
	percentLevel levelKind = iota // cpu, memory, swap and disks
	loadLevel                     // load, per CPU core
)

// ok reports whether x is a level of kind k.
func (k levelKind) ok(x float64) bool {
	if k == loadLevel {
		return x > 0 && !math.IsInf(x, 0)
	}
	return x > 0 && x <= 100
}

// want says what ok accepts, for messages.
func (k levelKind) want() string {
	if k == loadLevel {
		return "a number above 0 (the 5-minute load average per CPU core)"
	}
	return "a percentage above 0 and at most 100"
}

// checkThreshold validates one of the host checks at key.
func (v *validator) checkThreshold(key string, t Threshold, kind levelKind) {
	v.checkLevels(key+".warning", t.Warning, key+".critical", t.Critical, kind)
	v.checkFor(key+".for", t.For)
}

// checkLevels requires both levels to be of kind and the warning level to be
// below the critical one. A clash is reported at the warning level if it is
// written in the file, else at the critical one, so the line shown is one
// the operator wrote.
func (v *validator) checkLevels(wKey string, w float64, cKey string, c float64, kind levelKind) {
	wOK, cOK := kind.ok(w), kind.ok(c)
	if !wOK {
		v.invalid(wKey, fmt.Sprintf("must be %s, got %v", kind.want(), w))
	}
	if !cOK {
		v.invalid(cKey, fmt.Sprintf("must be %s, got %v", kind.want(), c))
	}
	if !wOK || !cOK || w < c || v.bad[wKey] || v.bad[cKey] {
		return
	}
	if v.set[wKey] {
		v.invalid(wKey, fmt.Sprintf("must be below %s (%v%s), got %v", cKey, c, v.defaultNote(cKey), w))
	} else {
		v.invalid(cKey, fmt.Sprintf("must be above %s (%v%s), got %v", wKey, w, v.defaultNote(wKey), c))
	}
}

// defaultNote marks a value in a message as the default when key is not
// written in the file, so nobody searches the file for it.
func (v *validator) defaultNote(key string) string {
	if v.set[key] {
		return ""
	}
	return ", the default"
}

// checkFor requires a check's for at key not to be negative. An inherited
// value is monitor.for, reported there, so only one written here is checked.
func (v *validator) checkFor(key string, d Duration) {
	if v.set[key] && d < 0 {
		v.invalid(key, fmt.Sprintf("must not be negative, got %s", d))
	}
}

// checkHTTP validates one entry of monitor.http at key, apart from whether
// its name is unique.
func (v *validator) checkHTTP(key string, h HTTPCheck) {
	invalid := func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') }
	switch {
	case h.Name == "":
		v.invalid(key+".name", "required: a short name for the check, like website; alerts are told apart by it")
	case strings.ContainsFunc(h.Name, invalid):
		v.invalid(key+".name", fmt.Sprintf("not a check name: %q; use lower-case letters, digits, - and _", h.Name))
	}
	if h.URL == "" {
		v.invalid(key+".url", "required: the address to check, like https://example.org/")
	} else if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.invalid(key+".url", fmt.Sprintf("not an http:// or https:// URL with a host: %q", h.URL))
	}
	intervalOK := h.Interval >= minCheckInterval
	if !intervalOK {
		v.invalid(key+".interval", fmt.Sprintf("must be at least 1s, got %s", h.Interval))
	}
	switch {
	case h.Timeout <= 0:
		v.invalid(key+".timeout", fmt.Sprintf("must be longer than 0, got %s", h.Timeout))
	case intervalOK && h.Timeout > h.Interval:
		v.invalid(key+".timeout", fmt.Sprintf("must not be longer than %s.interval (%s%s), so checks never overlap; got %s",
			key, h.Interval, v.defaultNote(key+".interval"), h.Timeout))
	}
	if h.Status != nil && len(h.Status) == 0 {
		v.invalid(key+".status", "must list at least one status code; leave it out to accept any 2xx or 3xx")
	}
	firstSeen := map[int]int{}
	for i, code := range h.Status {
		ckey := fmt.Sprintf("%s.status[%d]", key, i)
		if code < 100 || code > 599 {
			v.invalid(ckey, fmt.Sprintf("not an HTTP status code (100 to 599): %d", code))
			continue
		}
		if j, dup := firstSeen[code]; dup {
			v.invalid(ckey, fmt.Sprintf("%d is listed twice (also %s.status[%d])", code, key, j))
			continue
		}
		firstSeen[code] = i
	}
	if h.LatencyWarning <= 0 {
		v.invalid(key+".latency_warning", fmt.Sprintf("must be longer than 0, got %s", h.LatencyWarning))
	}
	if h.CertCritical < 0 {
		v.invalid(key+".cert_critical", fmt.Sprintf("must not be negative, got %s", h.CertCritical))
	} else if h.CertWarning <= h.CertCritical && !v.bad[key+".cert_warning"] && !v.bad[key+".cert_critical"] {
		wKey, cKey := key+".cert_warning", key+".cert_critical"
		if v.set[wKey] {
			v.invalid(wKey, fmt.Sprintf("must be longer than %s (%s%s), got %s", cKey, h.CertCritical, v.defaultNote(cKey), h.CertWarning))
		} else {
			v.invalid(cKey, fmt.Sprintf("must be shorter than %s (%s%s), got %s", wKey, h.CertWarning, v.defaultNote(wKey), h.CertCritical))
		}
	}
	v.checkFor(key+".for", h.For)
}

// checkContainers validates monitor.containers.
func (v *validator) checkContainers(c Containers) {
	const key = "monitor.containers"
	if c.RestartLoop < minRestartLoop {
		v.invalid(key+".restart_loop", fmt.Sprintf("must be at least 2 (one restart is not a loop), got %d", c.RestartLoop))
	}
	if c.RestartWindow < minRestartWindow || c.RestartWindow > maxRestartWindow {
		v.invalid(key+".restart_window", fmt.Sprintf("must be between 1m and 24h, got %s", c.RestartWindow))
	}
	v.checkFor(key+".for", c.For)
}

// dockerHostForms lists the addresses checkDockerHost accepts, for its
// messages.
const dockerHostForms = "unix:///path/to/docker.sock, tcp://host:port or ssh://user@host"

// dockerHostName is what a name in docker.hosts may be: it is typed in
// commands before a slash, so it has none.
var dockerHostName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)

// dockerLabel is what docker.only_label may be: KEY or KEY=VALUE.
var dockerLabel = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*(=\S*)?$`)

// checkDocker validates the engines of the docker section and resolves the
// paths of their files.
func (v *validator) checkDocker(d *Docker) {
	if len(d.Hosts) == 0 {
		if v.set["docker.hosts"] {
			v.invalid("docker.hosts", "must name at least one engine; leave it out to use docker.host")
		}
		v.checkDockerEngine("docker", "docker.host", d.Host, &d.TLS, &d.SSH, d.OnlyLabel)
		return
	}
	for _, k := range []string{"docker.host", "docker.tls", "docker.ssh", "docker.only_label"} {
		if v.set[k] {
			v.invalid(k, "can't be set with docker.hosts; set it for each host under docker.hosts.NAME")
		}
	}
	byAddress := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(d.Hosts)) {
		key := "docker.hosts." + name
		// One engine under two names is two views of it, which must not overlap:
		// two updates of one container at once would trip over each other.
		if h := d.Hosts[name]; h.Address != "" {
			if other, dup := byAddress[h.Address]; dup {
				if o := d.Hosts[other]; h.OnlyLabel == "" || o.OnlyLabel == "" || h.OnlyLabel == o.OnlyLabel {
					v.invalid(key+".address", fmt.Sprintf("is docker.hosts.%s's engine too; two hosts on one engine need different only_label values, so no container is in both", other))
				}
			}
			byAddress[h.Address] = name
		}
		if !dockerHostName.MatchString(name) {
			v.invalid(key, "a host name is lower-case letters, digits, '.', '_' and '-', at most 32, starting with a letter or digit")
		}
		h := d.Hosts[name]
		if h.Address == "" {
			v.invalid(key, "needs an address: where the engine is reached, like "+dockerHostForms)
		} else {
			v.checkDockerEngine(key, key+".address", h.Address, &h.TLS, &h.SSH, h.OnlyLabel)
		}
		d.Hosts[name] = h
	}
}

// checkDockerEngine validates one engine's address, TLS and ssh files and
// label; key is its section, addrKey the key of its address.
func (v *validator) checkDockerEngine(key, addrKey, addr string, tls *DockerTLS, ssh *DockerSSH, label string) {
	v.checkDockerHost(addrKey, addr)
	scheme, _, _ := strings.Cut(addr, "://")
	if tls.On() {
		if scheme != "tcp" {
			v.invalid(key+".tls", "is for a tcp:// engine only")
		}
		for _, f := range []struct {
			name string
			path *string
		}{{"ca", &tls.CA}, {"cert", &tls.Cert}, {"key", &tls.Key}} {
			v.checkReadable(key+".tls."+f.name, f.path, "all three of ca, cert and key are needed for TLS")
		}
	}
	if ssh.Identity != "" || ssh.KnownHosts != "" {
		if scheme != "ssh" {
			v.invalid(key+".ssh", "is for an ssh:// engine only")
		}
		if ssh.Identity != "" {
			v.checkReadable(key+".ssh.identity", &ssh.Identity, "")
		}
		if ssh.KnownHosts != "" {
			v.checkReadable(key+".ssh.known_hosts", &ssh.KnownHosts, "")
		}
	}
	if label != "" && !dockerLabel.MatchString(label) {
		v.invalid(key+".only_label", fmt.Sprintf("must be a label, KEY or KEY=VALUE, like com.docker.compose.project=cloud; got %q", label))
	}
}

// checkReadable resolves the file *path names and checks Steward can read it;
// empty, it is required, as missing says.
func (v *validator) checkReadable(key string, path *string, missing string) {
	if *path == "" {
		v.invalid(key, "required: "+missing)
		return
	}
	*path = v.resolve(*path)
	f, err := os.Open(*path)
	if err != nil {
		v.invalid(key, "can't read it: "+err.Error())
		return
	}
	_ = f.Close()
}

// checkDockerHost requires an engine's address, when set, to be an address the
// Docker client can dial from Linux: it reads unix:// as a path, so
// unix://var/run/docker.sock (two slashes) is a relative one. An address
// holding a password is refused without repeating it.
func (v *validator) checkDockerHost(key, host string) {
	if host == "" {
		if v.set[key] {
			v.invalid(key, "must not be empty; leave it out to use $DOCKER_HOST, else unix:///var/run/docker.sock")
		}
		return
	}
	if hasPassword(host) {
		v.invalid(key, "must not hold a password; ssh:// logs in with the ssh key of the user Steward runs as")
		return
	}
	scheme, rest, ok := strings.Cut(host, "://")
	switch scheme {
	case "unix":
		if !filepath.IsAbs(rest) {
			v.invalid(key, fmt.Sprintf("unix:// needs an absolute path to the socket, like unix:///var/run/docker.sock "+
				"(three slashes); got %q", host))
		}
	case "tcp":
		u, err := url.Parse(host)
		if err != nil || u.Hostname() == "" || u.Port() == "" {
			v.invalid(key, fmt.Sprintf("tcp:// needs a host and port, like tcp://192.0.2.10:2376; got %q", host))
		} else if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			v.invalid(key, fmt.Sprintf("the port must be from 1 to 65535, got %s", u.Port()))
		}
	case "ssh":
		if u, err := url.Parse(host); err != nil || u.Hostname() == "" {
			v.invalid(key, fmt.Sprintf("ssh:// needs a host, like ssh://steward@docker.example.org; got %q", host))
		} else if u.RawQuery != "" || u.Fragment != "" {
			v.invalid(key, fmt.Sprintf("ssh:// takes no ?query or #fragment; got %q", host))
		}
	case "npipe":
		v.invalid(key, "npipe:// is how Docker is reached on Windows, and Steward runs on Linux; use "+dockerHostForms)
	case "http", "https":
		v.invalid(key, fmt.Sprintf("not a Docker Engine address: %q; the engine's API is reached at tcp://host:port, not %s://", host, scheme))
	default:
		if !ok && filepath.IsAbs(host) {
			v.invalid(key, fmt.Sprintf("not a Docker Engine address: %q (did you mean %q?)", host, "unix://"+host))
		} else {
			v.invalid(key, fmt.Sprintf("not a Docker Engine address: %q; use %s", host, dockerHostForms))
		}
	}
}

// hasPassword reports whether addr holds a user:password@ part, also when
// it is not a valid URL, so no message repeats it.
func hasPassword(addr string) bool {
	_, rest, _ := strings.Cut(addr, "://")
	authority, _, _ := strings.Cut(rest, "/")
	i := strings.LastIndex(authority, "@")
	return i >= 0 && strings.Contains(authority[:i], ":")
}

// checkPolicy validates the policy section against the admins configured.
func (v *validator) checkPolicy(c *Config) {
	p := &c.Policy
	// The requester never counts towards their own approval.
	others := len(slices.Compact(slices.Sorted(slices.Values(c.Matrix.Admins)))) - 1
	fallback := others == 0 && p.AllowSingleAdmin
	for _, name := range slices.Sorted(maps.Keys(p.Commands)) {
		key := "policy.commands." + name
		v.checkCommandName(key, name, c.Matrix.CommandPrefix)

		kind, n, err := ParsePolicy(p.Commands[name])
		switch {
		case err != nil && p.Commands[name] == "":
			v.invalid(key, fmt.Sprintf("needs a policy (%s); leave the command out to keep its built-in policy", policyForms))
		case err != nil:
			v.invalid(key, err.Error())
		case others < 0 || fallback:
			// No admins is reported at matrix.admins; a single admin
			// was allowed to confirm alone.
		case kind == PolicySecondAdmin && others == 0:
			v.invalid(key, "second_admin needs an admin besides the one asking, but matrix.admins lists only one; "+
				"add one, or set policy.allow_single_admin: true to let a single admin confirm alone")
		case kind == PolicyQuorum && n > others:
			have := fmt.Sprintf("only %d other admins are", others)
			switch others {
			case 0:
				have = "no other admin is"
			case 1:
				have = "only 1 other admin is"
			}
			msg := fmt.Sprintf("%s needs %d admins besides the one asking, but %s configured in matrix.admins", p.Commands[name], n, have)
			if others == 0 {
				msg += "; add some, or set policy.allow_single_admin: true to let a single admin confirm alone"
			}
			v.invalid(key, msg)
		}
	}
	if ttl := p.ApprovalTTL; ttl < minApprovalTTL || ttl > maxApprovalTTL {
		v.invalid("policy.approval_ttl", fmt.Sprintf("must be between 1m and 168h (a week), got %s", ttl))
	}
}

// checkCommandName requires a key of policy.commands to be a command name as
// help lists it, without the prefix, since that is what the commands package
// looks up. Whether such a command exists is for the commands package to say.
func (v *validator) checkCommandName(key, name, prefix string) {
	for _, p := range []string{prefix, DefaultCommandPrefix} {
		if rest, ok := strings.CutPrefix(name, p); ok && p != "" && rest != "" {
			v.invalid(key, fmt.Sprintf("write the command name without %q: %s", p, strings.ToLower(rest)))
			return
		}
	}
	invalid := func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') }
	lower := strings.ToLower(name)
	switch {
	case name == "":
		v.invalid(key, "the command name is empty")
	case !strings.ContainsFunc(name, invalid):
		// A command name.
	case !strings.ContainsFunc(lower, invalid):
		v.invalid(key, "command names are lower-case: "+lower)
	default:
		v.invalid(key, fmt.Sprintf("not a command name: %q; write the name as help lists it, without the prefix "+
			"(lower-case letters, digits, - and _)", name))
	}
}

// checkWeeklySummary validates decision_log.weekly_summary and loads its time
// zone into Location.
func (v *validator) checkWeeklySummary(ws *WeeklySummary) {
	const key = "decision_log.weekly_summary"
	if ws.Day == "" {
		v.invalid(key+".day", "required: the day to post the summary on, like monday (or mon)")
	} else {
		v.checkWeekday(key+".day", ws.Day)
	}
	ws.Location = v.checkSchedule(key, ws.Hour, ws.TimeZone, DefaultSummaryZone)
}

// checkWeekday requires the day at key to be one parseWeekday knows.
func (v *validator) checkWeekday(key, day string) {
	if _, ok := parseWeekday(day); !ok {
		v.invalid(key, fmt.Sprintf("not a day of the week: %q; use monday to sunday, or mon to sun", day))
	}
}

// checkOnCall validates the oncall section against the admins configured
// and loads its time zone into Location.
func (v *validator) checkOnCall(c *Config) {
	o := &c.OnCall
	admins := c.Matrix.Admins
	firstSeen := map[id.UserID]int{}
	for i, u := range o.Rotation {
		key := fmt.Sprintf("oncall.rotation[%d]", i)
		if !validUserID(u) {
			v.invalid(key, fmt.Sprintf("not a valid Matrix user ID (like @alice:example.org): %q", u))
			continue
		}
		if j, dup := firstSeen[u]; dup {
			v.invalid(key, fmt.Sprintf("%s is listed twice (also oncall.rotation[%d])", u, j))
			continue
		}
		firstSeen[u] = i
		// No admins is reported at matrix.admins; every entry would only
		// repeat it.
		if len(admins) > 0 && !slices.Contains(admins, u) {
			v.invalid(key, fmt.Sprintf("%s is not in matrix.admins: only admins can be on duty", u))
		}
	}

	if o.Handover != handoverDaily && o.Handover != handoverWeekly {
		v.invalid("oncall.handover", fmt.Sprintf("must be daily or weekly; got %q", o.Handover))
	}
	switch {
	case o.Daily():
		if v.set["oncall.day"] {
			v.invalid("oncall.day", "day only applies to a weekly handover; leave it out with handover: daily")
		}
	case o.Day == "":
		v.invalid("oncall.day", "must not be empty; leave it out to use "+strconv.Quote(DefaultHandoverDay))
	default:
		v.checkWeekday("oncall.day", o.Day)
	}
	o.Location = v.checkSchedule("oncall", o.Hour, o.TimeZone, DefaultHandoverZone)
}

// checkSchedule validates the hour and time_zone of something done at a set
// time of day (the weekly summary, the daily digest, the on-call handover)
// at key, and returns the zone loaded, or nil if it is not valid. defZone is
// time_zone's default.
func (v *validator) checkSchedule(key string, hour int, zone, defZone string) *time.Location {
	if hour < 0 || hour > 23 {
		v.invalid(key+".hour", fmt.Sprintf("must be from 0 to 23 (the hour of the day in time_zone), got %d", hour))
	}
	if zone == "" {
		v.invalid(key+".time_zone", "must not be empty; leave it out to use "+strconv.Quote(defZone))
		return nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		v.invalid(key+".time_zone", fmt.Sprintf("not a time zone: %q; use a name like Europe/Berlin, America/New_York or UTC", zone))
		return nil
	}
	return loc
}

// checkMatrix validates the matrix section and reads the password into c.
func (v *validator) checkMatrix(c *Config) {
	m := &c.Matrix
	if !v.set["matrix"] && !v.bad["matrix"] {
		v.invalid("matrix", "required: the bot's Matrix account and rooms "+
			"(homeserver, user_id, password_file, admin_room, group_room, admins)")
		return
	}

	if m.Homeserver == "" {
		v.invalid("matrix.homeserver", "required: the URL of your homeserver, like https://matrix.example.org")
	} else if u, err := url.Parse(m.Homeserver); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.invalid("matrix.homeserver", fmt.Sprintf("not an http:// or https:// URL with a host: %q", m.Homeserver))
	}

	if m.UserID == "" {
		v.invalid("matrix.user_id", "required: the bot's own Matrix user ID, like @steward:example.org")
	} else if !validUserID(m.UserID) {
		v.invalid("matrix.user_id", fmt.Sprintf("not a valid Matrix user ID (like @steward:example.org): %q", m.UserID))
	}

	if m.DeviceName == "" {
		v.invalid("matrix.device_name", "must not be empty; leave it out to use "+strconv.Quote(DefaultDeviceName))
	}

	v.checkRoom("matrix.admin_room", m.AdminRoom)
	v.checkRoom("matrix.group_room", m.GroupRoom)
	if m.AdminRoom != "" && m.AdminRoom == m.GroupRoom {
		v.invalid("matrix.group_room", "must differ from admin_room: alerts and approvals go to the admin room, "+
			"everyone talks to the bot in the group room")
	}

	if len(m.Admins) == 0 {
		v.invalid("matrix.admins", "required: a list of at least one Matrix user ID allowed to run admin commands")
	}
	firstSeen := map[id.UserID]int{}
	for i, a := range m.Admins {
		key := fmt.Sprintf("matrix.admins[%d]", i)
		if !validUserID(a) {
			v.invalid(key, fmt.Sprintf("not a valid Matrix user ID (like @alice:example.org): %q", a))
			continue
		}
		if j, dup := firstSeen[a]; dup {
			v.invalid(key, fmt.Sprintf("%s is listed twice (also matrix.admins[%d])", a, j))
			continue
		}
		firstSeen[a] = i
		if a == m.UserID {
			v.invalid(key, "is the bot's own user_id; the bot must not be able to approve its own actions")
		}
	}

	switch p := m.CommandPrefix; {
	case p == "":
		v.invalid("matrix.command_prefix", "must not be empty; leave it out to use "+strconv.Quote(DefaultCommandPrefix))
	case strings.IndexFunc(p, unicode.IsSpace) >= 0:
		v.invalid("matrix.command_prefix", fmt.Sprintf("must not contain spaces or other whitespace, got %q", p))
	case utf8.RuneCountInString(p) > maxCommandPrefix:
		v.invalid("matrix.command_prefix", fmt.Sprintf("must be at most %d characters, got %q", maxCommandPrefix, p))
	}

	if m.StaleAfter <= 0 {
		v.invalid("matrix.stale_after", fmt.Sprintf("must be longer than 0, got %s", m.StaleAfter))
	}

	if m.PasswordFile != "" {
		m.PasswordFile = v.resolve(m.PasswordFile)
	}
	c.password = v.readPassword(m)
}

// validUserID accepts what Matrix servers accept: @localpart:server with a
// non-empty localpart (historical characters allowed) and a valid server name.
func validUserID(u id.UserID) bool {
	if len(u) > id.UserIDMaxLength {
		return false
	}
	local, server, err := u.Parse()
	return err == nil && local != "" && id.ValidateServerName(server)
}

// checkRoom requires a room ID or alias at key. Room IDs from room version 12
// on have no ":server" part, so that part is optional for IDs; aliases
// always have one.
func (v *validator) checkRoom(key, room string) {
	if room == "" {
		v.invalid(key, "required: a room ID (!abc:example.org) or alias (#name:example.org)")
		return
	}
	sigil, local, server := id.ParseCommonIdentifier(room)
	ok := len(room) <= 255 && local != "" && strings.IndexFunc(room, unicode.IsSpace) < 0
	switch {
	case sigil == '#':
		ok = ok && id.ValidateServerName(server)
	case sigil == '!':
		ok = ok && (!strings.Contains(room, ":") || id.ValidateServerName(server))
	default:
		ok = false
	}
	if !ok {
		v.invalid(key, fmt.Sprintf("not a room ID (!abc:example.org) or alias (#name:example.org): %q", room))
	}
}

// resolve makes a relative path relative to the config file's directory,
// when loading from a file.
func (v *validator) resolve(p string) string {
	if v.baseDir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.baseDir, p)
}

// readPassword returns the password from the environment or the password
// file, recording a problem if there is none. Messages name the file and the
// reason it could not be read, never its contents.
func (v *validator) readPassword(m *Matrix) string {
	if pw := v.getenv(PasswordEnv); pw != "" {
		return pw
	}
	const key = "matrix.password_file"
	if m.PasswordFile == "" {
		v.invalid(key, "required unless "+PasswordEnv+" is set: a file holding the bot's Matrix password")
		return ""
	}
	data, err := os.ReadFile(m.PasswordFile)
	if err != nil {
		// *fs.PathError reads "open /path: permission denied": path and reason only.
		v.invalid(key, "can't read the password file: "+err.Error())
		return ""
	}
	pw := strings.TrimRightFunc(string(data), unicode.IsSpace)
	if pw == "" {
		v.invalid(key, fmt.Sprintf("the password file %s is empty", m.PasswordFile))
	}
	return pw
}
