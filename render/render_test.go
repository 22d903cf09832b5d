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
