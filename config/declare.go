package config

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// A setting's default and bounds are declared once, in struct tags next to
// its field, and read by the code below, which fills in the defaults and
// writes the messages about the bounds from the same text, so a bound and
// the message that states it cannot drift apart. The tags:
//
//	default:"30s"      the value of a key that is absent or null, written as
//	                   in the file; on a struct field, a mapping of defaults
//	                   for its keys (default:"{warning: 90, for: 5m}") that
//	                   wins over the struct's own
//	inherit:"monitor.for"  the default is that key's value (after its own
//	                   default); an inherited value is checked where it is
//	                   written, not again here
//	min:"1m" max:"24h" inclusive bounds
//	above:"0"          an exclusive lower bound
//	zero:"off"         0 is allowed too, and turns the setting off
//	note:"a week"      said in brackets after the bounds
//	oneof:"json console"  the values a string may take
//	nonempty:"true"    a string that, if written, must not be empty; the
//	                   message points at the default
//	zone:"time_zone"   on a *time.Location: the sibling key whose IANA zone
//	                   is loaded into it after validation
//
// Checks that compare one setting with another (a warning level below the
// critical one, a timeout within its interval) stay code, and ask inBounds
// whether the other setting passed its declared bounds rather than repeating
// them.

// declared is one setting with a default or bounds, as found in the config.
type declared struct {
	key       string
	val       reflect.Value // the field, settable
	tag       reflect.StructTag
	inherited bool // the value came from the inherit key
}

// inheritance is a default to copy once every literal default is in place.
type inheritance struct {
	key, from string
	val       reflect.Value
}

// zoneLoad is a time zone to load after validation.
type zoneLoad struct {
	key  string        // the time_zone key
	zone reflect.Value // its string field
	loc  reflect.Value // the *time.Location field
}

// applyDefaults fills in the declared defaults of c and records its declared
// settings for checkBounds and inBounds.
func (v *validator) applyDefaults(c *Config) {
	root := reflect.ValueOf(c).Elem()
	var inherits []inheritance
	v.declareStruct(root, "", nil, &inherits)
	// Inherited defaults come last, so they copy a value already defaulted
	// even when its key comes later in the file (monitor.disks before
	// monitor.for).
	for _, in := range inherits {
		in.val.Set(lookup(root, in.from))
		if d := v.decl[in.key]; d != nil {
			d.inherited = true
		}
	}
}

// declareStruct applies the defaults of the fields of s, at key. overrides
// are defaults given by the field that holds s, by YAML name.
func (v *validator) declareStruct(s reflect.Value, key string, overrides map[string]yaml.Node, inherits *[]inheritance) {
	for f := range s.Type().Fields() {
		name, ok := yamlName(f)
		if !ok {
			continue
		}
		child := joinKey(key, name)
		var def *yaml.Node
		if n, ok := overrides[name]; ok {
			def = &n
		} else if text, ok := f.Tag.Lookup("default"); ok {
			def = parseTag(child, "default", text)
		}
		absent := !v.set[child] && !v.bad[child]
		v.declareField(s.FieldByIndex(f.Index), f, child, absent, def, inherits)
	}
	for f := range s.Type().Fields() {
		// Fields the file cannot set, like a Location loaded from a zone.
		if zoneKey, ok := f.Tag.Lookup("zone"); ok {
			v.zones = append(v.zones, zoneLoad{key: joinKey(key, zoneKey),
				zone: s.FieldByName(fieldOf(s.Type(), zoneKey)), loc: s.FieldByIndex(f.Index)})
		}
	}
}

