package render

import (
	"strings"
	"testing"
)

func TestUserTextIsEscaped(t *testing.T) {
	evil := `<img src=x onerror=alert(1)> & "quotes" <a href="javascript:x">`
	m := New("Hello ").Bold(evil).Text(" ").Code(evil).Text(evil).Line().
		Table([]string{"h<1>"}, [][]string{{evil}}).CodeBlock(evil).Heading(evil).List(New(evil))
	got := m.HTML()
	for _, bad := range []string{"<img", "<a href=\"javascript", `"quotes"`, "<1>"} {
		if strings.Contains(got, bad) {
			t.Errorf("HTML contains unescaped %q:\n%s", bad, got)
		}
	}
	if !strings.Contains(m.Plain(), evil) {
		t.Errorf("plain fallback lost the text: %q", m.Plain())
	}
}

func TestPlainTableAligns(t *testing.T) {
	m := new(Message).Table([]string{"name", "state"}, [][]string{{"web", "running"}, {"database", "exited"}})
	want := "name      state\nweb       running\ndatabase  exited"
	if m.Plain() != want {
		t.Errorf("plain table:\n%s\nwant:\n%s", m.Plain(), want)
	}
}

func TestNoticeCarriesBothBodies(t *testing.T) {
	c := New("a < b").Notice()
	if c.MsgType != "m.notice" || c.Body != "a < b" || c.FormattedBody != "a &lt; b" || c.Format != "org.matrix.custom.html" {
		t.Errorf("unexpected content: %+v", c)
	}
}

// Fits and FitsEdit count what the homeserver gets: both bodies, JSON's and HTML's
// escaping, and an edit's copy of the text.
func TestFits(t *testing.T) {
	tests := []struct {
		name           string
		msg            *Message
		fits, fitsEdit bool
	}{
		{"a line", New("Disk /var is 97% full"), true, true},
		{"12,000 letters", New(strings.Repeat("a", 12000)), true, true},
		{"30,000 letters", New(strings.Repeat("a", 30000)), false, false},
		// 15 KB in the plain body (\u003c) and 22 KB in the HTML (&lt; as \u0026lt;).
		{"2,500 angle brackets", New(strings.Repeat("<", 2500)), false, false},
		// Since mautrix v0.32 an edit's fallback is cut to 50 bytes whatever the
		// length, so an edit carries the text about once, as a new message does.
		{"6,000 letters", New(strings.Repeat("ab", 3000)), true, true},
		{"9,000 letters", New(strings.Repeat("abc", 3000)), true, true},
	}
	for _, tt := range tests {
		if got := tt.msg.Fits(); got != tt.fits {
			t.Errorf("%s: Fits() = %v, want %v", tt.name, got, tt.fits)
		}
		if got := tt.msg.FitsEdit(); got != tt.fitsEdit {
			t.Errorf("%s: FitsEdit() = %v, want %v", tt.name, got, tt.fitsEdit)
		}
	}
}
