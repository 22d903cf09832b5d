package monitor

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// globReference is the glob matcher written the obvious way, for the fuzzer to hold
// Matches to: a table of which prefixes of glob match which prefixes of s, rune by
// rune, where * is any run of characters (newlines and slashes included), ? exactly
// one character, and anything else itself.
func globReference(glob, s []rune) bool {
	// match[i][j]: glob[:i] matches s[:j].
	match := make([][]bool, len(glob)+1)
	for i := range match {
		match[i] = make([]bool, len(s)+1)
	}
	match[0][0] = true
	for i := 1; i <= len(glob); i++ {
		for j := 0; j <= len(s); j++ {
			switch glob[i-1] {
			case '*':
				match[i][j] = match[i-1][j] || (j > 0 && match[i][j-1])
			case '?':
				match[i][j] = j > 0 && match[i-1][j-1]
			default:
				match[i][j] = j > 0 && match[i-1][j-1] && glob[i-1] == s[j-1]
			}
		}
	}
	return match[len(glob)][len(s)]
}

// FuzzMatches checks a silence's matcher against any fingerprint: no panic, the same
// answer as the obvious matcher, a fingerprint matches itself (written without * and
// ?), "*" matches everything, and a matcher never matches what it doesn't start or end
// like.
func FuzzMatches(f *testing.F) {
	for _, seed := range [][2]string{
		{"disk:/var", "disk:/var"}, {"disk:*", "disk:/var/lib"}, {"disk:*", "http:wiki:down"}, {"http:?iki:down", "http:wiki:down"},
		{"*", ""}, {"**", "x"}, {"?", ""}, {"am:*", "am:5e1f0c2a9b3d4e6f"}, {"container:web*", "container:web-1"},
		{`a\*`, `a\bc`}, {"a.c", "abc"}, {"[a]", "a"}, {"(", "("}, {"*x*y*z*", "..x..y..z.."}, {"é?", "éà"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, matcher, fingerprint string) {
		got := Matches(matcher, fingerprint)
		if utf8.ValidString(matcher) && utf8.ValidString(fingerprint) {
			if want := globReference([]rune(matcher), []rune(fingerprint)); got != want {
				t.Fatalf("Matches(%q, %q) = %v, want %v", matcher, fingerprint, got, want)
			}
		}
		literal := strings.NewReplacer("*", "", "?", "").Replace(fingerprint)
		if !Matches(literal, literal) {
			t.Fatalf("%q does not match itself", literal)
		}
		if !Matches("*", fingerprint) {
			t.Fatalf(`"*" does not match %q`, fingerprint)
		}
		if !got {
			return
		}
		head, _, _ := strings.Cut(matcher, "*")
		head, _, _ = strings.Cut(head, "?")
		if !strings.HasPrefix(fingerprint, head) {
			t.Fatalf("Matches(%q, %q): the fingerprint doesn't start with %q", matcher, fingerprint, head)
		}
		tail := matcher[max(strings.LastIndexAny(matcher, "*?")+1, 0):]
		if !strings.HasSuffix(fingerprint, tail) {
			t.Fatalf("Matches(%q, %q): the fingerprint doesn't end with %q", matcher, fingerprint, tail)
		}
	})
}
