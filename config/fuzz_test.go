package config

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseDuration checks that no text crashes the duration parser, that what it
// takes without the long units means what Go's parser says, and that a span it takes
// written back the way Go prints it reads as the same span.
func FuzzParseDuration(f *testing.F) {
	for _, seed := range []string{"90s", "1h30m", "-5m", "0", "1d12h", "1.5d", "2w", "+1d", "1", "d", "9999999999w", "1d-1h", ".5w"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if !strings.ContainsAny(s, "dw") {
			if want, gerr := time.ParseDuration(s); gerr != nil || want != d {
				t.Fatalf("%q: %v, Go reads %v (%v)", s, d, want, gerr)
			}
		}
		again, err := ParseDuration(d.String())
		if err != nil || again != d {
			t.Fatalf("%q -> %v -> %q -> %v (%v)", s, d, d.String(), again, err)
		}
	})
}

// FuzzParse checks that no config file crashes the loader: it either loads or says
// what is wrong, and the password never appears in what it says.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(base + "http: {listen: 127.0.0.1:9464, token_file: /nonexistent}\njobs: [{name: a, every: 1d}]\n"))
	f.Add([]byte("matrix: [\n"))
	f.Add([]byte("monitor: {disks: [{path: /, warning: 99, critical: 1}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse(data, env(envPassword))
		if err != nil && strings.Contains(err.Error(), envPassword) {
			t.Fatalf("a problem shows the password: %v", err)
		}
	})
}