// declareField applies the default of one field at key and descends into it.
func (v *validator) declareField(fv reflect.Value, f reflect.StructField, key string, absent bool, def *yaml.Node, inherits *[]inheritance) {
	t := f.Type
	isStruct := t.Kind() == reflect.Struct || (t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct)
	switch {
	case isStruct:
		// The default of a struct is defaults for its keys.
	case absent && def != nil:
		if err := def.Decode(fv.Addr().Interface()); err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", key, err))
		}
	case absent && f.Tag.Get("inherit") != "":
		*inherits = append(*inherits, inheritance{key: key, from: f.Tag.Get("inherit"), val: fv})
	}
	if hasBounds(f.Tag) {
		v.decl[key] = &declared{key: key, val: fv, tag: f.Tag}
		v.declOrder = append(v.declOrder, key)
	}

	switch {
	case t.Kind() == reflect.Struct:
		v.declareStruct(fv, key, childDefaults(key, def), inherits)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && !fv.IsNil():
		v.declareStruct(fv.Elem(), key, childDefaults(key, def), inherits)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		for i := range fv.Len() {
			v.declareStruct(fv.Index(i), fmt.Sprintf("%s[%d]", key, i), nil, inherits)
		}
	}
}

// hasBounds reports whether a field declares anything checkBounds checks.
func hasBounds(tag reflect.StructTag) bool {
	for _, k := range []string{"min", "max", "above", "oneof", "nonempty"} {
		if _, ok := tag.Lookup(k); ok {
			return true
		}
	}
	return false
}

// childDefaults reads the default of a struct field: a mapping of its keys'
// defaults.
func childDefaults(key string, def *yaml.Node) map[string]yaml.Node {
	if def == nil {
		return nil
	}
	var m map[string]yaml.Node
	if err := def.Decode(&m); err != nil {
		panic(fmt.Sprintf("config: default of %s must be a mapping: %v", key, err))
	}
	return m
}

// parseTag reads a tag's value as YAML; a tag that is not is a mistake in
// this package, caught by any test that loads a config.
func parseTag(key, name, text string) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil || len(doc.Content) == 0 {
		panic(fmt.Sprintf("config: %s tag of %s is not YAML: %q", name, key, text))
	}
	return doc.Content[0]
}

// fieldOf returns the Go name of the field of t whose YAML name is name.
func fieldOf(t reflect.Type, name string) string {
	f, ok := fieldsByName(t)[name]
	if !ok {
		panic(fmt.Sprintf("config: %s has no key %s", t, name))
	}
	return f.Name
}

// declaredDefault returns the scalar default declared for the key name of T,
// for the few checks that mention it.
func declaredDefault[T any](name string) string {
	f, ok := fieldsByName(reflect.TypeFor[T]())[name]
	if !ok {
		panic(fmt.Sprintf("config: %s has no key %s", reflect.TypeFor[T](), name))
	}
	return parseTag(name, "default", f.Tag.Get("default")).Value
}

// lookup returns the field of root at a dotted key of structs.
func lookup(root reflect.Value, key string) reflect.Value {
	v := root
	for name := range strings.SplitSeq(key, ".") {
		v = v.FieldByName(fieldOf(v.Type(), name))
	}
	return v
}

// checkBounds reports every declared setting outside its bounds that no
// check before it reported already.
func (v *validator) checkBounds() {
	for _, key := range v.declOrder {
		if v.reported[key] {
			continue
		}
		if msg := v.outOfBounds(v.decl[key]); msg != "" {
			v.invalid(key, msg)
		}
	}
}

// inBounds reports whether the setting at key decoded and is within its
// declared bounds, for the checks that compare it with another.
func (v *validator) inBounds(key string) bool {
	if v.bad[key] {
		return false
	}
	d := v.decl[key]
	return d == nil || v.outOfBounds(d) == ""
}

// outOfBounds says how d breaks its declaration, or "" when it does not.
func (v *validator) outOfBounds(d *declared) string {
	switch {
	case d.inherited:
		return ""
	case d.val.Kind() == reflect.String:
		return v.stringProblem(d)
	}
	b := boundsOf(d)
	if b.hold(d.val) {
		return ""
	}
	return fmt.Sprintf("must %s, got %v", b.want(), d.val.Interface())
}

// stringProblem checks a string against its oneof and nonempty tags.
func (v *validator) stringProblem(d *declared) string {
	s := d.val.String()
	if words, ok := d.tag.Lookup("oneof"); ok && !slices.Contains(strings.Fields(words), s) {
		return fmt.Sprintf("must be %s; got %q", oneOf(strings.Fields(words)), s)
	}
	if d.tag.Get("nonempty") == "true" && s == "" && v.set[d.key] {
		return "must not be empty; leave it out to use " + strconv.Quote(parseTag(d.key, "default", d.tag.Get("default")).Value)
	}
	return ""
}

