package commands

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		body   string
		ok     bool
		name   string
		args   []string
		rest   string
		err    error
		prefix string
	}{
		{body: "!ping", ok: true, name: "ping", args: []string{}},
		{body: "  !PING  ", ok: true, name: "ping", args: []string{}},
		{body: "hello", ok: false},
		{body: "!", ok: false},
		{body: "! ping", ok: false},
		{body: "!logs web 50", ok: true, name: "logs", args: []string{"web", "50"}, rest: "web 50"},
		{body: `!announce "hello world" it's`, ok: true, name: "announce", err: ErrUnclosedQuote},
		{body: `!announce "hello world" 'a b'`, ok: true, name: "announce", args: []string{"hello world", "a b"}, rest: `"hello world" 'a b'`},
		{body: `!say “smart quotes” ‘too’`, ok: true, name: "say", args: []string{"smart quotes", "too"}, rest: `“smart quotes” ‘too’`},
		{body: `!x a\ b "c\"d" 'e\f'`, ok: true, name: "x", args: []string{"a b", `c"d`, `e\f`}, rest: `a\ b "c\"d" 'e\f'`},
		{body: `!x ""`, ok: true, name: "x", args: []string{""}, rest: `""`},
		{body: "!x a\tb\nc", ok: true, name: "x", args: []string{"a", "b", "c"}, rest: "a\tb\nc"},
		{body: `!x trailing\`, ok: true, name: "x", err: ErrTrailingBackslash},
		{body: "?status", prefix: "?", ok: true, name: "status", args: []string{}},
		{body: "!status", prefix: "?", ok: false},
	}
	for _, tt := range tests {
		prefix := tt.prefix
		if prefix == "" {
			prefix = "!"
		}
		p, ok, err := Parse(tt.body, prefix)
		if ok != tt.ok {
			t.Errorf("Parse(%q): ok=%v, want %v", tt.body, ok, tt.ok)
			continue
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("Parse(%q): err=%v, want %v", tt.body, err, tt.err)
			continue
		}
		if !ok || err != nil {
			continue
		}
		if p.Name != tt.name || !slices.Equal(p.Args, tt.args) || p.Rest != tt.rest {
			t.Errorf("Parse(%q) = %q %q rest %q; want %q %q rest %q", tt.body, p.Name, p.Args, p.Rest, tt.name, tt.args, tt.rest)
		}
	}
}

// FuzzParse checks that no input crashes the parser, that names are lower-case and hold
// no white space, and that an argument list round-trips through quoting.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"!ping", `!announce "a b" 'c'`, `!x a\ b`, "!“q”", "!\x00", "!x '", `!x "\`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		p, ok, err := Parse(body, "!")
		if !ok || err != nil {
			return
		}
		if p.Name != strings.ToLower(p.Name) || strings.ContainsFunc(p.Name, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }) {
			t.Fatalf("bad name %q from %q", p.Name, body)
		}
		if !utf8.ValidString(body) {
			return
		}
		requoted := make([]string, len(p.Args))
		for i, a := range p.Args {
			requoted[i] = "'" + strings.ReplaceAll(a, "'", `'"'"'`) + "'"
		}
		again, err := SplitArgs(strings.Join(requoted, " "))
		if err != nil || !slices.Equal(again, p.Args) {
			t.Fatalf("round trip of %q: %q -> %q (%v)", body, p.Args, again, err)
		}
	})
}
