package monitor

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// textBounds are the lengths, in characters, that the free text of an alert's message
// (summary, value, hint, labels, link, a silence's reason) is cut to: the first whose
// message fits one event (render.MaxContent). The first cuts nothing a sender usually
// gives; the next ones are for what a sender made huge, or heavy to escape (HTML and
// JSON make a "<" 15 bytes).
var textBounds = []int{2000, 500, 100, 30}

// render builds the message that shows alerts: one alert in full, or several as a
// list, each with its state (firing, taken by whom, resolved); cut to fit one event.
func (e *Engine) render(alerts []*state.Alert, sil silencer) *render.Message {
	var msg *render.Message
	for _, n := range textBounds {
		if msg = e.renderWithin(alerts, sil, n); msg.FitsEdit() {
			break
		}
	}
	return msg
}

// clip cuts s to n characters, saying so with "…"; unlike render.Shorten it keeps
// the line breaks.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// clipTail keeps the last n characters of s (a job's last lines: the end says why
// it failed), from a line's start when one is near.
func clipTail(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	tail := string(r[len(r)-n+2:])
	if i := strings.IndexByte(tail, '\n'); i >= 0 && i < n/4 {
		tail = tail[i+1:]
	}
	return "…\n" + tail
}

func (e *Engine) renderWithin(alerts []*state.Alert, sil silencer, n int) *render.Message {
	now := e.now()
	if len(alerts) == 1 {
		return e.renderOne(alerts[0], sil.of(alerts[0], now), n)
	}
	open := 0
	for _, a := range alerts {
		if a.State != state.AlertResolved {
			open++
		}
	}
	msg := new(render.Message)
	if open == 0 {
		msg.Bold(fmt.Sprintf("✅ %d alerts, all resolved", len(alerts)))
	} else {
		msg.Bold(fmt.Sprintf("%s %d alerts fired together", Badge(worst(alerts)), len(alerts)))
		if len(alerts) > maxListed {
			// A storm: the counts say what the list can't.
			msg.Text(" (" + counts(alerts) + ")")
		}
	}
	items := make([]*render.Message, 0, min(len(alerts), maxListed))
	for i, a := range alerts {
		if i == maxListed {
			break
		}
		item := new(render.Message).Text(Badge(a.Severity) + " ").Bold(fmt.Sprintf("#%d", a.ID)).Text(" " + clip(a.Summary, n))
		if a.Value != "" && a.State != state.AlertResolved {
			item.Text(" — " + clip(a.Value, n))
		}
		item.Text(". " + statusLine(a, sil.of(a, now), n))
		items = append(items, item)
	}
	msg.List(items...)
	if len(alerts) > maxListed {
		msg.Text(fmt.Sprintf("…and %d more; ", len(alerts)-maxListed)).Code(e.conf().Prefix + "alerts").Text(" lists the firing ones.").Line()
	}
	if open > 0 {
		msg.Text("React " + ReactionAck + " to take them all, or send ").Code(e.conf().Prefix + "ack ID").Text(" for one.")
	}
	return msg
}

// renderOne shows alert a in full, its free text cut to n characters (its detail to
// 4n).
func (e *Engine) renderOne(a *state.Alert, silence *state.Silence, n int) *render.Message {
	msg := new(render.Message)
	title := Badge(a.Severity) + " " + strings.ToUpper(a.Severity.String()[:1]) + a.Severity.String()[1:]
	if a.State == state.AlertResolved {
		title = "✅ Resolved"
	}
	msg.Bold(fmt.Sprintf("%s: %s (#%d)", title, clip(a.Summary, n), a.ID)).Line()
	if a.Value != "" && a.State != state.AlertResolved {
		msg.Text("Now: " + clip(a.Value, n) + ".").Line()
	}
	if a.Hint != "" {
		msg.Text("Hint: " + clip(a.Hint, n)).Line()
	}
	if labels := labelLine(a.Labels, n); labels != "" {
		msg.Text("Labels: " + labels).Line()
	}
	if a.Link != "" {
		msg.Text("More: " + clip(a.Link, n)).Line()
	}
	if a.Detail != "" && a.State != state.AlertResolved {
		msg.CodeBlock(clipTail(a.Detail, 4*n))
	}
	msg.Text(statusLine(a, silence, n))
	if a.State != state.AlertResolved && a.AckedBy == "" && silence == nil {
		msg.Text(" React " + ReactionAck + " or send ").Code(fmt.Sprintf("%sack %d", e.conf().Prefix, a.ID)).Text(" to take it.")
	}
	return msg
}

// statusLine says since when, who took it, and when it ended; the silence's reason is
// cut to n characters.
func statusLine(a *state.Alert, silence *state.Silence, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Since %s.", clock(a.Since))
	if silence != nil && a.State != state.AlertResolved {
		fmt.Fprintf(&b, " 🔕 Silenced by %s until %s (silence #%d: %s).", silence.CreatedBy, clock(silence.EndsAt), silence.ID, clip(silence.Reason, n))
	}
	if a.AckedBy != "" {
		fmt.Fprintf(&b, " %s %s is on it (since %s).", ReactionAck, a.AckedBy, clock(a.AckedAt))
	}
	if a.State == state.AlertResolved {
		fmt.Fprintf(&b, " Resolved at %s, after %s.", clock(a.ResolvedAt), render.Duration(a.ResolvedAt.Sub(a.FiredAt)))
	}
	return b.String()
}

// counts says how many of alerts are open at each severity and how many resolved:
// "980 warning, 20 critical, 3 resolved".
func counts(alerts []*state.Alert) string {
	var bySeverity [state.SeverityCritical + 1]int
	resolved := 0
	for _, a := range alerts {
		if a.State == state.AlertResolved {
			resolved++
		} else if a.Severity >= 0 && a.Severity <= state.SeverityCritical {
			bySeverity[a.Severity]++
		}
	}
	var parts []string
	for s := state.SeverityCritical; s > state.SeverityOK; s-- {
		if bySeverity[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", bySeverity[s], s))
		}
	}
	if resolved > 0 {
		parts = append(parts, fmt.Sprintf("%d resolved", resolved))
	}
	return strings.Join(parts, ", ")
}

// labelLine shows labels as name=value, sorted by name, in n characters at most
// (each value in a quarter of that); the alert name and severity are said elsewhere
// in the message.
func labelLine(labels map[string]string, n int) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		if name == "alertname" || name == "severity" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(clip(name, n/4) + "=" + clip(labels[name], n/4))
		if b.Len() > 4*n { // enough to cut: a character takes at most 4 bytes
			break
		}
	}
	return clip(b.String(), n)
}

func worst(alerts []*state.Alert) state.Severity {
	w := state.SeverityOK
	for _, a := range alerts {
		if a.State != state.AlertResolved {
			w = max(w, a.Severity)
		}
	}
	return w
}

// Badge is the mark of a severity in messages.
func Badge(s state.Severity) string {
	switch s {
	case state.SeverityCritical:
		return "🔴"
	case state.SeverityWarning:
		return "🟡"
	case state.SeverityInfo:
		return "🔵"
	default:
		return "✅"
	}
}

// clock formats t as render.Clock does, against the present.
func clock(t time.Time) string { return render.Clock(t, time.Now()) }
