package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"maunium.net/go/mautrix/id"
)

// base is a minimal valid config; the password comes from the environment.
const base = `matrix:
  homeserver: https://matrix.example.org
  user_id: "@steward:example.org"
  admin_room: "!admins:example.org"
  group_room: "#friends:example.org"
  admins:
    - "@alice:example.org"
    - "@bob:example.org"
data_dir: /var/lib/steward
`

const envPassword = "env-secret-3f9c"

// env returns a getenv that knows only STEWARD_MATRIX_PASSWORD=pw.
func env(pw string) func(string) string {
	return func(k string) string {
		if k == PasswordEnv {
			return pw
		}
		return ""
	}
}

// edit applies old→new replacements to base, failing if an old is missing so
// a case cannot silently test the unedited config.
func edit(t *testing.T, doc string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(doc, pairs[i]) {
			t.Fatalf("edit: %q not found in config", pairs[i])
		}
		doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
	}
	return doc
}

// problemsOf returns the Problems in err, failing if err is something else.
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T (%v), want *Problems", err, err)
	}
	return *ps
}

func keysOf(ps Problems) []string {
	keys := make([]string, len(ps))
	for i, p := range ps {
		keys[i] = p.Key
	}
	return keys
}

func ptr[T any](v T) *T { return &v }

// after returns the edit that adds extra at the end of base, whose last line
// (data_dir) is line 9, so extra starts on line 10.
func after(extra string) []string {
	return []string{"data_dir: /var/lib/steward\n", "data_dir: /var/lib/steward\n" + extra}
}

// diskEntry adds a monitor.disks list whose first entry is "/" followed by
// extra, which starts on line 13.
func diskEntry(extra string) []string {
	return after("monitor:\n  disks:\n    - path: /\n" + extra)
}

// httpEntry adds a monitor.http check named web followed by extra, which
// starts on line 14; more are edits applied after that.
func httpEntry(extra string, more ...string) []string {
	return append(after("monitor:\n  http:\n    - name: web\n      url: https://example.org/\n"+extra), more...)
}

// oneAdmin and threeAdmins replace base's two admins.
var (
	oneAdmin    = []string{"    - \"@bob:example.org\"\n", ""}
	threeAdmins = []string{"    - \"@bob:example.org\"\n", "    - \"@bob:example.org\"\n    - \"@carol:example.org\"\n"}
)

func TestLoadValid(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		Matrix: Matrix{
			Homeserver:              "https://matrix.example.org",
			UserID:                  "@steward:example.org",
			PasswordFile:            filepath.Join(dir, "password.txt"),
			DeviceName:              "Steward test",
			AdminRoom:               "!admins:example.org",
			GroupRoom:               "#friends:example.org",
			Admins:                  []id.UserID{"@alice:example.org", "@bob:example.org"},
			CommandPrefix:           "?",
			ShareKeysWithUnverified: true,
			AllowUnencrypted:        true,
			RequireVerifiedDevices:  ptr(false),
			StaleAfter:              Duration(90 * time.Minute),
		},
		DataDir: filepath.Join(dir, "data"),
		Log:     Log{Level: "debug", Format: "console"},
		Monitor: Monitor{
			Disks: []Disk{
				{Path: "/", Warning: 85, Critical: 95, InodesWarning: 85, InodesCritical: 95,
					Forecast: Duration(72 * time.Hour), For: Duration(time.Minute)},
				{Path: "/srv", Warning: 70, Critical: 80, InodesWarning: 60, InodesCritical: 75,
					Forecast: 0, For: 0, Hint: "docker system prune"},
			},
			Interval:      Duration(15 * time.Second),
			For:           Duration(time.Minute),
			Hysteresis:    0,
			GroupWait:     0,
			EscalateAfter: Duration(time.Hour),
			AnnounceAfter: Duration(5 * time.Minute),
			CPU:           Threshold{Enabled: ptr(false), Warning: 80, Critical: 99.5, For: Duration(10 * time.Minute), Hint: "top -o %CPU"},
			Memory: Threshold{Enabled: ptr(true), Warning: 85, Critical: 100, For: Duration(time.Minute),
				Hint: "https://wiki.example.org/runbooks/memory"},
			Swap: Threshold{Enabled: ptr(true), Warning: 50, Critical: 80, For: 0},
			Load: Threshold{Enabled: ptr(true), Warning: 1.5, Critical: 3, For: Duration(time.Minute)},
			HTTP: []HTTPCheck{
				{Name: "website", URL: "https://example.org/health", Interval: Duration(time.Minute), Timeout: Duration(time.Minute),
					Status: []int{200, 204}, LatencyWarning: Duration(500 * time.Millisecond),
					CertWarning: Duration(720 * time.Hour), CertCritical: Duration(168 * time.Hour),
					For: Duration(3 * time.Minute), Hint: "runs in the web container", Public: true},
				{Name: "grafana_2", URL: "http://127.0.0.1:3000/api/health", Interval: Duration(30 * time.Second),
					Timeout: Duration(10 * time.Second), LatencyWarning: Duration(2 * time.Second),
					CertWarning: Duration(336 * time.Hour), CertCritical: Duration(72 * time.Hour), For: Duration(time.Minute)},
			},
			Containers: Containers{Enabled: ptr(false), RestartLoop: 5, RestartWindow: Duration(time.Hour), For: Duration(30 * time.Second),
				Hint: "cd /srv/compose && docker compose ps"},
			DailyDigest: &DailyDigest{Hour: 18, TimeZone: "America/New_York"},
		},
		OnCall: OnCall{Rotation: []id.UserID{"@bob:example.org", "@alice:example.org"}, Handover: "weekly", Day: "SUN",
			Hour: 20, TimeZone: "Asia/Tokyo"},
		Docker:  Docker{Host: "ssh://steward@docker.example.org:2222", UpdateCheck: Duration(12 * time.Hour), Settle: Duration(30 * time.Second)},
		Backups: Backups{StagingDir: filepath.Join(dir, "data", DefaultStagingDir), Interval: Duration(10 * time.Minute)},
		Tickets: Tickets{AbuseDeadline: Duration(24 * time.Hour), RemindBefore: Duration(2 * time.Hour), MaxPerDay: 5,
			Retention: Duration(90 * 24 * time.Hour), Categories: []string{"spam", "harassment", "illegal", "other"}},
		RateLimit: RateLimit{Burst: 3, PerMinute: 7.5, MessageBurst: 10, MessagesPerMinute: 30},
		Retention: Retention{After: Duration(30 * 24 * time.Hour)},
		Policy: Policy{
			Commands:         map[string]string{"announce": "second_admin", "restart": "quorum:1"},
			ApprovalTTL:      Duration(2 * time.Hour),
			AllowSingleAdmin: true,
		},
		DecisionLog: DecisionLog{WeeklySummary: &WeeklySummary{Day: "Fri", Hour: 0, TimeZone: "Europe/Berlin"}, CheckpointEvery: 50, CheckpointInterval: Duration(24 * time.Hour)},
		HTTP:        HTTP{ReadySyncAge: Duration(time.Minute)},
		Heartbeat:   Heartbeat{Every: Duration(time.Minute)},
		Fallback:    Fallback{After: Duration(5 * time.Minute)},
		password:    "correct horse battery staple",
	}
	ws := cfg.DecisionLog.WeeklySummary
	if ws == nil || ws.Location == nil || ws.Location.String() != "Europe/Berlin" {
		t.Fatalf("weekly_summary = %+v, want its Location loaded as Europe/Berlin", ws)
	}
	want.DecisionLog.WeeklySummary.Location = ws.Location
	dd := cfg.Monitor.DailyDigest
	if dd == nil || dd.Location == nil || dd.Location.String() != "America/New_York" {
		t.Fatalf("daily_digest = %+v, want its Location loaded as America/New_York", dd)
	}
	want.Monitor.DailyDigest.Location = dd.Location
	if loc := cfg.OnCall.Location; loc == nil || loc.String() != "Asia/Tokyo" {
		t.Fatalf("oncall.Location = %v, want Asia/Tokyo loaded", loc)
	}
	want.OnCall.Location = cfg.OnCall.Location
	for name, line := range map[string]int{"announce": 95, "restart": 96, "status": 0} {
		if got := cfg.Policy.CommandLine(name); got != line {
			t.Errorf("Policy.CommandLine(%q) = %d, want %d", name, got, line)
		}
	}
	want.Policy.lines = cfg.Policy.lines
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", *cfg, want)
	}
	if got := cfg.Password(); got != want.password {
		t.Errorf("Password() = %q, want the file's contents without the newline", got)
	}
	if cfg.Matrix.VerifiedDevicesRequired() {
		t.Error("VerifiedDevicesRequired() = true, want false as configured")
	}
	if cfg.Monitor.CPU.On() || !cfg.Monitor.Swap.On() || !cfg.Monitor.Load.On() {
		t.Errorf("On() of cpu, swap, load = %v, %v, %v; want false as configured, true as configured, true by default",
			cfg.Monitor.CPU.On(), cfg.Monitor.Swap.On(), cfg.Monitor.Load.On())
	}
	if cfg.Monitor.Containers.On() {
		t.Error("containers On() = true, want false as configured")
	}
}

func TestLoadAppliesDefaults(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "minimal.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	m := cfg.Matrix
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"device_name", m.DeviceName, "Steward"},
		{"command_prefix", m.CommandPrefix, "!"},
		{"share_keys_with_unverified", m.ShareKeysWithUnverified, false},
		{"allow_unencrypted", m.AllowUnencrypted, false},
		{"require_verified_devices", m.VerifiedDevicesRequired(), true},
		{"stale_after", m.StaleAfter.D(), 10 * time.Minute},
		{"log.level", cfg.Log.Level, "info"},
		{"log.format", cfg.Log.Format, "json"},
		{"monitor.disks", cfg.Monitor.Disks, []Disk{{Path: "/", Warning: 85, Critical: 95, InodesWarning: 85, InodesCritical: 95,
			Forecast: Duration(72 * time.Hour), For: Duration(2 * time.Minute)}}},
		{"monitor.interval", cfg.Monitor.Interval.D(), 30 * time.Second},
		{"monitor.for", cfg.Monitor.For.D(), 2 * time.Minute},
		{"monitor.hysteresis", cfg.Monitor.Hysteresis, 3.0},
		{"monitor.group_wait", cfg.Monitor.GroupWait.D(), 10 * time.Second},
		{"monitor.escalate_after", cfg.Monitor.EscalateAfter.D(), 15 * time.Minute},
		{"monitor.announce_after", cfg.Monitor.AnnounceAfter.D(), 10 * time.Minute},
		{"monitor.cpu", cfg.Monitor.CPU, Threshold{Enabled: ptr(true), Warning: 90, Critical: 98, For: Duration(5 * time.Minute)}},
		{"monitor.memory", cfg.Monitor.Memory, Threshold{Enabled: ptr(true), Warning: 90, Critical: 95, For: Duration(2 * time.Minute)}},
		{"monitor.swap", cfg.Monitor.Swap, Threshold{Enabled: ptr(true), Warning: 50, Critical: 80, For: Duration(2 * time.Minute)}},
		{"monitor.load", cfg.Monitor.Load, Threshold{Enabled: ptr(true), Warning: 2, Critical: 4, For: Duration(2 * time.Minute)}},
		{"monitor.cpu.On()", cfg.Monitor.CPU.On(), true},
		{"monitor.http", cfg.Monitor.HTTP, []HTTPCheck(nil)},
		{"monitor.containers", cfg.Monitor.Containers, Containers{Enabled: ptr(true), RestartLoop: 3, RestartWindow: Duration(10 * time.Minute)}},
		{"monitor.containers.On()", cfg.Monitor.Containers.On(), true},
		{"monitor.daily_digest (off)", cfg.Monitor.DailyDigest, (*DailyDigest)(nil)},
		{"oncall", cfg.OnCall, OnCall{Handover: "weekly", Day: "monday", Hour: 9, TimeZone: "UTC", Location: time.UTC}},
		{"docker.host ($DOCKER_HOST, else the local socket)", cfg.Docker.Host, ""},
		{"docker.update_check", cfg.Docker.UpdateCheck, Duration(24 * time.Hour)},
		{"docker.settle", cfg.Docker.Settle, Duration(10 * time.Second)},
		{"rate_limit.burst", cfg.RateLimit.Burst, 5},
		{"rate_limit.per_minute", cfg.RateLimit.PerMinute, 20.0},
		{"data_dir (absolute, kept)", cfg.DataDir, "/var/lib/steward"},
		{"policy.commands", cfg.Policy.Commands, map[string]string(nil)},
		{"policy.approval_ttl", cfg.Policy.ApprovalTTL.D(), 30 * time.Minute},
		{"policy.allow_single_admin", cfg.Policy.AllowSingleAdmin, false},
		{"decision_log.weekly_summary (off)", cfg.DecisionLog.WeeklySummary, (*WeeklySummary)(nil)},
		{"http.ready_sync_age", cfg.HTTP.ReadySyncAge.D(), time.Minute},
		{"heartbeat.every", cfg.Heartbeat.Every.D(), time.Minute},
		{"fallback.after", cfg.Fallback.After.D(), 5 * time.Minute},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestLoadUnreadableConfig(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want a not-exist error", err)
	}
	var ps *Problems
	if errors.As(err, &ps) {
		t.Errorf("Load(missing) returned Problems %v, want a plain read error", ps)
	}
}

func TestParseKeepsRelativePaths(t *testing.T) {
	doc := edit(t, base, "data_dir: /var/lib/steward", "data_dir: state",
		"  admins:", "  password_file: secrets/pw\n  admins:")
	cfg, err := Parse([]byte(doc), env(envPassword))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.DataDir != "state" || cfg.Matrix.PasswordFile != "secrets/pw" {
		t.Errorf("DataDir, PasswordFile = %q, %q; want them as written", cfg.DataDir, cfg.Matrix.PasswordFile)
	}
}

