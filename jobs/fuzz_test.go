package jobs

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/steward-bot/steward/state"
)

// FuzzParseAction checks what may follow a job's name in a ping URL: only nothing,
// start, fail and exit codes 0 to 255 are taken, each as the kind Healthchecks means.
func FuzzParseAction(f *testing.F) {
	for _, seed := range []string{"", "start", "fail", "0", "1", "255", "256", "007", "-1", "+1", "log", "1e3", " 1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, action string) {
		kind, code, ok := parseAction(action)
		if !ok {
			return
		}
		switch kind {
		case state.PingSuccess:
			if code != 0 {
				t.Fatalf("%q: a success with exit code %d", action, code)
			}
		case state.PingStart:
			if action != "start" {
				t.Fatalf("%q taken as a start", action)
			}
		case state.PingFailure:
			if action != "fail" && (code < 1 || code > 255) {
				t.Fatalf("%q: a failure with exit code %d", action, code)
			}
		default:
			t.Fatalf("%q: kind %q", action, kind)
		}
	})
}

// FuzzLastLines checks that a job's output, whatever it is, is kept within its bounds,
// as valid UTF-8, and never with the ping token in it.
func FuzzLastLines(f *testing.F) {
	const token = "0123456789abcdef0123456789abcdef"
	for _, seed := range []string{"", "ok\n", "password=hunter2\n", strings.Repeat("line\n", 100), "\xff\xfe", "a\rb\r\nc", token + "\n" + token} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out := LastLines(body, token)
		if !utf8.ValidString(out) {
			t.Fatalf("output %q is not UTF-8", out)
		}
		if len(out) > outputBytes+len("…\n") {
			t.Fatalf("output of %d bytes, over %d", len(out), outputBytes)
		}
		if n := strings.Count(out, "\n") + 1; n > outputLines+1 {
			t.Fatalf("%d lines kept, over %d", n, outputLines)
		}
		if strings.Contains(out, token) {
			t.Fatalf("the token is in the output: %q", out)
		}
	})
}
