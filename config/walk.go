package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

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
		if name, ok := yamlName(f); ok {
			fields[name] = f
		}
	}
	return fields
}

// yamlName is the key of a struct field in the file, if the file can set it.
func yamlName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		name = strings.ToLower(f.Name)
	}
	return name, true
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
