package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
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
		DataDir:   filepath.Join(dir, "data"),
		Log:       Log{Level: "debug", Format: "console"},
		Monitor:   Monitor{Disks: []Disk{{Path: "/"}, {Path: "/srv"}}},
		RateLimit: RateLimit{Burst: 3, PerMinute: 7.5},
		Policy: Policy{
			Commands:         map[string]string{"announce": "second_admin", "restart": "quorum:1"},
			ApprovalTTL:      Duration(2 * time.Hour),
			AllowSingleAdmin: true,
		},
		DecisionLog: DecisionLog{WeeklySummary: &WeeklySummary{Day: "Fri", Hour: 0, TimeZone: "Europe/Berlin"}},
		password:    "correct horse battery staple",
	}
	ws := cfg.DecisionLog.WeeklySummary
	if ws == nil || ws.Location == nil || ws.Location.String() != "Europe/Berlin" {
		t.Fatalf("weekly_summary = %+v, want its Location loaded as Europe/Berlin", ws)
	}
	want.DecisionLog.WeeklySummary.Location = ws.Location
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", *cfg, want)
	}
	if got := cfg.Password(); got != want.password {
		t.Errorf("Password() = %q, want the file's contents without the newline", got)
	}
	if cfg.Matrix.VerifiedDevicesRequired() {
		t.Error("VerifiedDevicesRequired() = true, want false as configured")
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
		{"monitor.disks", cfg.Monitor.Disks, []Disk{{Path: "/"}}},
		{"rate_limit.burst", cfg.RateLimit.Burst, 5},
		{"rate_limit.per_minute", cfg.RateLimit.PerMinute, 20.0},
		{"data_dir (absolute, kept)", cfg.DataDir, "/var/lib/steward"},
		{"policy.commands", cfg.Policy.Commands, map[string]string(nil)},
		{"policy.approval_ttl", cfg.Policy.ApprovalTTL.D(), 30 * time.Minute},
		{"policy.allow_single_admin", cfg.Policy.AllowSingleAdmin, false},
		{"decision_log.weekly_summary (off)", cfg.DecisionLog.WeeklySummary, (*WeeklySummary)(nil)},
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

func TestParsePolicy(t *testing.T) {
	cases := []struct {
		in   string
		kind string
		n    int
		err  string // substring of the error, when s is refused
	}{
		{in: "none", kind: PolicyNone},
		{in: "confirm", kind: PolicyConfirm},
		{in: "second_admin", kind: PolicySecondAdmin},
		{in: "quorum:1", kind: PolicyQuorum, n: 1},
		{in: "quorum:20", kind: PolicyQuorum, n: MaxQuorum},
		{in: "quorum:21", err: "quorum:21 is out of range: N must be from 1 to 20"},
		{in: "quorum:0", err: "quorum:0 is out of range"},
		{in: "quorum:-2", err: `not a policy: "quorum:-2"; use none, confirm, second_admin or quorum:N with N from 1 to 20`},
		{in: "quorum:+2", err: `not a policy: "quorum:+2"`},
		{in: "quorum:two", err: `not a policy: "quorum:two"`},
		{in: "quorum:", err: `not a policy: "quorum:"`},
		{in: "quorum", err: `not a policy: "quorum"`},
		{in: "quorum: 2", err: `not a policy: "quorum: 2" (did you mean "quorum:2"?)`},
		{in: "Quorum:2", err: `(did you mean "quorum:2"?)`},
		{in: "CONFIRM", err: `not a policy: "CONFIRM" (did you mean "confirm"?)`},
		{in: " none", err: `(did you mean "none"?)`},
		{in: "second admin", err: `(did you mean "second_admin"?)`},
		{in: "Second-Admin", err: `(did you mean "second_admin"?)`},
		{in: "always", err: `not a policy: "always"; use none, confirm`},
		{in: "", err: "no policy given; use none, confirm, second_admin or quorum:N"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			kind, n, err := ParsePolicy(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParsePolicy(%q) = %q, %d, %v; want an error containing %q", c.in, kind, n, err, c.err)
				}
				if kind != "" || n != 0 {
					t.Errorf("ParsePolicy(%q) = %q, %d with an error; want \"\", 0", c.in, kind, n)
				}
				return
			}
			if err != nil || kind != c.kind || n != c.n {
				t.Errorf("ParsePolicy(%q) = %q, %d, %v; want %q, %d", c.in, kind, n, err, c.kind, c.n)
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
		if ft.Kind() == reflect.Slice {
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
