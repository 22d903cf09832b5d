package render

import (
	"fmt"
	"strings"
	"time"
)

// Shorten puts s on one line and cuts it to n characters, marking the cut, so that a
// long or multi-line text (an error, a reason, an image name) fits in a table cell or
// an alert line.
func Shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// Duration says d the way a person would ("3 minutes", "2 hours", "4 days"). Every
// span Steward shows people goes through it, so that chat, alerts and listings say
// the same span the same way.
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < 2*time.Minute:
		return "a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d == time.Hour:
		return "1 hour"
	case d < 48*time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}