// bounds are a number's declared bounds, each a value of its field's type
// and the text it was written as, which the messages repeat.
type bounds struct {
	min, max, above             reflect.Value // invalid when not declared
	minText, maxText, aboveText string
	off                         bool // zero:"off"
	note                        string
	zero                        reflect.Value
	duration                    bool
}

// boundsOf reads the bounds d declares.
func boundsOf(d *declared) bounds {
	read := func(name string) (reflect.Value, string) {
		text, ok := d.tag.Lookup(name)
		if !ok {
			return reflect.Value{}, ""
		}
		b := reflect.New(d.val.Type())
		if err := parseTag(d.key, name, text).Decode(b.Interface()); err != nil {
			panic(fmt.Sprintf("config: %s tag of %s: %v", name, d.key, err))
		}
		return b.Elem(), text
	}
	var b bounds
	b.min, b.minText = read("min")
	b.max, b.maxText = read("max")
	b.above, b.aboveText = read("above")
	b.off = d.tag.Get("zero") == "off"
	b.note = d.tag.Get("note")
	b.zero = reflect.Zero(d.val.Type())
	b.duration = d.val.Type() == reflect.TypeFor[Duration]()
	return b
}

// hold reports whether x is within b: finite, and 0 when b allows it off.
func (b bounds) hold(x reflect.Value) bool {
	if f := number(x); math.IsNaN(f) || math.IsInf(f, 0) {
		return false
	}
	if b.off && x.IsZero() {
		return true
	}
	return (!b.min.IsValid() || cmpNum(x, b.min) >= 0) &&
		(!b.max.IsValid() || cmpNum(x, b.max) <= 0) &&
		(!b.above.IsValid() || cmpNum(x, b.above) > 0)
}

// want says what hold accepts, after "must".
func (b bounds) want() string {
	var s string
	switch hasMin, hasMax := b.min.IsValid(), b.max.IsValid(); {
	case b.off:
		s = fmt.Sprintf("be %v (off) or at least %s", b.zero.Interface(), b.minText)
	case b.above.IsValid() && b.duration:
		s = "be longer than " + b.aboveText
	case b.above.IsValid():
		s = "be a finite number above " + b.aboveText
	case hasMin && hasMax && b.duration:
		s = fmt.Sprintf("be between %s and %s", b.minText, b.maxText)
	case hasMin && hasMax:
		s = fmt.Sprintf("be from %s to %s", b.minText, b.maxText)
	case hasMin && b.min.IsZero():
		s = "not be negative"
	case hasMin:
		s = "be at least " + b.minText
	case hasMax:
		s = "be at most " + b.maxText
	}
	if b.note != "" {
		s += " (" + b.note + ")"
	}
	return s
}

// cmpNum compares two numbers of one type, exactly for whole numbers and
// durations.
func cmpNum(a, b reflect.Value) int {
	if a.CanInt() {
		return cmp.Compare(a.Int(), b.Int())
	}
	return cmp.Compare(a.Float(), b.Float())
}

// number returns a numeric field's value as a float64, durations in
// nanoseconds.
func number(v reflect.Value) float64 {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int())
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	panic("config: bounds on a " + v.Type().String())
}

// oneOf lists the values a string may take: "a or b", "one of a, b, c".
func oneOf(words []string) string {
	if len(words) == 2 {
		return words[0] + " or " + words[1]
	}
	return "one of " + strings.Join(words, ", ")
}

// loadZones loads every declared time zone that passed validation into its
// Location, after the checks, reporting those that are not zones.
func (v *validator) loadZones() {
	for _, z := range v.zones {
		zone := z.zone.String()
		if zone == "" || v.reported[z.key] || v.bad[z.key] {
			continue
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			v.invalid(z.key, fmt.Sprintf("not a time zone: %q; use a name like Europe/Berlin, America/New_York or UTC", zone))
			continue
		}
		z.loc.Set(reflect.ValueOf(loc))
	}
}
