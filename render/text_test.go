package render

import (
	"testing"
	"time"
)

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven char", 10, "eleven ch…"},
		{"two\nlines,   wide  gaps", 40, "two lines, wide gaps"},
		{"  padded  ", 10, "padded"},
		{"ünïcödé wörds", 8, "ünïcödé…"},
		{"", 5, ""},
	} {
		if got := Shorten(tc.in, tc.n); got != tc.want {
			t.Errorf("Shorten(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0 seconds"},
		{45*time.Second + 600*time.Millisecond, "45 seconds"},
		{time.Minute, "a minute"},
		{90 * time.Second, "a minute"},
		{2 * time.Minute, "2 minutes"},
		{59*time.Minute + 59*time.Second, "59 minutes"},
		{time.Hour, "1 hour"},
		{2 * time.Hour, "2 hours"},
		{24 * time.Hour, "24 hours"},
		{2*time.Hour + 5*time.Minute + 30*time.Second, "2h05m"},
		{47*time.Hour + 59*time.Minute, "47h59m"},
		{48 * time.Hour, "2 days"},
		{7*24*time.Hour + 5*time.Hour, "7 days"},
	} {
		if got := Duration(tc.in); got != tc.want {
			t.Errorf("Duration(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
