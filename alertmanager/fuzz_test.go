package alertmanager

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/steward-bot/steward/state"
)

// FuzzParse checks that no body crashes the webhook's parser, and that what it accepts
// becomes observations the engine can keep: each named am:FINGERPRINT with no glob
// character in it (so !silence can name it alone), a severity the engine knows, and a
// link that is http(s) or nothing.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"version":"4","status":"firing","alerts":[{"status":"firing","fingerprint":"5e1f0c2a9b3d4e6f","labels":{"alertname":"Down","severity":"critical"},"annotations":{"summary":"<b>x</b>"},"generatorURL":"http://p/graph"}]}`,
		`{"version":"4","alerts":[{"status":"resolved","fingerprint":"a"}]}`,
		`{"version":"4","alerts":[{"status":"firing","fingerprint":"a*b"}]}`,
		`{"version":"3","alerts":[]}`,
		`{"version":"4","alerts":[{"status":"firing","fingerprint":"f","generatorURL":"javascript:alert(1)","labels":{"severity":"info"}}]}`,
		`{"version":"4","alerts":null}`, `[]`, `null`, ``, `{"version":4}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(body)
		if err != nil {
			if !utf8.ValidString(err.Error()) && utf8.Valid(body) {
				t.Fatalf("error text is not UTF-8: %q", err)
			}
			return
		}
		firing, resolved := m.Changes()
		if len(firing)+len(resolved) != len(m.Alerts) {
			t.Fatalf("%d alerts became %d firing and %d resolved", len(m.Alerts), len(firing), len(resolved))
		}
		for _, fp := range resolved {
			if !strings.HasPrefix(fp, fingerprintPrefix) || strings.ContainsAny(fp, "*?") {
				t.Fatalf("resolved fingerprint %q", fp)
			}
		}
		for _, o := range firing {
			if !strings.HasPrefix(o.Fingerprint, fingerprintPrefix) || strings.ContainsAny(o.Fingerprint, "*?") {
				t.Fatalf("firing fingerprint %q", o.Fingerprint)
			}
			if o.Severity != state.SeverityInfo && o.Severity != state.SeverityWarning && o.Severity != state.SeverityCritical {
				t.Fatalf("severity %v from %q", o.Severity, body)
			}
			if o.Link != "" && !strings.HasPrefix(o.Link, "http://") && !strings.HasPrefix(o.Link, "https://") {
				t.Fatalf("link %q kept", o.Link)
			}
			if o.Summary == "" {
				t.Fatalf("an alert with no summary from %q", body)
			}
		}
	})
}
