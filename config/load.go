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
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
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

	v := validator{walker: &w, getenv: getenv, baseDir: baseDir,
		decl: map[string]*declared{}, reported: map[string]bool{}, password: map[int]bool{}}
	v.applyDefaults(&cfg)
	walked := len(w.problems)
	v.check(&cfg)
	checked := len(w.problems)
	v.checkBounds()
	bounded := len(w.problems)
	// Only what passed the checks is looked up on disk and in the zone
	// database; its problems are listed with the others.
	v.loadFiles(&cfg)
	v.loadZones()

	if len(w.problems) > 0 {
		ps := v.sorted(walked, checked, bounded)
		return nil, &ps
	}
	return &cfg, nil
}

// sorted lists the problems in file order, missing keys (line 0) last. Those
// of one line (a flow mapping, or the missing keys) keep the order they had
// when every check ran in one pass: the walker's first, then the checks' as
// found, each file's problem where the check that named it ran, and the
// declared bounds, zones and password file merged in at the place of their
// setting.
// walked, checked and bounded are the counts of problems after each pass.
func (v *validator) sorted(walked, checked, bounded int) Problems {
	ps := v.problems
	// The place of each problem of the checks and files, as (slot, after):
	// a file's problem goes before the check problem found after it was
	// named.
	place := map[int][2]int{}
	for i := walked; i < checked; i++ {
		place[i] = [2]int{i, 1}
	}
	for j, slot := range v.fileSlots {
		place[bounded+j] = [2]int{slot, 0}
	}
	byLine := map[int][]int{}
	var lines []int
	for i, p := range ps {
		if _, ok := byLine[p.Line]; !ok {
			lines = append(lines, p.Line)
		}
		byLine[p.Line] = append(byLine[p.Line], i)
	}
	slices.SortStableFunc(lines, func(a, b int) int { return cmp.Compare(lineOrder(a), lineOrder(b)) })
	out := make(Problems, 0, len(ps))
	for _, line := range lines {
		var walk, found, declared []int
		for _, i := range byLine[line] {
			_, isFound := place[i]
			switch {
			case i < walked:
				walk = append(walk, i)
			case isFound:
				found = append(found, i)
			default:
				declared = append(declared, i)
			}
		}
		slices.SortStableFunc(found, func(a, b int) int {
			pa, pb := place[a], place[b]
			return cmp.Or(cmp.Compare(pa[0], pb[0]), cmp.Compare(pa[1], pb[1]))
		})
		// The password file was read after the matrix checks, bounds
		// included.
		order := func(i int) []int {
			if v.password[i] {
				return append(settingOrder("matrix"), math.MaxInt)
			}
			return settingOrder(ps[i].Key)
		}
		slices.SortStableFunc(declared, func(a, b int) int { return slices.Compare(order(a), order(b)) })
		for _, i := range walk {
			out = append(out, ps[i])
		}
		for len(found) > 0 || len(declared) > 0 {
			if len(declared) > 0 && (len(found) == 0 ||
				slices.Compare(order(declared[0]), order(found[0])) < 0) {
				out, declared = append(out, ps[declared[0]]), declared[1:]
			} else {
				out, found = append(out, ps[found[0]]), found[1:]
			}
		}
	}
	return out
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

	decl      map[string]*declared // settings with declared bounds, by key
	declOrder []string             // their keys in the order of Config
	reported  map[string]bool      // keys with a problem
	files     []fileCheck          // to open after the checks
	fileSlots []int                // the slot of each problem loadFiles found
	// password holds the problems of the password file, which was once
	// read at the end of the matrix checks, for sorted.
	password map[int]bool
	zones    []zoneLoad // to load after the checks
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
	v.reported[key] = true
	v.problems = append(v.problems, Problem{Key: key, Line: v.lines[key], Msg: msg})
}

// check validates every value whose rule is more than its declared bounds.
func (v *validator) check(c *Config) {
	v.checkMatrix(c)
	if c.DataDir == "" {
		v.invalid("data_dir", "required: the directory where Steward keeps its database and encryption keys, like /var/lib/steward")
	} else {
		c.DataDir = v.resolve(c.DataDir)
	}
	v.checkMonitor(&c.Monitor)
	v.checkOnCall(c)
	v.checkDocker(&c.Docker)
	v.checkBackups(c)
	v.checkTickets(&c.Tickets)
	v.checkPolicy(c)
	if ws := c.DecisionLog.WeeklySummary; ws != nil {
		v.checkWeeklySummary(ws)
	}
	v.checkListener(c)
}

