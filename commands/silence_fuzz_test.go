package commands

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/steward-bot/steward/state"
)

// openAlertsOnly is the alert engine as matcherOf uses it: the open alerts.
type openAlertsOnly struct {
	Alerts
	open []*state.Alert
}

func (o openAlertsOnly) OpenAlerts(context.Context) ([]*state.Alert, error) { return o.open, nil }

// FuzzMatcherOf checks what !silence makes of its first argument: a pattern or a
// fingerprint is kept exactly as typed, an alert's number becomes that alert's
// fingerprint, and only something that reads as a number can be refused, with a
// plain reply.
func FuzzMatcherOf(f *testing.F) {
	for _, seed := range []string{"3", "#3", "#12", "#4", "4", "disk:*", "disk:/var", "am:5e1f0c2a9b3d4e6f", "*", "#", "#-1", "+3", "0003",
		"99999999999999999999", "#3*", "3?", "http:wiki:?own", "\xff"} {
		f.Add(seed)
	}
	open := []*state.Alert{{ID: 3, Fingerprint: "disk:/var"}, {ID: 12, Fingerprint: "am:5e1f0c2a9b3d4e6f"}}
	family := &alertFamily{alerts: openAlertsOnly{open: open}}
	ce := &Event{proc: &Processor{settings: Settings{Prefix: "!"}}}
	f.Fuzz(func(t *testing.T, arg string) {
		matcher, err := family.matcherOf(t.Context(), ce, arg)
		number := strings.TrimLeft(strings.TrimPrefix(arg, "#"), "+-0123456789") == "" && strings.ContainsAny(arg, "0123456789")
		if err != nil {
			var userErr UserError
			if !errors.As(err, &userErr) || !number {
				t.Fatalf("matcherOf(%q) refused it with %v: only an alert number that is not open may be refused, in plain words", arg, err)
			}
			return
		}
		if matcher == arg {
			return
		}
		i := slices.IndexFunc(open, func(a *state.Alert) bool { return a.Fingerprint == matcher })
		if i < 0 || !number || !strings.HasSuffix(arg, strconv.FormatInt(open[i].ID, 10)) {
			t.Fatalf("matcherOf(%q) = %q: neither what was typed nor the fingerprint of the alert it numbers", arg, matcher)
		}
	})
}

// FuzzAfterFields checks the free text after a command's leading fields (a silence's
// reason, a maintenance window's): it is what follows them as typed, without the
// spaces around it, and splits into the same words as the rest of the line.
func FuzzAfterFields(f *testing.F) {
	for _, seed := range []string{"disk:* 2h moving backups", "  a\tb  c d ", "a", "", "a b", "x 1h  two  spaces  ", "a\u00a0b c", "\xff \xfe x"} {
		f.Add(seed, uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, n uint8) {
		skip := int(n % 5)
		got := afterFields(s, skip)
		fields := strings.Fields(s)
		var want []string
		if len(fields) > skip {
			want = fields[skip:]
		}
		if again := strings.Fields(got); !slices.Equal(again, want) {
			t.Fatalf("afterFields(%q, %d) = %q, whose words %q are not the line's words after %d: %q", s, skip, got, again, skip, want)
		}
		if !strings.HasSuffix(strings.TrimRightFunc(s, unicode.IsSpace), got) || strings.TrimFunc(got, unicode.IsSpace) != got {
			t.Fatalf("afterFields(%q, %d) = %q: not the rest of the line as typed, trimmed", s, skip, got)
		}
	})
}
