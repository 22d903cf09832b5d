package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

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