// resolve makes a relative path relative to the config file's directory,
// when loading from a file.
func (v *validator) resolve(p string) string {
	if v.baseDir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.baseDir, p)
}

// fileCheck is a file named in the config that Steward must be able to read.
type fileCheck struct {
	key, path string
	slot      int // the count of problems when it was named, for sorted
}

// readable requires the file *path names, resolving it, and has loadFiles
// check that Steward can read it; empty, it is required, as missing says.
func (v *validator) readable(key string, path *string, missing string) {
	if *path == "" {
		v.invalid(key, "required: "+missing)
		return
	}
	*path = v.resolve(*path)
	v.files = append(v.files, fileCheck{key: key, path: *path, slot: len(v.problems)})
}

// loadFiles opens the files the checks asked for and reads the password and the
// HTTP token.
func (v *validator) loadFiles(c *Config) {
	for _, f := range v.files {
		if v.reported[f.key] {
			continue
		}
		file, err := os.Open(f.path)
		if err != nil {
			v.fileProblem(f.slot, f.key, "can't read it: "+err.Error())
			continue
		}
		_ = file.Close()
	}
	c.password = v.readPassword(&c.Matrix)
	c.HTTP.token = v.readToken(&c.HTTP)
}

// fileProblem records a problem of loadFiles with the slot of the check that
// named the file, for sorted.
func (v *validator) fileProblem(slot int, key, msg string) {
	n := len(v.problems)
	v.invalid(key, msg)
	for range len(v.problems) - n {
		v.fileSlots = append(v.fileSlots, slot)
	}
}

// passwordProblem records a problem of the password file, for sorted.
func (v *validator) passwordProblem(key, msg string) {
	n := len(v.problems)
	v.invalid(key, msg)
	for i := n; i < len(v.problems); i++ {
		v.password[i] = true
	}
}

// readPassword returns the password from the environment or the password
// file, which checkMatrix required unless the environment has it. Messages
// name the file and the reason it could not be read, never its contents.
func (v *validator) readPassword(m *Matrix) string {
	if pw := v.getenv(PasswordEnv); pw != "" {
		return pw
	}
	const key = "matrix.password_file"
	if m.PasswordFile == "" || v.reported[key] {
		return ""
	}
	data, err := os.ReadFile(m.PasswordFile)
	if err != nil {
		// *fs.PathError reads "open /path: permission denied": path and reason only.
		v.passwordProblem(key, "can't read the password file: "+err.Error())
		return ""
	}
	pw := strings.TrimRightFunc(string(data), unicode.IsSpace)
	if pw == "" {
		v.passwordProblem(key, fmt.Sprintf("the password file %s is empty", m.PasswordFile))
	}
	return pw
}

// settingOrder places the setting at a dotted key in the order its check
// ran when every check ran in one pass: by its fields' places in Config
// (twice the index, so a setting can be placed between two), and its list
// items' indexes. The names of a map (policy.commands) end the path, leaving
// ties in the order the problems were found.
func settingOrder(key string) []int {
	var order []int
	t, path := reflect.TypeFor[Config](), ""
	for part := range strings.SplitSeq(key, ".") {
		name, index, _ := strings.Cut(part, "[")
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			break
		}
		f, ok := fieldsByName(t)[name]
		if !ok {
			break
		}
		path = joinKey(path, name)
		place := 2 * f.Index[0]
		if after, ok := checkedAfter[path]; ok {
			place = 2*fieldsByName(t)[after].Index[0] + 1
		}
		order = append(order, place)
		t = f.Type
		for index != "" {
			i, rest, _ := strings.Cut(index, "]")
			n, err := strconv.Atoi(i)
			if err != nil || t.Kind() != reflect.Slice {
				return order
			}
			order = append(order, n)
			t = t.Elem()
			index = strings.TrimPrefix(rest, "[")
		}
	}
	return order
}

// checkedAfter names the settings checked after a sibling declared after
// them, by that sibling: the disks are checked after the host checks.
var checkedAfter = map[string]string{"monitor.disks": "load"}