// TestParseProblems checks each rule on its own: every case is the base
// config with one edit, and must produce exactly the listed keys.
func TestParseProblems(t *testing.T) {
	cases := []struct {
		name  string
		edits []string // old, new pairs applied to base
		doc   string   // used instead of base when set
		keys  []string // nil: the config is valid
		lines []int    // the problems' lines, when set
		msg   string   // substring of the first problem's message
	}{
		// Valid variations.
		{name: "base config", keys: nil},
		{name: "room v12 ID without server", edits: []string{`"!admins:example.org"`, `"!Q1w2E3r4T5y6U7i8O9p0aSdFgHjKlZxCvBnM123456"`}},
		{name: "prefix of 8 characters", edits: []string{"data_dir:", "  command_prefix: '!!!!!!!!'\ndata_dir:"}},
		{name: "explicit empty disk list", edits: []string{"data_dir:", "monitor:\n  disks: []\ndata_dir:"}},
		{name: "yes is a boolean", edits: []string{"data_dir:", "  allow_unencrypted: yes\ndata_dir:"}},
		{name: "alias repeats an admin", edits: []string{`- "@alice:example.org"`, `- &a "@alice:example.org"`, `- "@bob:example.org"`, "- *a"},
			keys: []string{"matrix.admins[1]"}, msg: "listed twice"},
		{name: "merge key in rate_limit", edits: []string{"data_dir:", "rate_limit:\n  <<: {burst: 2}\n  burst: 3\ndata_dir:"}},

		// Unknown keys at any depth.
		{name: "unknown matrix key", edits: []string{"  admins:", "  homeservr: x\n  admins:"},
			keys: []string{"matrix.homeservr"}, msg: `did you mean "homeserver"?`},
		{name: "unknown top-level key", edits: []string{"data_dir:", "datadir: /x\ndata_dir:"},
			keys: []string{"datadir"}, msg: `did you mean "data_dir"?`},
		{name: "unknown key in list item", edits: []string{"data_dir:", "monitor:\n  disks:\n    - path: /\n      pth: /srv\ndata_dir:"},
			keys: []string{"monitor.disks[0].pth"}, msg: `did you mean "path"?`},
		{name: "unknown key with nothing close", edits: []string{"data_dir:", "log:\n  colour: blue\ndata_dir:"},
			keys: []string{"log.colour"}, msg: "known keys here are format, level"},
		{name: "password typed into the config", edits: []string{"  admins:", "  password: hunter2\n  admins:"},
			keys: []string{"matrix.password"}, msg: "password_file"},
		{name: "key set twice", edits: []string{"data_dir: /var/lib/steward", "data_dir: /a\ndata_dir: /b"},
			keys: []string{"data_dir"}, msg: "set twice (first on line 9)"},

		// Wrong types, reported once at their key.
		{name: "admins as a string", edits: []string{"  admins:\n    - \"@alice:example.org\"\n    - \"@bob:example.org\"", `  admins: "@alice:example.org"`},
			keys: []string{"matrix.admins"}, msg: "expected a list"},
		{name: "admin entry a mapping", edits: []string{`- "@bob:example.org"`, "- {name: bob}"},
			keys: []string{"matrix.admins[1]"}, msg: "expected a single value, got a mapping"},
		{name: "burst not a number", edits: []string{"data_dir:", "rate_limit:\n  burst: lots\ndata_dir:"},
			keys: []string{"rate_limit.burst"}, msg: `expected a whole number, got "lots"`},
		{name: "per_minute not a number", edits: []string{"data_dir:", "rate_limit:\n  per_minute: fast\ndata_dir:"},
			keys: []string{"rate_limit.per_minute"}, msg: `expected a number, got "fast"`},
		{name: "allow_unencrypted maybe", edits: []string{"data_dir:", "  allow_unencrypted: maybe\ndata_dir:"},
			keys: []string{"matrix.allow_unencrypted"}, msg: `expected true or false, got "maybe"`},
		{name: "share_keys_with_unverified a list", edits: []string{"data_dir:", "  share_keys_with_unverified: [true]\ndata_dir:"},
			keys: []string{"matrix.share_keys_with_unverified"}, msg: "expected true or false, got a list"},
		{name: "require_verified_devices sometimes", edits: []string{"data_dir:", "  require_verified_devices: sometimes\ndata_dir:"},
			keys: []string{"matrix.require_verified_devices"}, msg: "expected true or false"},
		{name: "stale_after ten", edits: []string{"data_dir:", "  stale_after: ten\ndata_dir:"},
			keys: []string{"matrix.stale_after"}, msg: `not a duration: "ten"`},
		{name: "stale_after without unit", edits: []string{"data_dir:", "  stale_after: 10\ndata_dir:"},
			keys: []string{"matrix.stale_after"}, msg: `not a duration: "10"`},
		{name: "matrix a string", doc: "matrix: yes\ndata_dir: /x\n",
			keys: []string{"matrix"}, msg: "expected a mapping"},
		{name: "log a string", edits: []string{"data_dir:", "log: verbose\ndata_dir:"},
			keys: []string{"log"}, msg: `expected a mapping of settings, got "verbose"`},
		{name: "disks a mapping", edits: []string{"data_dir:", "monitor:\n  disks:\n    path: /\ndata_dir:"},
			keys: []string{"monitor.disks"}, msg: "expected a list"},
		{name: "data_dir a list", edits: []string{"data_dir: /var/lib/steward", "data_dir: [/a]"},
			keys: []string{"data_dir"}, msg: "expected a single value, got a list"},

		// Missing required keys.
		{name: "no matrix section", doc: "data_dir: /x\n", keys: []string{"matrix"}, msg: "required"},
		{name: "no homeserver", edits: []string{"  homeserver: https://matrix.example.org\n", ""},
			keys: []string{"matrix.homeserver"}, msg: "required"},
		{name: "no user_id", edits: []string{"  user_id: \"@steward:example.org\"\n", ""},
			keys: []string{"matrix.user_id"}, msg: "required"},
		{name: "no admin_room", edits: []string{"  admin_room: \"!admins:example.org\"\n", ""},
			keys: []string{"matrix.admin_room"}, msg: "required"},
		{name: "no group_room", edits: []string{"  group_room: \"#friends:example.org\"\n", ""},
			keys: []string{"matrix.group_room"}, msg: "required"},
		{name: "no admins", edits: []string{"  admins:\n    - \"@alice:example.org\"\n    - \"@bob:example.org\"\n", ""},
			keys: []string{"matrix.admins"}, msg: "required"},
		{name: "admins null", edits: []string{"  admins:\n    - \"@alice:example.org\"\n    - \"@bob:example.org\"\n", "  admins:\n"},
			keys: []string{"matrix.admins"}, msg: "required"},
		{name: "admins empty", edits: []string{"  admins:\n    - \"@alice:example.org\"\n    - \"@bob:example.org\"\n", "  admins: []\n"},
			keys: []string{"matrix.admins"}, msg: "at least one"},
		{name: "no data_dir", edits: []string{"data_dir: /var/lib/steward\n", ""},
			keys: []string{"data_dir"}, msg: "required"},
		{name: "disk without path", edits: []string{"data_dir:", "monitor:\n  disks:\n    - path: /\n    - {}\ndata_dir:"},
			keys: []string{"monitor.disks[1].path"}, msg: "required"},

		// Invalid values.
		{name: "homeserver without scheme", edits: []string{"https://matrix.example.org", "matrix.example.org"},
			keys: []string{"matrix.homeserver"}, msg: "not an http:// or https:// URL"},
		{name: "homeserver ftp", edits: []string{"https://matrix.example.org", "ftp://matrix.example.org"},
			keys: []string{"matrix.homeserver"}, msg: "not an http:// or https:// URL"},
		{name: "homeserver without host", edits: []string{"https://matrix.example.org", "https:///_matrix"},
			keys: []string{"matrix.homeserver"}, msg: "with a host"},
		{name: "user_id without sigil", edits: []string{`"@steward:example.org"`, "steward:example.org"},
			keys: []string{"matrix.user_id"}, msg: "not a valid Matrix user ID"},
		{name: "user_id without server", edits: []string{`"@steward:example.org"`, `"@steward"`},
			keys: []string{"matrix.user_id"}, msg: "not a valid Matrix user ID"},
		{name: "user_id with empty localpart", edits: []string{`"@steward:example.org"`, `"@:example.org"`},
			keys: []string{"matrix.user_id"}, msg: "not a valid Matrix user ID"},
		{name: "device_name empty", edits: []string{"data_dir:", "  device_name: \"\"\ndata_dir:"},
			keys: []string{"matrix.device_name"}, msg: "must not be empty"},
		{name: "admin_room without sigil", edits: []string{`"!admins:example.org"`, "admins"},
			keys: []string{"matrix.admin_room"}, msg: "not a room ID"},
		{name: "alias without server", edits: []string{`"#friends:example.org"`, `"#friends"`},
			keys: []string{"matrix.group_room"}, msg: "not a room ID"},
		{name: "room with bad server", edits: []string{`"!admins:example.org"`, `"!admins:exa mple"`},
			keys: []string{"matrix.admin_room"}, msg: "not a room ID"},
		{name: "group_room equals admin_room", edits: []string{`"#friends:example.org"`, `"!admins:example.org"`},
			keys: []string{"matrix.group_room"}, msg: "must differ from admin_room"},
		{name: "invalid admin", edits: []string{`"@bob:example.org"`, "bob"},
			keys: []string{"matrix.admins[1]"}, msg: `not a valid Matrix user ID (like @alice:example.org): "bob"`},
		{name: "duplicate admin", edits: []string{`    - "@bob:example.org"`, "    - \"@bob:example.org\"\n    - \"@alice:example.org\""},
			keys: []string{"matrix.admins[2]"}, msg: "listed twice (also matrix.admins[0])"},
		{name: "bot is its own admin", edits: []string{`"@bob:example.org"`, `"@steward:example.org"`},
			keys: []string{"matrix.admins[1]"}, msg: "bot's own user_id"},
		{name: "command_prefix empty", edits: []string{"data_dir:", "  command_prefix: ''\ndata_dir:"},
			keys: []string{"matrix.command_prefix"}, msg: "must not be empty"},
		{name: "command_prefix with space", edits: []string{"data_dir:", "  command_prefix: '! '\ndata_dir:"},
			keys: []string{"matrix.command_prefix"}, msg: "whitespace"},
		{name: "command_prefix too long", edits: []string{"data_dir:", "  command_prefix: '!steward!'\ndata_dir:"},
			keys: []string{"matrix.command_prefix"}, msg: "at most 8 characters"},
		{name: "stale_after zero", edits: []string{"data_dir:", "  stale_after: 0s\ndata_dir:"},
			keys: []string{"matrix.stale_after"}, msg: "longer than 0"},
		{name: "stale_after negative", edits: []string{"data_dir:", "  stale_after: -5m\ndata_dir:"},
			keys: []string{"matrix.stale_after"}, msg: "longer than 0"},
		{name: "log level unknown", edits: []string{"data_dir:", "log:\n  level: verbose\ndata_dir:"},
			keys: []string{"log.level"}, msg: `must be one of debug, info, warn, error; got "verbose"`},
		{name: "log format unknown", edits: []string{"data_dir:", "log:\n  format: text\ndata_dir:"},
			keys: []string{"log.format"}, msg: "json or console"},
		{name: "disk path relative", edits: []string{"data_dir:", "monitor:\n  disks:\n    - path: srv\ndata_dir:"},
			keys: []string{"monitor.disks[0].path"}, msg: "absolute"},
		{name: "burst zero", edits: []string{"data_dir:", "rate_limit:\n  burst: 0\ndata_dir:"},
			keys: []string{"rate_limit.burst"}, msg: "at least 1"},
		{name: "per_minute zero", edits: []string{"data_dir:", "rate_limit:\n  per_minute: 0\ndata_dir:"},
			keys: []string{"rate_limit.per_minute"}, msg: "above 0"},
		{name: "per_minute NaN", edits: []string{"data_dir:", "rate_limit:\n  per_minute: .nan\ndata_dir:"},
			keys: []string{"rate_limit.per_minute"}, msg: "above 0"},
		{name: "per_minute infinite", edits: []string{"data_dir:", "rate_limit:\n  per_minute: .inf\ndata_dir:"},
			keys: []string{"rate_limit.per_minute"}, msg: "finite number above 0"},
		{name: "matrix null", doc: "matrix:\ndata_dir: /x\n", keys: []string{"matrix"}, msg: "required"},
		{name: "data_dir empty", edits: []string{"data_dir: /var/lib/steward", "data_dir: ''"},
			keys: []string{"data_dir"}, msg: "required"},

		// policy.commands: walking a map.
		{name: "policy of every kind", edits: after("policy:\n  commands:\n    status: none\n    restart: confirm\n    update: second_admin\n    announce: quorum:1\n")},
		{name: "policy commands empty", edits: after("policy:\n  commands: {}\n")},
		{name: "policy commands null", edits: after("policy:\n  commands:\n")},
		{name: "policy commands in flow style", edits: after("policy:\n  commands: {announce: confirm, log-tail_2: none}\n")},
		{name: "policy commands merged", edits: after("policy:\n  commands:\n    <<: {announce: confirm, restart: none}\n    announce: quorum:1\n")},
		{name: "policy commands merge a string", edits: after("policy:\n  commands:\n    <<: confirm\n"),
			keys: []string{"policy.commands"}, lines: []int{12}, msg: `<< must merge a mapping, got "confirm"`},
		{name: "policy commands merge a bad value", edits: after("policy:\n  commands:\n    <<: {announce: often}\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: `not a policy: "often"`},
		{name: "policy command set twice", edits: after("policy:\n  commands:\n    announce: confirm\n    announce: second_admin\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{13}, msg: "set twice (first on line 12)"},
		{name: "policy value a list", edits: after("policy:\n  commands:\n    restart: none\n    announce: [confirm]\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{13}, msg: "expected a single value, got a list"},
		{name: "policy value a mapping", edits: after("policy:\n  commands:\n    announce:\n      policy: confirm\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: "expected a single value, got a mapping"},
		{name: "policy commands a string", edits: after("policy:\n  commands: announce\n"),
			keys: []string{"policy.commands"}, lines: []int{11}, msg: `expected a mapping (one "name: value" per line), got "announce"`},
		{name: "policy commands a list", edits: after("policy:\n  commands:\n    - announce: confirm\n"),
			keys: []string{"policy.commands"}, lines: []int{11}, msg: "expected a mapping (one \"name: value\" per line), got a list"},
		{name: "policy command key a list", edits: after("policy:\n  commands:\n    [a, b]: confirm\n"),
			keys: []string{"policy.commands"}, lines: []int{12}, msg: "keys must be plain names, got a list"},
		{name: "a bad key hides no other entry", edits: after("policy:\n  commands:\n    [a]: confirm\n    announce: often\n"),
			keys: []string{"policy.commands", "policy.commands.announce"}, lines: []int{12, 13}, msg: "keys must be plain names"},
		{name: "policy command key null", edits: after("policy:\n  commands:\n    ~: confirm\n"),
			keys: []string{"policy.commands"}, lines: []int{12}, msg: `keys must be plain names, got "~"`},
		{name: "policy a string", edits: after("policy: strict\n"),
			keys: []string{"policy"}, lines: []int{10}, msg: `expected a mapping of settings, got "strict"`},
		{name: "policy unknown key", edits: after("policy:\n  command:\n    announce: confirm\n"),
			keys: []string{"policy.command"}, lines: []int{11}, msg: `did you mean "commands"?`},

		// policy.commands: names.
		{name: "policy command with prefix", edits: after("policy:\n  commands:\n    \"!announce\": confirm\n"),
			keys: []string{"policy.commands.!announce"}, lines: []int{12}, msg: `write the command name without "!": announce`},
		{name: "policy command with configured prefix", edits: append(after("policy:\n  commands:\n    \"?Announce\": confirm\n"),
			"  admins:", "  command_prefix: \"?\"\n  admins:"),
			keys: []string{"policy.commands.?Announce"}, lines: []int{13}, msg: `write the command name without "?": announce`},
		{name: "policy command with ! under another prefix", edits: append(after("policy:\n  commands:\n    \"!announce\": confirm\n"),
			"  admins:", "  command_prefix: \"?\"\n  admins:"),
			keys: []string{"policy.commands.!announce"}, lines: []int{13}, msg: `write the command name without "!": announce`},
		{name: "policy command upper-case", edits: after("policy:\n  commands:\n    Announce: confirm\n"),
			keys: []string{"policy.commands.Announce"}, lines: []int{12}, msg: "command names are lower-case: announce"},
		{name: "policy command with a space", edits: after("policy:\n  commands:\n    docker restart: confirm\n"),
			keys: []string{"policy.commands.docker restart"}, lines: []int{12}, msg: `not a command name: "docker restart"`},
		{name: "policy command a lone prefix", edits: after("policy:\n  commands:\n    \"!\": confirm\n"),
			keys: []string{"policy.commands.!"}, lines: []int{12}, msg: `not a command name: "!"`},
		{name: "policy command empty", edits: after("policy:\n  commands:\n    \"\": confirm\n"),
			keys: []string{"policy.commands."}, lines: []int{12}, msg: "the command name is empty"},
		{name: "policy bad name and bad value both reported", edits: after("policy:\n  commands:\n    \"!announce\": always\n"),
			keys: []string{"policy.commands.!announce", "policy.commands.!announce"}, lines: []int{12, 12}, msg: "without"},

		// policy.commands: values.
		{name: "policy unknown", edits: after("policy:\n  commands:\n    announce: sometimes\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12},
			msg: `not a policy: "sometimes"; use none, confirm, second_admin or quorum:N with N from 1 to 20`},
		{name: "policy upper-case", edits: after("policy:\n  commands:\n    announce: Confirm\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: `not a policy: "Confirm" (did you mean "confirm"?)`},
		{name: "policy with a dash", edits: after("policy:\n  commands:\n    announce: second-admin\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: `(did you mean "second_admin"?)`},
		{name: "quorum with a space", edits: after("policy:\n  commands:\n    announce: \"quorum: 1\"\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: `(did you mean "quorum:1"?)`},
		{name: "quorum zero", edits: after("policy:\n  commands:\n    announce: quorum:0\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: "quorum:0 is out of range: N must be from 1 to 20"},
		{name: "quorum 21", edits: after("policy:\n  commands:\n    announce: quorum:21\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: "quorum:21 is out of range"},
		{name: "quorum without N", edits: after("policy:\n  commands:\n    announce: quorum\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: `not a policy: "quorum"; use`},
		{name: "quorum negative", edits: after("policy:\n  commands:\n    announce: quorum:-1\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: `not a policy: "quorum:-1"; use`},
		{name: "policy a number", edits: after("policy:\n  commands:\n    announce: 2\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: `not a policy: "2"`},
		{name: "policy left empty", edits: after("policy:\n  commands:\n    announce:\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: "leave the command out to keep its built-in policy"},

		// policy.commands: enough admins to approve.
		{name: "quorum of every other admin", edits: append(after("policy:\n  commands:\n    announce: quorum:2\n"), threeAdmins...)},
		{name: "quorum above the other admins", edits: after("policy:\n  commands:\n    announce: quorum:3\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12},
			msg: "quorum:3 needs 3 admins besides the one asking, but only 1 other admin is configured in matrix.admins"},
		{name: "quorum above two other admins", edits: append(after("policy:\n  commands:\n    announce: quorum:3\n"), threeAdmins...),
			keys: []string{"policy.commands.announce"}, lines: []int{13}, msg: "but only 2 other admins are configured in matrix.admins"},
		{name: "admin listed twice counts once", edits: append(after("policy:\n  commands:\n    announce: quorum:2\n"),
			"    - \"@bob:example.org\"\n", "    - \"@bob:example.org\"\n    - \"@bob:example.org\"\n"),
			keys: []string{"matrix.admins[2]", "policy.commands.announce"}, lines: []int{9, 13}, msg: "listed twice"},
		{name: "quorum with a single admin", edits: append(after("policy:\n  commands:\n    announce: quorum:1\n"), oneAdmin...),
			keys: []string{"policy.commands.announce"}, lines: []int{11}, msg: "no other admin is configured in matrix.admins; add some, or set policy.allow_single_admin"},
		{name: "second_admin with a single admin", edits: append(after("policy:\n  commands:\n    announce: second_admin\n"), oneAdmin...),
			keys: []string{"policy.commands.announce"}, lines: []int{11}, msg: "matrix.admins lists only one"},
		{name: "confirm with a single admin", edits: append(after("policy:\n  commands:\n    announce: confirm\n"), oneAdmin...)},
		{name: "single admin allowed", edits: append(after("policy:\n  commands:\n    announce: quorum:3\n    restart: second_admin\n  allow_single_admin: true\n"), oneAdmin...)},
		{name: "allow_single_admin does not cover two admins", edits: after("policy:\n  commands:\n    announce: quorum:2\n  allow_single_admin: true\n"),
			keys: []string{"policy.commands.announce"}, lines: []int{12}, msg: "only 1 other admin"},
		{name: "allow_single_admin maybe", edits: after("policy:\n  allow_single_admin: maybe\n"),
			keys: []string{"policy.allow_single_admin"}, lines: []int{11}, msg: `expected true or false, got "maybe"`},

		// policy.approval_ttl.
		{name: "approval_ttl 1m", edits: after("policy:\n  approval_ttl: 1m\n")},
		{name: "approval_ttl a week", edits: after("policy:\n  approval_ttl: 168h\n")},
		{name: "approval_ttl null", edits: after("policy:\n  approval_ttl:\n")},
		{name: "approval_ttl too short", edits: after("policy:\n  approval_ttl: 59s\n"),
			keys: []string{"policy.approval_ttl"}, lines: []int{11}, msg: "must be between 1m and 168h (a week), got 59s"},
		{name: "approval_ttl zero", edits: after("policy:\n  approval_ttl: 0s\n"),
			keys: []string{"policy.approval_ttl"}, lines: []int{11}, msg: "between 1m and 168h"},
		{name: "approval_ttl too long", edits: after("policy:\n  approval_ttl: 168h1s\n"),
			keys: []string{"policy.approval_ttl"}, lines: []int{11}, msg: "got 168h0m1s"},
		{name: "approval_ttl without unit", edits: after("policy:\n  approval_ttl: 30\n"),
			keys: []string{"policy.approval_ttl"}, lines: []int{11}, msg: `not a duration: "30"`},

		// decision_log.weekly_summary.
		{name: "weekly summary absent", edits: after("decision_log: {}\n")},
		{name: "weekly summary null", edits: after("decision_log:\n  weekly_summary:\n")},
		{name: "weekly summary full", edits: after("decision_log:\n  weekly_summary:\n    day: sun\n    hour: 23\n    time_zone: America/New_York\n")},
		{name: "weekly summary empty", edits: after("decision_log:\n  weekly_summary: {}\n"),
			keys: []string{"decision_log.weekly_summary.day"}, lines: []int{0}, msg: "required: the day to post the summary on, like monday"},
		{name: "weekly summary without day", edits: after("decision_log:\n  weekly_summary:\n    hour: 8\n"),
			keys: []string{"decision_log.weekly_summary.day"}, lines: []int{0}, msg: "required"},
		{name: "weekly summary day empty", edits: after("decision_log:\n  weekly_summary:\n    day: \"\"\n"),
			keys: []string{"decision_log.weekly_summary.day"}, lines: []int{12}, msg: "required"},
		{name: "weekly summary day unknown", edits: after("decision_log:\n  weekly_summary:\n    day: mondays\n"),
			keys: []string{"decision_log.weekly_summary.day"}, lines: []int{12},
			msg: `not a day of the week: "mondays"; use monday to sunday, or mon to sun`},
		{name: "weekly summary day a number", edits: after("decision_log:\n  weekly_summary:\n    day: 1\n"),
			keys: []string{"decision_log.weekly_summary.day"}, lines: []int{12}, msg: `not a day of the week: "1"`},
		{name: "weekly summary hour 24", edits: after("decision_log:\n  weekly_summary:\n    day: monday\n    hour: 24\n"),
			keys: []string{"decision_log.weekly_summary.hour"}, lines: []int{13}, msg: "must be from 0 to 23 (the hour of the day in time_zone), got 24"},
		{name: "weekly summary hour negative", edits: after("decision_log:\n  weekly_summary:\n    day: monday\n    hour: -1\n"),
			keys: []string{"decision_log.weekly_summary.hour"}, lines: []int{13}, msg: "got -1"},
		{name: "weekly summary hour 9am", edits: after("decision_log:\n  weekly_summary:\n    day: monday\n    hour: 9am\n"),
			keys: []string{"decision_log.weekly_summary.hour"}, lines: []int{13}, msg: `expected a whole number, got "9am"`},
		{name: "weekly summary bad time zone", edits: after("decision_log:\n  weekly_summary:\n    day: monday\n    time_zone: Europe/Berln\n"),
			keys: []string{"decision_log.weekly_summary.time_zone"}, lines: []int{13},
			msg: `not a time zone: "Europe/Berln"; use a name like Europe/Berlin`},
		{name: "weekly summary time zone empty", edits: after("decision_log:\n  weekly_summary:\n    day: monday\n    time_zone: ''\n"),
			keys: []string{"decision_log.weekly_summary.time_zone"}, lines: []int{13}, msg: `must not be empty; leave it out to use "UTC"`},
		{name: "weekly summary every problem at once", edits: after("decision_log:\n  weekly_summary:\n    day: someday\n    hour: 25\n    time_zone: Nowhere\n"),
			keys:  []string{"decision_log.weekly_summary.day", "decision_log.weekly_summary.hour", "decision_log.weekly_summary.time_zone"},
			lines: []int{12, 13, 14}, msg: "not a day of the week"},
		{name: "weekly summary on", edits: after("decision_log:\n  weekly_summary: on\n"),
			keys: []string{"decision_log.weekly_summary"}, lines: []int{11}, msg: `expected a mapping of settings, got "on"`},
		{name: "weekly summary misspelt key", edits: after("decision_log:\n  weekly_summary:\n    day: monday\n    timezone: UTC\n"),
			keys: []string{"decision_log.weekly_summary.timezone"}, lines: []int{13}, msg: `did you mean "time_zone"?`},
		{name: "weekly summary location not a key", edits: after("decision_log:\n  weekly_summary:\n    day: monday\n    location: UTC\n"),
			keys: []string{"decision_log.weekly_summary.location"}, lines: []int{13}, msg: "unknown key"},

		// oncall.
		{name: "oncall null", edits: after("oncall:\n")},
		{name: "oncall empty", edits: after("oncall: {}\n")},
		{name: "oncall rotation empty", edits: after("oncall:\n  rotation: []\n")},
		{name: "oncall full", edits: after("oncall:\n  rotation:\n    - \"@bob:example.org\"\n    - \"@alice:example.org\"\n" +
			"  handover: weekly\n  day: Sat\n  hour: 0\n  time_zone: Europe/Berlin\n")},
		{name: "oncall daily", edits: after("oncall:\n  rotation: [\"@alice:example.org\"]\n  handover: daily\n  hour: 23\n")},
		{name: "oncall daily, day null", edits: after("oncall:\n  handover: daily\n  day:\n")},
		{name: "oncall rotation entry invalid", edits: after("oncall:\n  rotation:\n    - \"@alice:example.org\"\n    - bob\n"),
			keys: []string{"oncall.rotation[1]"}, lines: []int{13}, msg: `not a valid Matrix user ID (like @alice:example.org): "bob"`},
		{name: "oncall rotation entry not an admin", edits: after("oncall:\n  rotation:\n    - \"@alice:example.org\"\n    - \"@carol:example.org\"\n"),
			keys: []string{"oncall.rotation[1]"}, lines: []int{13}, msg: "@carol:example.org is not in matrix.admins: only admins can be on duty"},
		{name: "oncall rotation of the bot", edits: after("oncall:\n  rotation: [\"@steward:example.org\"]\n"),
			keys: []string{"oncall.rotation[0]"}, lines: []int{11}, msg: "@steward:example.org is not in matrix.admins"},
		{name: "oncall rotation of a former admin", edits: append(after("oncall:\n  rotation:\n    - \"@alice:example.org\"\n    - \"@bob:example.org\"\n"), oneAdmin...),
			keys: []string{"oncall.rotation[1]"}, lines: []int{12}, msg: "@bob:example.org is not in matrix.admins"},
		{name: "oncall rotation without admins, reported once",
			edits: append(after("oncall:\n  rotation: [\"@alice:example.org\"]\n"), "  admins:\n    - \"@alice:example.org\"\n    - \"@bob:example.org\"\n", ""),
			keys:  []string{"matrix.admins"}, lines: []int{0}, msg: "required"},
		{name: "oncall rotation listed twice", edits: after("oncall:\n  rotation:\n    - \"@alice:example.org\"\n    - \"@bob:example.org\"\n    - \"@alice:example.org\"\n"),
			keys: []string{"oncall.rotation[2]"}, lines: []int{14}, msg: "@alice:example.org is listed twice (also oncall.rotation[0])"},
		{name: "oncall rotation a string", edits: after("oncall:\n  rotation: \"@alice:example.org\"\n"),
			keys: []string{"oncall.rotation"}, lines: []int{11}, msg: "expected a list"},
		{name: "oncall rotation entry a mapping", edits: after("oncall:\n  rotation:\n    - {user: \"@alice:example.org\"}\n"),
			keys: []string{"oncall.rotation[0]"}, lines: []int{12}, msg: "expected a single value, got a mapping"},
		{name: "oncall handover unknown", edits: after("oncall:\n  handover: monthly\n"),
			keys: []string{"oncall.handover"}, lines: []int{11}, msg: `must be daily or weekly; got "monthly"`},
		{name: "oncall handover upper-case", edits: after("oncall:\n  handover: Daily\n"),
			keys: []string{"oncall.handover"}, lines: []int{11}, msg: `got "Daily"`},
		{name: "oncall handover empty", edits: after("oncall:\n  handover: ''\n"),
			keys: []string{"oncall.handover"}, lines: []int{11}, msg: `must be daily or weekly; got ""`},
		{name: "oncall day with a daily handover", edits: after("oncall:\n  handover: daily\n  day: monday\n"),
			keys: []string{"oncall.day"}, lines: []int{12}, msg: "day only applies to a weekly handover"},
		{name: "oncall bad day with a daily handover, reported once", edits: after("oncall:\n  day: someday\n  handover: daily\n"),
			keys: []string{"oncall.day"}, lines: []int{11}, msg: "day only applies to a weekly handover"},
		{name: "oncall day unknown", edits: after("oncall:\n  day: mondays\n"),
			keys: []string{"oncall.day"}, lines: []int{11}, msg: `not a day of the week: "mondays"; use monday to sunday, or mon to sun`},
		{name: "oncall day unknown with an unknown handover", edits: after("oncall:\n  handover: fortnightly\n  day: 1\n"),
			keys: []string{"oncall.handover", "oncall.day"}, lines: []int{11, 12}, msg: `got "fortnightly"`},
		{name: "oncall day empty", edits: after("oncall:\n  day: ''\n"),
			keys: []string{"oncall.day"}, lines: []int{11}, msg: `must not be empty; leave it out to use "monday"`},
		{name: "oncall hour 24", edits: after("oncall:\n  hour: 24\n"),
			keys: []string{"oncall.hour"}, lines: []int{11}, msg: "must be from 0 to 23 (the hour of the day in time_zone), got 24"},
		{name: "oncall hour negative", edits: after("oncall:\n  handover: daily\n  hour: -1\n"),
			keys: []string{"oncall.hour"}, lines: []int{12}, msg: "got -1"},
		{name: "oncall hour 9am", edits: after("oncall:\n  hour: 9am\n"),
			keys: []string{"oncall.hour"}, lines: []int{11}, msg: `expected a whole number, got "9am"`},
		{name: "oncall bad time zone", edits: after("oncall:\n  time_zone: Europe/Berln\n"),
			keys: []string{"oncall.time_zone"}, lines: []int{11}, msg: `not a time zone: "Europe/Berln"; use a name like Europe/Berlin`},
		{name: "oncall time zone empty", edits: after("oncall:\n  time_zone: ''\n"),
			keys: []string{"oncall.time_zone"}, lines: []int{11}, msg: `must not be empty; leave it out to use "UTC"`},
		{name: "oncall every problem at once",
			edits: after("oncall:\n  rotation: [\"@alice:example.org\", \"@dave:example.org\"]\n  handover: hourly\n  day: someday\n  hour: 25\n  time_zone: Nowhere\n"),
			keys:  []string{"oncall.rotation[1]", "oncall.handover", "oncall.day", "oncall.hour", "oncall.time_zone"},
			lines: []int{11, 12, 13, 14, 15}, msg: "@dave:example.org is not in matrix.admins"},
		{name: "oncall a string", edits: after("oncall: \"@alice:example.org\"\n"),
			keys: []string{"oncall"}, lines: []int{10}, msg: `expected a mapping of settings, got "@alice:example.org"`},
		{name: "oncall misspelt key", edits: after("oncall:\n  timezone: UTC\n"),
			keys: []string{"oncall.timezone"}, lines: []int{11}, msg: `did you mean "time_zone"?`},
		{name: "oncall location not a key", edits: after("oncall:\n  location: UTC\n"),
			keys: []string{"oncall.location"}, lines: []int{11}, msg: "unknown key"},

		// monitor: timing.
		{name: "monitor timings at their bounds", edits: after("monitor:\n  interval: 1s\n  for: 0s\n  hysteresis: 20\n  group_wait: 5m\n  escalate_after: 24h\n  announce_after: 24h\n")},
		{name: "monitor timings at their other bounds", edits: after("monitor:\n  hysteresis: 0\n  group_wait: 0s\n  escalate_after: 1m\n  announce_after: 0s\n")},
		{name: "monitor interval too short", edits: after("monitor:\n  interval: 999ms\n"),
			keys: []string{"monitor.interval"}, lines: []int{11}, msg: "must be at least 1s, got 999ms"},
		{name: "monitor interval zero", edits: after("monitor:\n  interval: 0s\n"),
			keys: []string{"monitor.interval"}, lines: []int{11}, msg: "at least 1s"},
		{name: "monitor interval without unit", edits: after("monitor:\n  interval: 30\n"),
			keys: []string{"monitor.interval"}, lines: []int{11}, msg: `not a duration: "30"`},
		{name: "monitor for negative, reported once", edits: after("monitor:\n  for: -1m\n"),
			keys: []string{"monitor.for"}, lines: []int{11}, msg: "must not be negative, got -1m0s"},
		{name: "hysteresis above 20", edits: after("monitor:\n  hysteresis: 21\n"),
			keys: []string{"monitor.hysteresis"}, lines: []int{11}, msg: "must be from 0 to 20 (percentage points), got 21"},
		{name: "hysteresis negative", edits: after("monitor:\n  hysteresis: -0.5\n"),
			keys: []string{"monitor.hysteresis"}, lines: []int{11}, msg: "got -0.5"},
		{name: "hysteresis NaN", edits: after("monitor:\n  hysteresis: .nan\n"),
			keys: []string{"monitor.hysteresis"}, lines: []int{11}, msg: "from 0 to 20"},
		{name: "group_wait too long", edits: after("monitor:\n  group_wait: 5m1s\n"),
			keys: []string{"monitor.group_wait"}, lines: []int{11}, msg: "must be between 0s and 5m, got 5m1s"},
		{name: "group_wait negative", edits: after("monitor:\n  group_wait: -1s\n"),
			keys: []string{"monitor.group_wait"}, lines: []int{11}, msg: "got -1s"},
		{name: "escalate_after too short", edits: after("monitor:\n  escalate_after: 59s\n"),
			keys: []string{"monitor.escalate_after"}, lines: []int{11}, msg: "must be between 1m and 24h, got 59s"},
		{name: "escalate_after too long", edits: after("monitor:\n  escalate_after: 25h\n"),
			keys: []string{"monitor.escalate_after"}, lines: []int{11}, msg: "got 25h0m0s"},
		{name: "announce_after negative", edits: after("monitor:\n  announce_after: -10m\n"),
			keys: []string{"monitor.announce_after"}, lines: []int{11}, msg: "must be between 0s and 24h, got -10m0s"},
		{name: "announce_after too long", edits: after("monitor:\n  announce_after: 24h1s\n"),
			keys: []string{"monitor.announce_after"}, lines: []int{11}, msg: "between 0s and 24h"},

		// monitor: host thresholds.
		{name: "thresholds at their bounds", edits: after("monitor:\n  memory: {warning: 99.9, critical: 100}\n  load: {warning: 150, critical: 300}\n")},
		{name: "threshold off, for 0s", edits: after("monitor:\n  cpu:\n    enabled: false\n    for: 0s\n")},
		{name: "cpu warning zero", edits: after("monitor:\n  cpu:\n    warning: 0\n"),
			keys: []string{"monitor.cpu.warning"}, lines: []int{12}, msg: "must be a percentage above 0 and at most 100, got 0"},
		{name: "memory critical above 100", edits: after("monitor:\n  memory:\n    critical: 100.5\n"),
			keys: []string{"monitor.memory.critical"}, lines: []int{12}, msg: "at most 100, got 100.5"},
		{name: "swap warning negative", edits: after("monitor:\n  swap:\n    warning: -5\n"),
			keys: []string{"monitor.swap.warning"}, lines: []int{12}, msg: "got -5"},
		{name: "cpu warning NaN", edits: after("monitor:\n  cpu:\n    warning: .nan\n"),
			keys: []string{"monitor.cpu.warning"}, lines: []int{12}, msg: "a percentage"},
		{name: "both levels out of range, no clash reported", edits: after("monitor:\n  cpu:\n    warning: 0\n    critical: 200\n"),
			keys: []string{"monitor.cpu.warning", "monitor.cpu.critical"}, lines: []int{12, 13}, msg: "got 0"},
		{name: "warning equal to critical", edits: after("monitor:\n  memory:\n    warning: 95\n    critical: 95\n"),
			keys: []string{"monitor.memory.warning"}, lines: []int{12}, msg: "must be below monitor.memory.critical (95), got 95"},
		{name: "warning above the default critical", edits: after("monitor:\n  memory:\n    warning: 96\n"),
			keys: []string{"monitor.memory.warning"}, lines: []int{12}, msg: "must be below monitor.memory.critical (95, the default), got 96"},
		{name: "critical below the default warning", edits: after("monitor:\n  swap:\n    critical: 40\n"),
			keys: []string{"monitor.swap.critical"}, lines: []int{12}, msg: "must be above monitor.swap.warning (50, the default), got 40"},
		{name: "bad critical hides the clash", edits: after("monitor:\n  memory:\n    warning: 99\n    critical: high\n"),
			keys: []string{"monitor.memory.critical"}, lines: []int{13}, msg: `expected a number, got "high"`},
		{name: "load warning zero", edits: after("monitor:\n  load:\n    warning: 0\n"),
			keys: []string{"monitor.load.warning"}, lines: []int{12}, msg: "must be a number above 0 (the 5-minute load average per CPU core), got 0"},
		{name: "load critical infinite", edits: after("monitor:\n  load:\n    critical: .inf\n"),
			keys: []string{"monitor.load.critical"}, lines: []int{12}, msg: "got +Inf"},
		{name: "load warning above the default critical", edits: after("monitor:\n  load:\n    warning: 5\n"),
			keys: []string{"monitor.load.warning"}, lines: []int{12}, msg: "must be below monitor.load.critical (4, the default), got 5"},
		{name: "threshold for negative", edits: after("monitor:\n  swap:\n    for: -1m\n"),
			keys: []string{"monitor.swap.for"}, lines: []int{12}, msg: "must not be negative, got -1m0s"},
		{name: "threshold enabled maybe", edits: after("monitor:\n  load:\n    enabled: maybe\n"),
			keys: []string{"monitor.load.enabled"}, lines: []int{12}, msg: `expected true or false, got "maybe"`},
		{name: "threshold misspelt key", edits: after("monitor:\n  cpu:\n    warnng: 80\n"),
			keys: []string{"monitor.cpu.warnng"}, lines: []int{12}, msg: `did you mean "warning"?`},
		{name: "threshold a number", edits: after("monitor:\n  cpu: 90\n"),
			keys: []string{"monitor.cpu"}, lines: []int{11}, msg: `expected a mapping of settings, got "90"`},

		// monitor.disks.
		{name: "disk with every key", edits: diskEntry("      warning: 50\n      critical: 100\n      inodes_warning: 1\n      inodes_critical: 2\n      forecast: 0s\n      for: 0s\n      hint: du -sh /var/*\n")},
		{name: "disk warning zero", edits: diskEntry("      warning: 0\n"),
			keys: []string{"monitor.disks[0].warning"}, lines: []int{13}, msg: "must be a percentage above 0 and at most 100, got 0"},
		{name: "disk critical above 100", edits: diskEntry("      critical: 101\n"),
			keys: []string{"monitor.disks[0].critical"}, lines: []int{13}, msg: "got 101"},
		{name: "disk warning above critical", edits: diskEntry("      warning: 95\n      critical: 90\n"),
			keys: []string{"monitor.disks[0].warning"}, lines: []int{13}, msg: "must be below monitor.disks[0].critical (90), got 95"},
		{name: "disk inodes_warning zero", edits: diskEntry("      inodes_warning: 0\n"),
			keys: []string{"monitor.disks[0].inodes_warning"}, lines: []int{13}, msg: "a percentage above 0"},
		{name: "disk inodes_critical below the default warning", edits: diskEntry("      inodes_critical: 80\n"),
			keys: []string{"monitor.disks[0].inodes_critical"}, lines: []int{13},
			msg: "must be above monitor.disks[0].inodes_warning (85, the default), got 80"},
		{name: "disk forecast negative", edits: diskEntry("      forecast: -1h\n"),
			keys: []string{"monitor.disks[0].forecast"}, lines: []int{13}, msg: "must not be negative (0 turns the forecast off), got -1h0m0s"},
		{name: "disk for negative", edits: diskEntry("      for: -1s\n"),
			keys: []string{"monitor.disks[0].for"}, lines: []int{13}, msg: "must not be negative, got -1s"},
		{name: "disk listed twice", edits: diskEntry("    - path: /srv\n    - path: /srv/\n"),
			keys: []string{"monitor.disks[2].path"}, lines: []int{14}, msg: "/srv/ is listed twice (also monitor.disks[1])"},
		{name: "root listed twice", edits: diskEntry("    - path: /\n"),
			keys: []string{"monitor.disks[1].path"}, lines: []int{13}, msg: "/ is listed twice (also monitor.disks[0])"},
		{name: "second disk's level", edits: diskEntry("    - path: /srv\n      critical: 0\n"),
			keys: []string{"monitor.disks[1].critical"}, lines: []int{14}, msg: "got 0"},

		// monitor.http.
		{name: "http check with the required keys", edits: httpEntry("")},
		{name: "http check every 5s keeps a timeout below it", edits: httpEntry("      interval: 5s\n")},
		{name: "http timeout equal to interval", edits: httpEntry("      interval: 10s\n      timeout: 10s\n")},
		{name: "http check with every key", edits: httpEntry("      interval: 1m\n      timeout: 5s\n      status: [200, 301, 401]\n      latency_warning: 1s\n" +
			"      cert_warning: 48h\n      cert_critical: 0s\n      for: 0s\n      hint: on the web host\n      public: true\n")},
		{name: "http name missing", edits: after("monitor:\n  http:\n    - url: https://example.org/\n"),
			keys: []string{"monitor.http[0].name"}, lines: []int{0}, msg: "required: a short name for the check, like website"},
		{name: "http name empty", edits: httpEntry("", "name: web", `name: ""`),
			keys: []string{"monitor.http[0].name"}, lines: []int{12}, msg: "required"},
		{name: "http name upper-case", edits: httpEntry("", "name: web", "name: Web"),
			keys: []string{"monitor.http[0].name"}, lines: []int{12}, msg: `not a check name: "Web"; use lower-case letters, digits, - and _`},
		{name: "http name with a space", edits: httpEntry("", "name: web", "name: web site"),
			keys: []string{"monitor.http[0].name"}, lines: []int{12}, msg: `not a check name: "web site"`},
		{name: "http names unique", edits: httpEntry("    - name: web\n      url: https://example.com/\n"),
			keys: []string{"monitor.http[1].name"}, lines: []int{14}, msg: "web is listed twice (also monitor.http[0]); alerts tell checks apart by name"},
		{name: "http url missing", edits: after("monitor:\n  http:\n    - name: web\n"),
			keys: []string{"monitor.http[0].url"}, lines: []int{0}, msg: "required: the address to check"},
		{name: "http url ftp", edits: httpEntry("", "https://example.org/", "ftp://example.org/"),
			keys: []string{"monitor.http[0].url"}, lines: []int{13}, msg: `not an http:// or https:// URL with a host: "ftp://example.org/"`},
		{name: "http url without scheme", edits: httpEntry("", "https://example.org/", "example.org"),
			keys: []string{"monitor.http[0].url"}, lines: []int{13}, msg: "not an http:// or https:// URL"},
		{name: "http url without host", edits: httpEntry("", "https://example.org/", "https:///health"),
			keys: []string{"monitor.http[0].url"}, lines: []int{13}, msg: "with a host"},
		{name: "http url unparsable", edits: httpEntry("", "https://example.org/", `"http://exa mple.org/%zz"`),
			keys: []string{"monitor.http[0].url"}, lines: []int{13}, msg: "not an http:// or https:// URL"},
		{name: "http interval too short", edits: httpEntry("      interval: 500ms\n"),
			keys: []string{"monitor.http[0].interval"}, lines: []int{14}, msg: "must be at least 1s, got 500ms"},
		{name: "http timeout longer than interval", edits: httpEntry("      interval: 10s\n      timeout: 20s\n"),
			keys: []string{"monitor.http[0].timeout"}, lines: []int{15},
			msg: "must not be longer than monitor.http[0].interval (10s), so checks never overlap; got 20s"},
		{name: "http timeout longer than the default interval", edits: httpEntry("      timeout: 31s\n"),
			keys: []string{"monitor.http[0].timeout"}, lines: []int{14}, msg: "(30s, the default)"},
		{name: "http timeout zero", edits: httpEntry("      timeout: 0s\n"),
			keys: []string{"monitor.http[0].timeout"}, lines: []int{14}, msg: "must be longer than 0, got 0s"},
		{name: "http status below 100", edits: httpEntry("      status: [200, 99]\n"),
			keys: []string{"monitor.http[0].status[1]"}, lines: []int{14}, msg: "not an HTTP status code (100 to 599): 99"},
		{name: "http status 600", edits: httpEntry("      status:\n        - 200\n        - 600\n"),
			keys: []string{"monitor.http[0].status[1]"}, lines: []int{16}, msg: "(100 to 599): 600"},
		{name: "http status empty", edits: httpEntry("      status: []\n"),
			keys: []string{"monitor.http[0].status"}, lines: []int{14}, msg: "must list at least one status code; leave it out to accept any 2xx or 3xx"},
		{name: "http status listed twice", edits: httpEntry("      status: [200, 204, 200]\n"),
			keys: []string{"monitor.http[0].status[2]"}, lines: []int{14}, msg: "200 is listed twice (also monitor.http[0].status[0])"},
		{name: "http status a word", edits: httpEntry("      status: [ok]\n"),
			keys: []string{"monitor.http[0].status[0]"}, lines: []int{14}, msg: `expected a whole number, got "ok"`},
		{name: "http status a number", edits: httpEntry("      status: 200\n"),
			keys: []string{"monitor.http[0].status"}, lines: []int{14}, msg: "expected a list"},
		{name: "http latency_warning zero", edits: httpEntry("      latency_warning: 0s\n"),
			keys: []string{"monitor.http[0].latency_warning"}, lines: []int{14}, msg: "must be longer than 0, got 0s"},
		{name: "http cert_warning equal to cert_critical", edits: httpEntry("      cert_warning: 72h\n"),
			keys: []string{"monitor.http[0].cert_warning"}, lines: []int{14},
			msg: "must be longer than monitor.http[0].cert_critical (72h0m0s, the default), got 72h0m0s"},
		{name: "http cert_warning below cert_critical", edits: httpEntry("      cert_warning: 24h\n      cert_critical: 48h\n"),
			keys: []string{"monitor.http[0].cert_warning"}, lines: []int{14}, msg: "(48h0m0s), got 24h0m0s"},
		{name: "http cert_critical above the default warning", edits: httpEntry("      cert_critical: 400h\n"),
			keys: []string{"monitor.http[0].cert_critical"}, lines: []int{14},
			msg: "must be shorter than monitor.http[0].cert_warning (336h0m0s, the default), got 400h0m0s"},
		{name: "http cert_critical negative", edits: httpEntry("      cert_critical: -1h\n"),
			keys: []string{"monitor.http[0].cert_critical"}, lines: []int{14}, msg: "must not be negative, got -1h0m0s"},
		{name: "http for negative", edits: httpEntry("      for: -30s\n"),
			keys: []string{"monitor.http[0].for"}, lines: []int{14}, msg: "must not be negative, got -30s"},
		{name: "http public maybe", edits: httpEntry("      public: maybe\n"),
			keys: []string{"monitor.http[0].public"}, lines: []int{14}, msg: `expected true or false, got "maybe"`},
		{name: "http misspelt key", edits: httpEntry("      timout: 5s\n"),
			keys: []string{"monitor.http[0].timout"}, lines: []int{14}, msg: `did you mean "timeout"?`},
		{name: "http a mapping", edits: after("monitor:\n  http:\n    name: web\n"),
			keys: []string{"monitor.http"}, lines: []int{11}, msg: "expected a list"},
		{name: "a bad check keeps the next one's index", edits: after("monitor:\n  http:\n    - web\n    - name: api\n      url: ftp://example.org/\n"),
			keys: []string{"monitor.http[0]", "monitor.http[1].url"}, lines: []int{12, 14}, msg: `expected a mapping of settings, got "web"`},
		{name: "a bad status keeps the next one's index", edits: httpEntry("      status: [200, ok, 99]\n"),
			keys: []string{"monitor.http[0].status[1]", "monitor.http[0].status[2]"}, lines: []int{14, 14}, msg: `expected a whole number, got "ok"`},
		{name: "second http check's problem", edits: httpEntry("    - name: api\n      url: https://example.org/api\n      latency_warning: -1s\n"),
			keys: []string{"monitor.http[1].latency_warning"}, lines: []int{16}, msg: "must be longer than 0"},

		// monitor.containers.
		{name: "containers at their bounds", edits: after("monitor:\n  containers:\n    restart_loop: 2\n    restart_window: 1m\n    for: 0s\n")},
		{name: "containers at their other bounds", edits: after("monitor:\n  containers:\n    restart_loop: 100\n    restart_window: 24h\n    for: 1h\n")},
		{name: "containers off", edits: after("monitor:\n  containers:\n    enabled: false\n")},
		{name: "containers null", edits: after("monitor:\n  containers:\n")},
		{name: "containers restart_loop 1", edits: after("monitor:\n  containers:\n    restart_loop: 1\n"),
			keys: []string{"monitor.containers.restart_loop"}, lines: []int{12}, msg: "must be at least 2 (one restart is not a loop), got 1"},
		{name: "containers restart_loop zero", edits: after("monitor:\n  containers:\n    restart_loop: 0\n"),
			keys: []string{"monitor.containers.restart_loop"}, lines: []int{12}, msg: "got 0"},
		{name: "containers restart_loop a word", edits: after("monitor:\n  containers:\n    restart_loop: often\n"),
			keys: []string{"monitor.containers.restart_loop"}, lines: []int{12}, msg: `expected a whole number, got "often"`},
		{name: "containers restart_window too short", edits: after("monitor:\n  containers:\n    restart_window: 59s\n"),
			keys: []string{"monitor.containers.restart_window"}, lines: []int{12}, msg: "must be between 1m and 24h, got 59s"},
		{name: "containers restart_window zero", edits: after("monitor:\n  containers:\n    restart_window: 0s\n"),
			keys: []string{"monitor.containers.restart_window"}, lines: []int{12}, msg: "got 0s"},
		{name: "containers restart_window too long", edits: after("monitor:\n  containers:\n    restart_window: 24h1s\n"),
			keys: []string{"monitor.containers.restart_window"}, lines: []int{12}, msg: "got 24h0m1s"},
		{name: "containers restart_window without unit", edits: after("monitor:\n  containers:\n    restart_window: 10\n"),
			keys: []string{"monitor.containers.restart_window"}, lines: []int{12}, msg: `not a duration: "10"`},
		{name: "containers for negative", edits: after("monitor:\n  containers:\n    for: -1s\n"),
			keys: []string{"monitor.containers.for"}, lines: []int{12}, msg: "must not be negative, got -1s"},
		{name: "containers enabled maybe", edits: after("monitor:\n  containers:\n    enabled: maybe\n"),
			keys: []string{"monitor.containers.enabled"}, lines: []int{12}, msg: `expected true or false, got "maybe"`},
		{name: "containers misspelt key", edits: after("monitor:\n  containers:\n    restart_windw: 1h\n"),
			keys: []string{"monitor.containers.restart_windw"}, lines: []int{12}, msg: `did you mean "restart_window"?`},
		{name: "containers false", edits: after("monitor:\n  containers: false\n"),
			keys: []string{"monitor.containers"}, lines: []int{11}, msg: `expected a mapping of settings, got "false"`},
		{name: "containers every problem at once", edits: after("monitor:\n  containers:\n    restart_loop: 1\n    restart_window: 30s\n    for: -1m\n"),
			keys:  []string{"monitor.containers.restart_loop", "monitor.containers.restart_window", "monitor.containers.for"},
			lines: []int{12, 13, 14}, msg: "at least 2"},

		// docker.
		{name: "docker null", edits: after("docker:\n")},
		{name: "docker empty", edits: after("docker: {}\n")},
		{name: "docker host null", edits: after("docker:\n  host:\n")},
		{name: "docker update check off", edits: after("docker:\n  update_check: 0s\n")},
		{name: "docker settle too short", edits: after("docker:\n  settle: 500ms\n"),
			keys: []string{"docker.settle"}, lines: []int{11}, msg: "must be between 1s and 10m, got 500ms"},
		{name: "docker update check hourly", edits: after("docker:\n  update_check: 1h\n")},
		{name: "docker update check too often", edits: after("docker:\n  update_check: 30s\n"),
			keys: []string{"docker.update_check"}, lines: []int{11}, msg: "must be 0s (off) or at least 1m, got 30s"},
		{name: "docker update check negative", edits: after("docker:\n  update_check: -1h\n"),
			keys: []string{"docker.update_check"}, lines: []int{11}, msg: "must be 0s (off) or at least 1m"},
		{name: "docker host the local socket", edits: after("docker:\n  host: unix:///var/run/docker.sock\n")},
		{name: "docker host a rootless socket", edits: after("docker:\n  host: unix:///run/user/1000/docker.sock\n")},
		{name: "docker host tcp", edits: after("docker:\n  host: tcp://192.0.2.10:2376\n")},
		{name: "docker host tcp by name", edits: after("docker:\n  host: tcp://socket-proxy:2375\n")},
		{name: "docker host tcp IPv6", edits: after("docker:\n  host: tcp://[2001:db8::1]:2376\n")},
		{name: "docker host ssh", edits: after("docker:\n  host: ssh://steward@docker.example.org\n")},
		{name: "docker host ssh with a port and no user", edits: after("docker:\n  host: ssh://docker.example.org:2222\n")},
		{name: "docker host empty", edits: after("docker:\n  host: ''\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "must not be empty; leave it out to use $DOCKER_HOST, else unix:///var/run/docker.sock"},
		{name: "docker host unix with two slashes", edits: after("docker:\n  host: unix://var/run/docker.sock\n"),
			keys: []string{"docker.host"}, lines: []int{11},
			msg: `unix:// needs an absolute path to the socket, like unix:///var/run/docker.sock (three slashes); got "unix://var/run/docker.sock"`},
		{name: "docker host unix without a path", edits: after("docker:\n  host: unix://\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "unix:// needs an absolute path"},
		{name: "docker host a bare path", edits: after("docker:\n  host: /var/run/docker.sock\n"),
			keys: []string{"docker.host"}, lines: []int{11},
			msg: `not a Docker Engine address: "/var/run/docker.sock" (did you mean "unix:///var/run/docker.sock"?)`},
		{name: "docker host tcp without a port", edits: after("docker:\n  host: tcp://192.0.2.10\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: `tcp:// needs a host and port, like tcp://192.0.2.10:2376; got "tcp://192.0.2.10"`},
		{name: "docker host tcp without a host", edits: after("docker:\n  host: tcp://:2375\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "tcp:// needs a host and port"},
		{name: "docker host tcp port a word", edits: after("docker:\n  host: tcp://192.0.2.10:docker\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "tcp:// needs a host and port"},
		{name: "docker host tcp port 0", edits: after("docker:\n  host: tcp://192.0.2.10:0\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "the port must be from 1 to 65535, got 0"},
		{name: "docker host tcp port too high", edits: after("docker:\n  host: tcp://192.0.2.10:65536\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "got 65536"},
		{name: "docker host ssh without a host", edits: after("docker:\n  host: ssh://steward@\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: `ssh:// needs a host, like ssh://steward@docker.example.org; got "ssh://steward@"`},
		{name: "docker host ssh with a password", edits: after("docker:\n  host: ssh://steward:hunter2@docker.example.org\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "must not hold a password; ssh:// logs in with the ssh key of the user Steward runs as"},
		{name: "docker host npipe", edits: after("docker:\n  host: npipe:////./pipe/docker_engine\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "npipe:// is how Docker is reached on Windows, and Steward runs on Linux; use unix://"},
		{name: "docker host http", edits: after("docker:\n  host: http://192.0.2.10:2375\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: `the engine's API is reached at tcp://host:port, not http://`},
		{name: "docker host without a scheme", edits: after("docker:\n  host: 192.0.2.10:2375\n"),
			keys: []string{"docker.host"}, lines: []int{11},
			msg: `not a Docker Engine address: "192.0.2.10:2375"; use unix:///path/to/docker.sock, tcp://host:port or ssh://user@host`},
		{name: "docker host scheme upper-case", edits: after("docker:\n  host: UNIX:///var/run/docker.sock\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "not a Docker Engine address"},
		{name: "docker a string", edits: after("docker: unix:///var/run/docker.sock\n"),
			keys: []string{"docker"}, lines: []int{10}, msg: `expected a mapping of settings, got "unix:///var/run/docker.sock"`},
		{name: "docker misspelt key", edits: after("docker:\n  hst: tcp://192.0.2.10:2376\n"),
			keys: []string{"docker.hst"}, lines: []int{11}, msg: `did you mean "host"?`},

		// monitor.daily_digest.
		{name: "daily digest empty", edits: after("monitor:\n  daily_digest: {}\n")},
		{name: "daily digest null", edits: after("monitor:\n  daily_digest:\n")},
		{name: "daily digest hour 24", edits: after("monitor:\n  daily_digest:\n    hour: 24\n"),
			keys: []string{"monitor.daily_digest.hour"}, lines: []int{12}, msg: "must be from 0 to 23 (the hour of the day in time_zone), got 24"},
		{name: "daily digest hour negative", edits: after("monitor:\n  daily_digest:\n    hour: -1\n"),
			keys: []string{"monitor.daily_digest.hour"}, lines: []int{12}, msg: "got -1"},
		{name: "daily digest bad time zone", edits: after("monitor:\n  daily_digest:\n    time_zone: Europe/Berln\n"),
			keys: []string{"monitor.daily_digest.time_zone"}, lines: []int{12}, msg: `not a time zone: "Europe/Berln"; use a name like Europe/Berlin`},
		{name: "daily digest time zone empty", edits: after("monitor:\n  daily_digest:\n    time_zone: ''\n"),
			keys: []string{"monitor.daily_digest.time_zone"}, lines: []int{12}, msg: `must not be empty; leave it out to use "UTC"`},
		{name: "daily digest has no day", edits: after("monitor:\n  daily_digest:\n    day: monday\n"),
			keys: []string{"monitor.daily_digest.day"}, lines: []int{12}, msg: "unknown key; known keys here are hour, time_zone"},
		{name: "daily digest on", edits: after("monitor:\n  daily_digest: on\n"),
			keys: []string{"monitor.daily_digest"}, lines: []int{11}, msg: `expected a mapping of settings, got "on"`},
		// docker: several engines.
		{name: "docker hosts", edits: after("docker:\n  hosts:\n    web:\n      address: unix:///var/run/docker.sock\n    db:\n      address: ssh://steward@db.example.org\n      only_label: steward.group=friends\n")},
		{name: "docker hosts beside host", edits: after("docker:\n  host: unix:///var/run/docker.sock\n  hosts:\n    web:\n      address: unix:///var/run/docker.sock\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "can't be set with docker.hosts"},
		{name: "docker hosts empty", edits: after("docker:\n  hosts: {}\n"),
			keys: []string{"docker.hosts"}, lines: []int{11}, msg: "must name at least one engine"},
		{name: "docker host name with a slash", edits: after("docker:\n  hosts:\n    web/1:\n      address: unix:///run/docker.sock\n"),
			keys: []string{"docker.hosts.web/1"}, lines: []int{12}, msg: "a host name is lower-case letters"},
		{name: "docker host without an address", edits: after("docker:\n  hosts:\n    web:\n      only_label: a\n"),
			keys: []string{"docker.hosts.web"}, lines: []int{12}, msg: "needs an address"},
		{name: "docker host address checked", edits: after("docker:\n  hosts:\n    web:\n      address: /run/docker.sock\n"),
			keys: []string{"docker.hosts.web.address"}, lines: []int{13}, msg: "did you mean"},
		{name: "docker tls on a socket", edits: after("docker:\n  tls:\n    ca: /etc/hostname\n    cert: /etc/hostname\n    key: /etc/hostname\n"),
			keys: []string{"docker.tls"}, lines: []int{11}, msg: "is for a tcp:// engine only"},
		{name: "docker tls over tcp", edits: after("docker:\n  host: tcp://192.0.2.1:2376\n  tls:\n    ca: /etc/hostname\n    cert: /etc/hostname\n    key: /etc/hostname\n")},
		{name: "docker tls without a key", edits: after("docker:\n  host: tcp://192.0.2.1:2376\n  tls:\n    ca: /etc/hostname\n    cert: /etc/hostname\n"),
			keys: []string{"docker.tls.key"}, msg: "all three of ca, cert and key are needed"},
		{name: "docker tls file missing", edits: after("docker:\n  host: tcp://192.0.2.1:2376\n  tls:\n    ca: /nonexistent/ca.pem\n    cert: /etc/hostname\n    key: /etc/hostname\n"),
			keys: []string{"docker.tls.ca"}, lines: []int{13}, msg: "can't read it: open /nonexistent/ca.pem: no such file or directory"},
		{name: "docker ssh options over tcp", edits: after("docker:\n  host: tcp://192.0.2.1:2376\n  ssh:\n    known_hosts: /etc/hostname\n"),
			keys: []string{"docker.ssh"}, lines: []int{12}, msg: "is for an ssh:// engine only"},
		{name: "docker two hosts on one engine, labels apart", edits: after("docker:\n  hosts:\n    a: {address: unix:///run/docker.sock, only_label: g=a}\n    b: {address: unix:///run/docker.sock, only_label: g=b}\n")},
		{name: "docker two hosts on one engine, overlapping", edits: after("docker:\n  hosts:\n    a: {address: unix:///run/docker.sock, only_label: g=a}\n    b: {address: unix:///run/docker.sock}\n"),
			keys: []string{"docker.hosts.b.address"}, msg: "is docker.hosts.a's engine too"},
		{name: "docker ssh with a query", edits: after("docker:\n  host: ssh://steward@db.example.org?x=1\n"),
			keys: []string{"docker.host"}, lines: []int{11}, msg: "ssh:// takes no ?query"},
		// backups.
		{name: "backups every 7d, a week in the grammar chat takes", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n      every: 7d\n      check:\n        every: 2w\n")},
		{name: "backups one set", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n")},
		{name: "backups off-site pair", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n      offsite_copy: far\n    - name: far\n      repository: sftp:u@h:/r\n      password_file: /etc/hostname\n      offsite: true\n")},
		{name: "backups off-site copy not marked", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n      offsite_copy: far\n    - name: far\n      repository: sftp:u@h:/r\n      password_file: /etc/hostname\n"),
			keys: []string{"backups.sets[0].offsite_copy"}, msg: `set "far" is not marked offsite: true`},
		{name: "backups off-site copy unknown", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n      offsite_copy: nowhere\n"),
			keys: []string{"backups.sets[0].offsite_copy"}, msg: `there is no set "nowhere"`},
		{name: "backups set without repository", edits: after("backups:\n  sets:\n    - name: cloud\n      password_file: /etc/hostname\n"),
			keys: []string{"backups.sets[0].repository"}, msg: "required: the restic repository"},
		{name: "backups set name bad", edits: after("backups:\n  sets:\n    - name: Cloud Files\n      repository: /r\n      password_file: /etc/hostname\n"),
			keys: []string{"backups.sets[0].name"}, msg: `not a set name: "Cloud Files"`},
		{name: "backups set names twice", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n    - name: cloud\n      repository: /r2\n      password_file: /etc/hostname\n"),
			keys: []string{"backups.sets[1].name"}, msg: `"cloud" is also the name of backups.sets[0]`},
		{name: "backups password file missing", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /r\n      password_file: /nonexistent/pw\n"),
			keys: []string{"backups.sets[0].password_file"}, msg: "can't read it"},
		{name: "backups restore target root", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n      restore_targets: [/]\n"),
			keys: []string{"backups.sets[0].restore_targets[0]"}, msg: "must not be /"},
		{name: "backups path not clean", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /r\n      password_file: /etc/hostname\n      paths: [/srv/../etc]\n"),
			keys: []string{"backups.sets[0].paths[0]", "backups.sets[0].restore_targets[0]"}, msg: "must be an absolute, clean path"},
		{name: "backups run through a shell", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n      run: [backup.sh]\n"),
			keys: []string{"backups.sets[0].run"}, msg: "the program must be an absolute path"},
		{name: "backups read_data bad", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n      check: {read_data: half}\n"),
			keys: []string{"backups.sets[0].check.read_data"}, msg: `got "half"`},
		{name: "backups drill files zero", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: /srv/backups/cloud\n      password_file: /etc/hostname\n      paths: [/srv/cloud]\n      drill: {files: 0}\n"),
			keys: []string{"backups.sets[0].drill.files"}, msg: "must be from 1 to 1000, got 0"},
		{name: "backups remote repo with password", edits: after("backups:\n  sets:\n    - name: cloud\n      repository: 'rest:https://u:secret@h/r'\n      password_file: /etc/hostname\n"),
			keys: []string{"backups.sets[0].repository"}, msg: "must not hold a password"},
		// tickets.
		{name: "tickets set", edits: after("tickets:\n  abuse_deadline: 12h\n  remind_before: 1h\n  max_per_day: 3\n  retention: 30 days\n  categories: [spam, scam]\n  sign_replies: true\n"),
			keys: []string{"tickets.retention"}, msg: "not a duration"},
		{name: "tickets good", edits: after("tickets:\n  abuse_deadline: 12h\n  remind_before: 1h\n  max_per_day: 3\n  retention: 720h\n  categories: [spam, scam]\n  sign_replies: true\n")},
		{name: "tickets reminder after deadline", edits: after("tickets:\n  abuse_deadline: 1h\n  remind_before: 2h\n"),
			keys: []string{"tickets.remind_before"}, lines: []int{12}, msg: "must be from 0s to less than tickets.abuse_deadline (1h0m0s), got 2h0m0s"},
		{name: "tickets category twice", edits: after("tickets:\n  categories: [spam, spam]\n"),
			keys: []string{"tickets.categories[1]"}, msg: `"spam" is listed twice`},
		{name: "tickets category with spaces", edits: after("tickets:\n  categories: [hate speech]\n"),
			keys: []string{"tickets.categories[0]"}, msg: "one lower-case word"},
		{name: "docker only_label bad", edits: after("docker:\n  only_label: '=x'\n"),
			keys: []string{"docker.only_label"}, lines: []int{11}, msg: "must be a label, KEY or KEY=VALUE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := c.doc
			if doc == "" {
				doc = edit(t, base, c.edits...)
			}
			cfg, err := Parse([]byte(doc), env(envPassword))
			if c.keys == nil {
				if err != nil {
					t.Fatalf("Parse: unexpected problems:\n%v", err)
				}
				if cfg == nil {
					t.Fatal("Parse returned nil config and nil error")
				}
				return
			}
			ps := problemsOf(t, err)
			if got := keysOf(ps); !slices.Equal(got, c.keys) {
				t.Fatalf("problem keys = %q, want %q\n%v", got, c.keys, ps)
			}
			if c.lines != nil {
				lines := make([]int, len(ps))
				for i, p := range ps {
					lines[i] = p.Line
				}
				if !slices.Equal(lines, c.lines) {
					t.Errorf("problem lines = %v, want %v\n%v", lines, c.lines, ps)
				}
			}
			if !strings.Contains(ps[0].Msg, c.msg) {
				t.Errorf("message = %q, want it to contain %q", ps[0].Msg, c.msg)
			}
			if cfg != nil {
				t.Error("Parse returned a config along with problems")
			}
		})
	}
}

// TestWalkMap checks that a map's entries are walked like struct fields, with
// dotted keys and lines, and that a bad entry is dropped while the good ones
// still decode.
func TestWalkMap(t *testing.T) {
	type limits struct {
		Max int `yaml:"max"`
	}
	type doc struct {
		Limits map[string]limits `yaml:"limits"`
		Counts map[string]int    `yaml:"counts"`
	}
	src := `limits:
  web: {max: 3}
  db:
    max: many
  mail:
    mx: 2
  web:
    max: 4
counts:
  a: 1
  b: [2]
  c: 3
`
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		t.Fatal(err)
	}
	w := walker{lines: map[string]int{}, set: map[string]bool{}, bad: map[string]bool{}}
	w.walk(root.Content[0], reflect.TypeFor[doc](), "", 1)
	want := Problems{
		{Key: "limits.db.max", Line: 4, Msg: `expected a whole number, got "many"`},
		{Key: "limits.mail.mx", Line: 6, Msg: `unknown key (did you mean "max"?)`},
		{Key: "limits.web", Line: 7, Msg: "set twice (first on line 2)"},
		{Key: "counts.b", Line: 11, Msg: "expected a whole number, got a list"},
	}
	if !slices.Equal(w.problems, want) {
		t.Errorf("problems:\n%v\nwant\n%v", w.problems, want)
	}
	if !w.set["limits.web.max"] || w.lines["counts.c"] != 12 {
		t.Errorf("set[limits.web.max] = %v, lines[counts.c] = %d; want true, 12", w.set["limits.web.max"], w.lines["counts.c"])
	}

	var got doc
	if err := root.Decode(&got); err != nil {
		t.Fatalf("Decode after the walk: %v", err)
	}
	wantDoc := doc{
		Limits: map[string]limits{"web": {Max: 3}, "db": {}, "mail": {}},
		Counts: map[string]int{"a": 1, "c": 3},
	}
	if !reflect.DeepEqual(got, wantDoc) {
		t.Errorf("decoded %+v, want %+v", got, wantDoc)
	}
}

func TestPolicyCommands(t *testing.T) {
	cases := []struct {
		name, policy string
		want         map[string]string
	}{
		{"absent", "", nil},
		{"empty", "policy:\n  commands: {}\n", map[string]string{}},
		{"entries", "policy:\n  commands:\n    announce: second_admin\n    restart: quorum:1\n",
			map[string]string{"announce": "second_admin", "restart": "quorum:1"}},
		{"merged, then overridden", "policy:\n  commands:\n    <<: {announce: confirm, restart: none}\n    announce: quorum:1\n",
			map[string]string{"announce": "quorum:1", "restart": "none"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base+c.policy), env(envPassword))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(cfg.Policy.Commands, c.want) {
				t.Errorf("policy.commands = %#v, want %#v", cfg.Policy.Commands, c.want)
			}
		})
	}
}

func TestWeeklySummary(t *testing.T) {
	cases := []struct {
		name     string
		summary  string // the decision_log section
		day      time.Weekday
		hour     int
		location string
	}{
		{"defaults", "  weekly_summary:\n    day: monday\n", time.Monday, 9, "UTC"},
		{"hour 0 is kept", "  weekly_summary:\n    day: tue\n    hour: 0\n", time.Tuesday, 0, "UTC"},
		{"null hour is the default", "  weekly_summary:\n    day: WED\n    hour:\n", time.Wednesday, 9, "UTC"},
		{"every key", "  weekly_summary:\n    day: Thursday\n    hour: 23\n    time_zone: Europe/Berlin\n", time.Thursday, 23, "Europe/Berlin"},
		{"friday", "  weekly_summary: {day: fri, time_zone: Asia/Kolkata}\n", time.Friday, 9, "Asia/Kolkata"},
		{"saturday", "  weekly_summary: {day: Sat}\n", time.Saturday, 9, "UTC"},
		{"sunday", "  weekly_summary: {day: sunday}\n", time.Sunday, 9, "UTC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base+"decision_log:\n"+c.summary), env(envPassword))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ws := cfg.DecisionLog.WeeklySummary
			if ws == nil {
				t.Fatal("WeeklySummary is nil, want it set")
			}
			if ws.Weekday() != c.day || ws.Hour != c.hour || ws.Location == nil || ws.Location.String() != c.location {
				t.Errorf("Weekday, Hour, Location = %v, %d, %v; want %v, %d, %s", ws.Weekday(), ws.Hour, ws.Location, c.day, c.hour, c.location)
			}
			if ws.TimeZone != c.location {
				t.Errorf("TimeZone = %q, want %q", ws.TimeZone, c.location)
			}
		})
	}

	for _, off := range []string{"", "decision_log:\n", "decision_log: {}\n", "decision_log:\n  weekly_summary:\n", "decision_log:\n  weekly_summary: ~\n"} {
		cfg, err := Parse([]byte(base+off), env(envPassword))
		if err != nil {
			t.Fatalf("Parse with %q: %v", off, err)
		}
		if ws := cfg.DecisionLog.WeeklySummary; ws != nil {
			t.Errorf("with %q: WeeklySummary = %+v, want nil (off)", off, ws)
		}
	}

	if d := (&WeeklySummary{Day: "someday"}).Weekday(); d != -1 {
		t.Errorf("Weekday() of an unknown day = %d, want -1", d)
	}
}

// TestOnCall checks what callers read from the oncall section: the
// rotation in its order, the handover's schedule, and a Location that is
// never nil, even with the section absent.
func TestOnCall(t *testing.T) {
	cases := []struct {
		name     string
		oncall   string // the oncall section
		rotation []id.UserID
		daily    bool
		day      time.Weekday
		hour     int
		location string
	}{
		{"absent", "", nil, false, time.Monday, 9, "UTC"},
		{"null", "oncall:\n", nil, false, time.Monday, 9, "UTC"},
		{"empty", "oncall: {}\n", nil, false, time.Monday, 9, "UTC"},
		{"rotation only", "oncall:\n  rotation:\n    - \"@bob:example.org\"\n    - \"@alice:example.org\"\n",
			[]id.UserID{"@bob:example.org", "@alice:example.org"}, false, time.Monday, 9, "UTC"},
		{"weekly on a short day name", "oncall:\n  rotation: [\"@alice:example.org\"]\n  day: FRI\n  hour: 17\n",
			[]id.UserID{"@alice:example.org"}, false, time.Friday, 17, "UTC"},
		{"every key", "oncall:\n  rotation: [\"@alice:example.org\", \"@bob:example.org\"]\n  handover: weekly\n  day: sunday\n  hour: 0\n  time_zone: America/New_York\n",
			[]id.UserID{"@alice:example.org", "@bob:example.org"}, false, time.Sunday, 0, "America/New_York"},
		{"daily", "oncall:\n  rotation: [\"@bob:example.org\", \"@alice:example.org\"]\n  handover: daily\n  hour: 8\n  time_zone: Europe/Berlin\n",
			[]id.UserID{"@bob:example.org", "@alice:example.org"}, true, time.Monday, 8, "Europe/Berlin"},
		{"null hour is the default", "oncall:\n  handover: daily\n  hour:\n", nil, true, time.Monday, 9, "UTC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base+c.oncall), env(envPassword))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			o := cfg.OnCall
			if !slices.Equal(o.Rotation, c.rotation) {
				t.Errorf("Rotation = %q, want %q", o.Rotation, c.rotation)
			}
			if o.Daily() != c.daily || o.Weekday() != c.day || o.Hour != c.hour {
				t.Errorf("Daily, Weekday, Hour = %v, %v, %d; want %v, %v, %d", o.Daily(), o.Weekday(), o.Hour, c.daily, c.day, c.hour)
			}
			if o.TimeZone != c.location || o.Location == nil || o.Location.String() != c.location {
				t.Errorf("TimeZone, Location = %q, %v; want %s loaded", o.TimeZone, o.Location, c.location)
			}
		})
	}

	// An OnCall built in code, without the defaults, is a weekly handover
	// on Monday.
	for _, c := range []struct {
		o     OnCall
		daily bool
		day   time.Weekday
	}{
		{OnCall{}, false, time.Monday},
		{OnCall{Day: "someday"}, false, time.Monday},
		{OnCall{Day: "wed"}, false, time.Wednesday},
		{OnCall{Handover: "daily"}, true, time.Monday},
	} {
		if c.o.Daily() != c.daily || c.o.Weekday() != c.day {
			t.Errorf("%+v: Daily, Weekday = %v, %v; want %v, %v", c.o, c.o.Daily(), c.o.Weekday(), c.daily, c.day)
		}
	}
}

// TestMonitorInheritsFor checks that checks without a for of their own
// take monitor.for, except cpu, whose default stays 5m, and containers,
// whose default stays 0s.
func TestMonitorInheritsFor(t *testing.T) {
	doc := base + `monitor:
  for: 7m
  disks:
    - path: /
    - path: /srv
      for: 1m
  memory:
    for: 0s
  http:
    - name: web
      url: https://example.org/
`
	cfg, err := Parse([]byte(doc), env(envPassword))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	m := cfg.Monitor
	for _, c := range []struct {
		name string
		got  Duration
		want time.Duration
	}{
		{"cpu (its own default)", m.CPU.For, 5 * time.Minute},
		{"memory (set to 0s)", m.Memory.For, 0},
		{"swap", m.Swap.For, 7 * time.Minute},
		{"load", m.Load.For, 7 * time.Minute},
		{"disks[0]", m.Disks[0].For, 7 * time.Minute},
		{"disks[1] (set)", m.Disks[1].For, time.Minute},
		{"http[0]", m.HTTP[0].For, 7 * time.Minute},
		{"containers (its own default)", m.Containers.For, 0},
	} {
		if c.got.D() != c.want {
			t.Errorf("%s.for = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestMonitorDisks checks that the disk defaults apply to each entry on its
// own, so setting a level on one disk leaves the other at the defaults.
func TestMonitorDisks(t *testing.T) {
	doc := base + `monitor:
  disks:
    - path: /
      critical: 90
      forecast: 24h
    - path: /var/lib/docker
      warning: 60
      inodes_critical: 99
      forecast: 0s
      hint: docker system prune
`
	cfg, err := Parse([]byte(doc), env(envPassword))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []Disk{
		{Path: "/", Warning: 85, Critical: 90, InodesWarning: 85, InodesCritical: 95,
			Forecast: Duration(24 * time.Hour), For: Duration(2 * time.Minute)},
		{Path: "/var/lib/docker", Warning: 60, Critical: 95, InodesWarning: 85, InodesCritical: 99,
			Forecast: 0, For: Duration(2 * time.Minute), Hint: "docker system prune"},
	}
	if !reflect.DeepEqual(cfg.Monitor.Disks, want) {
		t.Errorf("disks:\n got %+v\nwant %+v", cfg.Monitor.Disks, want)
	}

	cfg, err = Parse([]byte(base+"monitor:\n  disks: []\n"), env(envPassword))
	if err != nil {
		t.Fatalf("Parse with disks: []: %v", err)
	}
	if d := cfg.Monitor.Disks; d == nil || len(d) != 0 {
		t.Errorf("disks: [] gives %#v, want an empty list (disk monitoring off)", d)
	}
}

func TestHTTPCheck(t *testing.T) {
	doc := base + `monitor:
  for: 1m
  http:
    - name: web
      url: https://example.org/
    - name: api
      url: http://127.0.0.1:8080/health
      interval: 5s
      status: [204, 401]
      public: true
`
	cfg, err := Parse([]byte(doc), env(envPassword))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []HTTPCheck{
		{Name: "web", URL: "https://example.org/", Interval: Duration(30 * time.Second), Timeout: Duration(10 * time.Second),
			LatencyWarning: Duration(2 * time.Second), CertWarning: Duration(14 * 24 * time.Hour), CertCritical: Duration(3 * 24 * time.Hour),
			For: Duration(time.Minute)},
		// The default timeout shrinks to a shorter interval.
		{Name: "api", URL: "http://127.0.0.1:8080/health", Interval: Duration(5 * time.Second), Timeout: Duration(5 * time.Second),
			Status: []int{204, 401}, LatencyWarning: Duration(2 * time.Second), CertWarning: Duration(14 * 24 * time.Hour),
			CertCritical: Duration(3 * 24 * time.Hour), For: Duration(time.Minute), Public: true},
	}
	if !reflect.DeepEqual(cfg.Monitor.HTTP, want) {
		t.Fatalf("http:\n got %+v\nwant %+v", cfg.Monitor.HTTP, want)
	}

	web, api := cfg.Monitor.HTTP[0], cfg.Monitor.HTTP[1]
	for _, c := range []struct {
		code         int
		webOK, apiOK bool
	}{
		{100, false, false},
		{199, false, false},
		{200, true, false},
		{204, true, true},
		{301, true, false},
		{399, true, false},
		{400, false, false},
		{401, false, true},
		{404, false, false},
		{500, false, false},
		{503, false, false},
	} {
		if got := web.OK(c.code); got != c.webOK {
			t.Errorf("default status: OK(%d) = %v, want %v", c.code, got, c.webOK)
		}
		if got := api.OK(c.code); got != c.apiOK {
			t.Errorf("status [204, 401]: OK(%d) = %v, want %v", c.code, got, c.apiOK)
		}
	}
}

func TestDailyDigest(t *testing.T) {
	cases := []struct {
		name     string
		digest   string // the daily_digest key
		hour     int
		location string
	}{
		{"empty means the defaults", "  daily_digest: {}\n", 9, "UTC"},
		{"hour 0 is kept", "  daily_digest:\n    hour: 0\n", 0, "UTC"},
		{"null hour is the default", "  daily_digest:\n    hour:\n    time_zone: Asia/Tokyo\n", 9, "Asia/Tokyo"},
		{"every key", "  daily_digest:\n    hour: 23\n    time_zone: Europe/Berlin\n", 23, "Europe/Berlin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base+"monitor:\n"+c.digest), env(envPassword))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			dd := cfg.Monitor.DailyDigest
			if dd == nil {
				t.Fatal("DailyDigest is nil, want it set")
			}
			if dd.Hour != c.hour || dd.TimeZone != c.location || dd.Location == nil || dd.Location.String() != c.location {
				t.Errorf("Hour, TimeZone, Location = %d, %q, %v; want %d, %q, %s", dd.Hour, dd.TimeZone, dd.Location, c.hour, c.location, c.location)
			}
		})
	}

	for _, off := range []string{"", "monitor:\n", "monitor: {}\n", "monitor:\n  daily_digest:\n", "monitor:\n  daily_digest: ~\n"} {
		cfg, err := Parse([]byte(base+off), env(envPassword))
		if err != nil {
			t.Fatalf("Parse with %q: %v", off, err)
		}
		if dd := cfg.Monitor.DailyDigest; dd != nil {
			t.Errorf("with %q: DailyDigest = %+v, want nil (off)", off, dd)
		}
	}
}

func TestThresholdOn(t *testing.T) {
	cases := []struct {
		name string
		set  *bool
		want bool
	}{
		{"unset means on", nil, true},
		{"true", ptr(true), true},
		{"false", ptr(false), false},
	}
	for _, c := range cases {
		if got := (Threshold{Enabled: c.set}).On(); got != c.want {
			t.Errorf("%s: On() = %v, want %v", c.name, got, c.want)
		}
		if got := (Containers{Enabled: c.set}).On(); got != c.want {
			t.Errorf("%s: Containers.On() = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDockerHostPasswordNotRepeated keeps a password written into
// docker.host out of the problems, which end up in logs.
func TestDockerHostPasswordNotRepeated(t *testing.T) {
	for _, host := range []string{"ssh://steward:hunter2@docker.example.org", "tcp://steward:hunter2@192.0.2.10:2376",
		"ssh://steward:hunter2@", "ssh://steward:hunter2@exa mple.org/%zz"} {
		_, err := Parse([]byte(base+"docker:\n  host: \""+host+"\"\n"), env(envPassword))
		ps := problemsOf(t, err)
		if len(ps) != 1 || ps[0].Key != "docker.host" || !strings.Contains(ps[0].Msg, "must not hold a password") {
			t.Errorf("host %q: problems = %v, want one at docker.host about the password", host, ps)
		}
		if strings.Contains(ps.Error(), "hunter2") {
			t.Errorf("host %q: problems repeat the password: %v", host, ps)
		}
	}
}

// TestParseReportsEverything checks that one pass reports every problem, in
// file order with lines, and missing keys last.
func TestParseReportsEverything(t *testing.T) {
	doc := `matrix:
  homeservr: https://matrix.example.org
  user_id: steward
  admin_room: "!admins:example.org"
  group_room: "!admins:example.org"
  admins: "@alice:example.org"
  allow_unencrypted: maybe
  stale_after: ten
datadir: /var/lib/steward
log:
  level: loud
monitor:
  disks:
    - path: relative
rate_limit:
  burst: lots
  per_minute: 0
`
	_, err := Parse([]byte(doc), env(""))
	ps := problemsOf(t, err)
	want := Problems{
		{Key: "matrix.homeservr", Line: 2},
		{Key: "matrix.user_id", Line: 3},
		{Key: "matrix.group_room", Line: 5},
		{Key: "matrix.admins", Line: 6},
		{Key: "matrix.allow_unencrypted", Line: 7},
		{Key: "matrix.stale_after", Line: 8, Msg: `not a duration: "ten"`},
		{Key: "datadir", Line: 9},
		{Key: "log.level", Line: 11},
		{Key: "monitor.disks[0].path", Line: 14},
		{Key: "rate_limit.burst", Line: 16},
		{Key: "rate_limit.per_minute", Line: 17},
		{Key: "matrix.homeserver"},
		{Key: "matrix.password_file"},
		{Key: "data_dir"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	for i, w := range want {
		if ps[i].Key != w.Key || ps[i].Line != w.Line || (w.Msg != "" && ps[i].Msg != w.Msg) {
			t.Errorf("problem %d = %+v, want %+v", i, ps[i], w)
		}
	}
	if line := `matrix.stale_after (line 8): not a duration: "ten"`; !strings.Contains(ps.Error(), line+"\n") {
		t.Errorf("Error() lacks line %q:\n%v", line, ps.Error())
	}
}

// TestParseDocumentProblems covers files that are not a single mapping.
func TestParseDocumentProblems(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		line int
		msg  string
	}{
		{"empty", "", 0, "the config file is empty"},
		{"only comments", "# nothing here\n", 0, "the config file is empty"},
		{"null", "~\n", 1, "the config file is empty"},
		{"list", "- matrix\n", 1, "expected a mapping of settings (matrix:, data_dir:, ...), got a list"},
		{"string", "hello\n", 1, `expected a mapping of settings (matrix:, data_dir:, ...), got "hello"`},
		{"syntax error", "matrix:\n  admins: [\n", 2, "not valid YAML"},
		{"tab indentation", "matrix:\n\thomeserver: x\n", 2, "not valid YAML"},
		{"two documents", base + "---\ndata_dir: /x\n", 10, "more than one YAML document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), env(envPassword))
			ps := problemsOf(t, err)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), ps)
			}
			if ps[0].Key != "" || ps[0].Line != c.line || !strings.Contains(ps[0].Msg, c.msg) {
				t.Errorf("problem = %+v, want line %d and a message containing %q", ps[0], c.line, c.msg)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "file-secret-71ab\r\n\n", 0o600)
	empty := write("empty", "", 0o600)
	blank := write("blank", " \n\t\n", 0o600)
	missing := filepath.Join(dir, "missing")
	subdir := filepath.Join(dir, "subdir")
	if err := os.Mkdir(subdir, 0o700); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		file   string // password_file; "" leaves the key out
		env    string
		want   string // the password, when valid
		errMsg string // problem at matrix.password_file, when invalid
	}{
		{name: "from file, trailing whitespace trimmed", file: good, want: "file-secret-71ab"},
		{name: "env wins over file", file: good, env: envPassword, want: envPassword},
		{name: "env without file", env: envPassword, want: envPassword},
		{name: "env wins over a missing file", file: missing, env: envPassword, want: envPassword},
		{name: "neither", errMsg: "required unless STEWARD_MATRIX_PASSWORD is set"},
		{name: "file does not exist", file: missing, errMsg: "can't read the password file: open " + missing + ": no such file or directory"},
		{name: "file is a directory", file: subdir, errMsg: "can't read the password file: read " + subdir + ": is a directory"},
		{name: "file empty", file: empty, errMsg: "the password file " + empty + " is empty"},
		{name: "file only whitespace", file: blank, errMsg: "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := base
			if c.file != "" {
				doc = edit(t, base, "  admins:", "  password_file: "+c.file+"\n  admins:")
			}
			cfg, err := Parse([]byte(doc), env(c.env))
			if c.errMsg == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got := cfg.Password(); got != c.want {
					t.Errorf("Password() = %q, want %q", got, c.want)
				}
				return
			}
			ps := problemsOf(t, err)
			if len(ps) != 1 || ps[0].Key != "matrix.password_file" || !strings.Contains(ps[0].Msg, c.errMsg) {
				t.Fatalf("problems = %v, want one at matrix.password_file containing %q", ps, c.errMsg)
			}
			if strings.Contains(ps.Error(), "secret") {
				t.Errorf("problem text includes file contents: %q", ps.Error())
			}
		})
	}
}

// TestPasswordNeverPrinted guards against the secret leaking into logs:
// neither a printed config nor the problems of an invalid one may hold it.
func TestPasswordNeverPrinted(t *testing.T) {
	const secret = "correct horse battery staple"
	cfg, err := Load(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Password() != secret {
		t.Fatalf("Password() = %q, want %q", cfg.Password(), secret)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, v := range []any{cfg, *cfg} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
				t.Errorf("fmt.Sprintf(%q, %T) contains the password: %s", verb, v, out)
			}
		}
	}
	if out := fmt.Sprintf("%+v", cfg); !strings.Contains(out, "password:[redacted]") {
		t.Errorf("%%+v output does not show the redaction: %s", out)
	}

	// An invalid config whose password was read must not echo it either.
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := edit(t, base, "  admins:", "  password_file: "+pwFile+"\n  stale_after: ten\n  password: "+secret+"\n  admins:")
	for _, getenv := range []func(string) string{env(""), env(secret)} {
		_, err = Parse([]byte(doc), getenv)
		ps := problemsOf(t, err)
		if len(ps) != 2 {
			t.Errorf("got %v, want the stale_after and password problems", ps)
		}
		for _, out := range []string{ps.Error(), err.Error(), fmt.Sprintf("%+v", ps)} {
			if strings.Contains(out, secret) {
				t.Errorf("problems contain the password: %s", out)
			}
		}
	}
}

func TestDuration(t *testing.T) {
	cases := []struct {
		doc  string
		want time.Duration
		err  string
	}{
		{doc: "d: 10m", want: 10 * time.Minute},
		{doc: "d: 90s", want: 90 * time.Second},
		{doc: "d: 1h30m", want: 90 * time.Minute},
		{doc: "d: 7d", want: 7 * 24 * time.Hour},
		{doc: "d: 2w", want: 14 * 24 * time.Hour},
		{doc: "d: ten", err: `not a duration: "ten"`},
		{doc: "d: 10", err: `not a duration: "10"`},
		{doc: "d: [10m]", err: "expected a duration like 90s, 10m or 1h30m, got a list"},
	}
	for _, c := range cases {
		t.Run(c.doc, func(t *testing.T) {
			var v struct {
				D Duration `yaml:"d"`
			}
			err := yaml.Unmarshal([]byte(c.doc), &v)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.D.D() != c.want {
				t.Errorf("D() = %v, want %v", v.D.D(), c.want)
			}
		})
	}
}

func TestVerifiedDevicesRequired(t *testing.T) {
	cases := []struct {
		name string
		set  *bool
		want bool
	}{
		{"unset means required", nil, true},
		{"true", ptr(true), true},
		{"false", ptr(false), false},
	}
	for _, c := range cases {
		if got := (Matrix{RequireVerifiedDevices: c.set}).VerifiedDevicesRequired(); got != c.want {
			t.Errorf("%s: VerifiedDevicesRequired() = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestProblemsError(t *testing.T) {
	ps := Problems{
		{Key: "matrix.stale_after", Line: 7, Msg: `not a duration: "ten"`},
		{Key: "data_dir", Msg: "required"},
		{Line: 3, Msg: "not valid YAML: oops"},
		{Msg: "the config file is empty"},
	}
	want := `matrix.stale_after (line 7): not a duration: "ten"
data_dir: required
line 3: not valid YAML: oops
the config file is empty`
	if got := ps.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

// TestExampleConfig keeps deploy/steward.example.yaml valid and complete:
// it must load, and set every key Config knows, so users see them all.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "deploy", "steward.example.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data, env(envPassword)); err != nil {
		t.Fatalf("%s does not load:\n%v", path, err)
	}

	root, ps := readDocument(data)
	if root == nil {
		t.Fatal(ps)
	}
	w := walker{lines: map[string]int{}, set: map[string]bool{}, bad: map[string]bool{}}
	w.walk(root, reflect.TypeFor[Config](), "", root.Line)
	index := regexp.MustCompile(`\[\d+\]`)
	used := map[string]bool{}
	for k := range w.set {
		used[index.ReplaceAllString(k, "")] = true
	}
	// Keys that can't be set beside the ones the example sets (docker.hosts
	// replaces docker.host; TLS and ssh files are for other kinds of
	// address) are shown in comments.
	commented := []string{"docker.hosts", "docker.only_label", "docker.tls.ca", "docker.tls.cert", "docker.tls.key",
		"docker.ssh.identity", "docker.ssh.known_hosts"}
	for _, key := range leafKeys(reflect.TypeFor[Config](), "") {
		if strings.HasPrefix(key, "backups.") || strings.HasPrefix(key, "http.") || strings.HasPrefix(key, "jobs.") ||
			strings.HasPrefix(key, "alertmanager.") || strings.HasPrefix(key, "heartbeat.") || strings.HasPrefix(key, "fallback.") {
			commented = append(commented, key)
		}
	}
	for _, key := range commented {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if used[key] || !regexp.MustCompile(`(?m)^\s*#\s+(- )?`+leaf+`:`).Match(data) {
			t.Errorf("%s should show key %s in a comment", path, key)
		}
		used[key] = true
	}
	for _, key := range leafKeys(reflect.TypeFor[Config](), "") {
		if !used[key] {
			t.Errorf("%s does not show key %s", path, key)
		}
	}
}

// leafKeys lists the dotted YAML keys of every setting in t.
func leafKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for name, f := range fieldsByName(t) {
		key := joinKey(prefix, name)
		ft := f.Type
		for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, leafKeys(ft, key)...)
		} else {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestParseDuration is the grammar of spans in the config file and in chat
// (!silence, !log --since, !summary).
func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	good := []struct {
		in   string
		want time.Duration
	}{
		{"90s", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"0", 0},
		{"-5m", -5 * time.Minute},
		{"+2h", 2 * time.Hour},
		{"7d", 7 * day},
		{"2w", 14 * day},
		{"1d12h", 36 * time.Hour},
		{"12h1d", 36 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"1w2d3h", 9*day + 3*time.Hour},
		{"-1d", -day},
		{"500ms", 500 * time.Millisecond},
	}
	for _, c := range good {
		if got, err := ParseDuration(c.in); err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "10", "7", "d", "7x", "7 d", "7dd", "1.2.3d", "--1d", "1d-2h", "ten", "7days",
		"99999999999999w", "106752d", ".d", "1d0", "0d0", "1w0"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		} else if want := fmt.Sprintf("not a duration: %q", in); err.Error() != want {
			t.Errorf("ParseDuration(%q) error = %q, want %q", in, err, want)
		}
	}
}

// TestDeclarations checks every default and bound declared in Config's tags:
// each must decode into its field, name keys that exist, and sit where the
// walker reads it (not inside a map, which it does not descend into).
func TestDeclarations(t *testing.T) {
	var check func(typ reflect.Type, key string, inMap bool)
	check = func(typ reflect.Type, key string, inMap bool) {
		for f := range typ.Fields() {
			name, ok := yamlName(f)
			if z, isZone := f.Tag.Lookup("zone"); isZone {
				if zf, ok := fieldsByName(typ)[z]; !ok || zf.Type.Kind() != reflect.String || f.Type != reflect.TypeFor[*time.Location]() {
					t.Errorf("%s: zone:%q must name a string key beside a *time.Location", key, z)
				}
			}
			if !ok {
				continue
			}
			child := joinKey(key, name)
			ft := f.Type
			for _, tag := range []string{"default", "inherit", "min", "max", "above", "zero", "note", "oneof", "nonempty"} {
				if _, has := f.Tag.Lookup(tag); has && inMap {
					t.Errorf("%s: %s tag inside a map is never applied", child, tag)
				}
			}
			if def, has := f.Tag.Lookup("default"); has {
				target := ft
				if ft.Kind() == reflect.Struct {
					target = reflect.TypeFor[map[string]yaml.Node]()
				}
				if err := yaml.Unmarshal([]byte(def), reflect.New(target).Interface()); err != nil {
					t.Errorf("%s: default:%q does not decode: %v", child, def, err)
				}
				if ft.Kind() == reflect.Struct {
					var m map[string]yaml.Node
					_ = yaml.Unmarshal([]byte(def), &m)
					for k, n := range m {
						cf, ok := fieldsByName(ft)[k]
						if !ok {
							t.Errorf("%s: default names unknown key %s", child, k)
						} else if err := n.Decode(reflect.New(cf.Type).Interface()); err != nil {
							t.Errorf("%s: default of %s does not decode: %v", child, k, err)
						}
					}
				}
			}
			if from, has := f.Tag.Lookup("inherit"); has {
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s: inherit:%q: %v", child, from, r)
						}
					}()
					if got := lookup(reflect.New(reflect.TypeFor[Config]()).Elem(), from).Type(); got != ft {
						t.Errorf("%s: inherit:%q is a %s, want %s", child, from, got, ft)
					}
				}()
			}
			for _, b := range []string{"min", "max", "above"} {
				if text, has := f.Tag.Lookup(b); has {
					if err := yaml.Unmarshal([]byte(text), reflect.New(ft).Interface()); err != nil || !(ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Float64) {
						t.Errorf("%s: %s:%q is not a number of the field's type %s (%v)", child, b, text, ft, err)
					}
				}
			}
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Struct:
				check(ft, child, inMap)
			case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
				check(ft.Elem(), child+".NAME", true)
			}
		}
	}
	check(reflect.TypeFor[Config](), "", false)
}

// TestBoundMessages checks that the messages about declared bounds say what
// the declaration says, for each form of bound.
func TestBoundMessages(t *testing.T) {
	type s struct {
		Every    Duration `yaml:"every" min:"1m" max:"24h" note:"a day"`
		Count    int      `yaml:"count" min:"2"`
		NotNeg   Duration `yaml:"not_neg" min:"0s"`
		Rate     float64  `yaml:"rate" above:"0"`
		Span     Duration `yaml:"span" above:"0"`
		Off      Duration `yaml:"off" zero:"off" min:"1h"`
		Hour     int      `yaml:"hour" min:"0" max:"23"`
		Format   string   `yaml:"format" oneof:"json console"`
		Level    string   `yaml:"level" oneof:"debug info warn"`
		Name     string   `yaml:"name" default:"'!'" nonempty:"true"`
		Fraction float64  `yaml:"fraction" min:"0" max:"20"`
	}
	cases := []struct {
		field string
		value any
		want  string // "" when in bounds
	}{
		{"Every", Duration(time.Minute), ""},
		{"Every", Duration(24 * time.Hour), ""},
		{"Every", Duration(59 * time.Second), "must be between 1m and 24h (a day), got 59s"},
		{"Every", Duration(25 * time.Hour), "must be between 1m and 24h (a day), got 25h0m0s"},
		{"Count", 2, ""},
		{"Count", 1, "must be at least 2, got 1"},
		{"NotNeg", Duration(0), ""},
		{"NotNeg", Duration(-time.Second), "must not be negative, got -1s"},
		{"Rate", 0.5, ""},
		{"Rate", 0.0, "must be a finite number above 0, got 0"},
		{"Rate", math.Inf(1), "must be a finite number above 0, got +Inf"},
		{"Span", Duration(0), "must be longer than 0, got 0s"},
		{"Off", Duration(0), ""},
		{"Off", Duration(time.Hour), ""},
		{"Off", Duration(time.Minute), "must be 0s (off) or at least 1h, got 1m0s"},
		{"Hour", 24, "must be from 0 to 23, got 24"},
		{"Format", "json", ""},
		{"Format", "xml", `must be json or console; got "xml"`},
		{"Level", "", `must be one of debug, info, warn; got ""`},
		{"Name", "", `must not be empty; leave it out to use "!"`},
		{"Fraction", math.NaN(), "must be from 0 to 20, got NaN"},
	}
	for _, c := range cases {
		var x s
		f, _ := reflect.TypeFor[s]().FieldByName(c.field)
		fv := reflect.ValueOf(&x).Elem().FieldByName(c.field)
		fv.Set(reflect.ValueOf(c.value).Convert(f.Type))
		v := validator{walker: &walker{set: map[string]bool{c.field: true}}}
		if got := v.outOfBounds(&declared{key: c.field, val: fv, tag: f.Tag}); got != c.want {
			t.Errorf("%s = %v: %q, want %q", c.field, c.value, got, c.want)
		}
	}
}

// TestPolicyCommandLine checks that each key of policy.commands keeps its
// line, so the commands package can point at a command it does not know.
func TestPolicyCommandLine(t *testing.T) {
	doc := base + "policy:\n  commands:\n    restart: confirm\n    <<: {update: second_admin}\n    announce: quorum:1\n"
	cfg, err := Parse([]byte(doc), env(envPassword))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"restart": 12, "update": 13, "announce": 14, "status": 0} {
		if got := cfg.Policy.CommandLine(name); got != want {
			t.Errorf("CommandLine(%q) = %d, want %d", name, got, want)
		}
	}
	if got := (Policy{Commands: map[string]string{"restart": "confirm"}}).CommandLine("restart"); got != 0 {
		t.Errorf("CommandLine of a Policy built in code = %d, want 0", got)
	}
}

// TestFilesAndZonesAfterChecks checks that the files and zones looked up
// after the checks are reported with the others, in file order, with lines.
func TestFilesAndZonesAfterChecks(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	doc := base + "oncall:\n  time_zone: Mars/Olympus\n  hour: 24\n" +
		"docker:\n  host: tcp://192.0.2.1:2376\n  tls: {ca: " + missing + ", cert: " + missing + ", key: " + missing + "}\n" +
		"rate_limit:\n  burst: 0\n"
	_, err := Parse([]byte(doc), env(""))
	ps := problemsOf(t, err)
	want := []struct {
		key  string
		line int
		msg  string
	}{
		{"oncall.time_zone", 11, `not a time zone: "Mars/Olympus"`},
		{"oncall.hour", 12, "must be from 0 to 23"},
		{"docker.tls.ca", 15, "can't read it"},
		{"docker.tls.cert", 15, "can't read it"},
		{"docker.tls.key", 15, "can't read it"},
		{"rate_limit.burst", 17, "must be at least 1, got 0"},
		{"matrix.password_file", 0, "required unless"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), ps)
	}
	for i, w := range want {
		if ps[i].Key != w.key || ps[i].Line != w.line || !strings.Contains(ps[i].Msg, w.msg) {
			t.Errorf("problem %d = %+v, want %s (line %d) containing %q", i, ps[i], w.key, w.line, w.msg)
		}
	}
}

// TestProblemsOnOneLine checks that problems with keys written on one line
// (a flow mapping) are listed in the order of the settings, as they were
// when every check ran in that order, whichever pass found them: bounds,
// the checks that relate settings, or the files opened after.
func TestProblemsOnOneLine(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		extra string
		want  []string
	}{
		{"monitor: {interval: 0s, cpu: {warning: 0}}\n",
			[]string{"monitor.interval", "monitor.cpu.warning"}},
		{"monitor:\n  http:\n    - {name: web, url: \"https://example.org\", interval: 0s, status: [99]}\n",
			[]string{"monitor.http[0].interval", "monitor.http[0].status[0]"}},
		{"backups:\n  sets:\n    - name: cloud\n      repository: /srv/restic\n      password_file: /etc/hostname\n" +
			"      paths: [/srv]\n      check: {every: 30m, read_data: 200%}\n",
			[]string{"backups.sets[0].check.every", "backups.sets[0].check.read_data"}},
		{"docker:\n  host: tcp://192.0.2.1:2376\n  tls: {ca: " + missing + ", cert: \"\", key: " + missing + "}\n",
			[]string{"docker.tls.ca", "docker.tls.cert", "docker.tls.key"}},
		{"monitor: {disks: [{path: /, warning: 0, critical: 0}]}\n",
			[]string{"monitor.disks[0].warning", "monitor.disks[0].critical"}},
		// The disks are checked after the host checks.
		{"monitor: {disks: [{path: /, forecast: -1s}], interval: 0s, load: {warning: 0}, http: [{name: web, url: bad}]}\n",
			[]string{"monitor.interval", "monitor.load.warning", "monitor.disks[0].forecast", "monitor.http[0].url"}},
		// What the walker finds comes first, as it always did.
		{"monitor: {interval: 0s, cpu: {warning: x}}\n",
			[]string{"monitor.cpu.warning", "monitor.interval"}},
		// A check that is not in the order of the settings keeps its place.
		{"monitor:\n  http:\n    - {name: web, url: \"https://example.org\"}\n    - {name: web, url: bad}\n",
			[]string{"monitor.http[1].url", "monitor.http[1].name"}},
		// Missing keys too: a grace defaulted from a bad every is a bound.
		{"decision_log:\n  weekly_summary: {hour: 3}\nbackups:\n  sets:\n    - name: cloud\n      repository: /srv/restic\n" +
			"      password_file: /etc/hostname\n      paths: [/srv]\n      every: -4h\n",
			[]string{"backups.sets[0].every", "backups.sets[0].grace", "decision_log.weekly_summary.day"}},
	} {
		_, err := Parse([]byte(base+c.extra), env(envPassword))
		if got := keysOf(problemsOf(t, err)); !slices.Equal(got, c.want) {
			t.Errorf("%q: problems at %v, want %v", c.extra, got, c.want)
		}
	}
	// The password file was read at the end of the matrix checks.
	doc := `matrix: {homeserver: https://matrix.example.org, user_id: "@steward:example.org", password_file: ` + missing +
		`, admin_room: "!admins:example.org", group_room: "#friends:example.org", admins: ["@alice:example.org"], stale_after: 0s}
data_dir: ""
`
	_, err := Parse([]byte(doc), env(""))
	want := []string{"matrix.stale_after", "matrix.password_file", "data_dir"}
	if got := keysOf(problemsOf(t, err)); !slices.Equal(got, want) {
		t.Errorf("flow matrix: problems at %v, want %v", got, want)
	}
}
