package monitor

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Digest sums up the alerts of the last span: how many fired and how bad, which are
// still open, how long they lasted and who took them.
func (e *Engine) Digest(ctx context.Context, span time.Duration) (*render.Message, error) {
	now := e.now()
	alerts, err := e.store.Since(ctx, now.Add(-span))
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	if len(alerts) == 0 {
		return new(render.Message).Bold(fmt.Sprintf("Alerts in the last %s", render.Duration(span))).Text(": none. All quiet.").Line(), nil
	}
	var msg *render.Message
	for _, n := range textBounds {
		if msg = digest(alerts, span, n); msg.FitsEdit() {
			break
		}
	}
	return msg, nil
}

// digest writes the digest of alerts, their summaries cut to n characters.
func digest(alerts []*state.Alert, span time.Duration, n int) *render.Message {
	msg := new(render.Message).Bold(fmt.Sprintf("Alerts in the last %s", render.Duration(span)))
	critical, open := 0, 0
	takers := make(map[id.UserID]int)
	for _, a := range alerts {
		if a.Worst == state.SeverityCritical {
			critical++
		}
		if a.State != state.AlertResolved {
			open++
		}
		if a.AckedBy != "" {
			takers[a.AckedBy]++
		}
	}
	msg.Text(fmt.Sprintf(": %d fired (%d critical), %d still open.", len(alerts), critical, open))
	if len(takers) > 0 {
		people := slices.SortedFunc(maps.Keys(takers), func(a, b id.UserID) int {
			return cmp.Or(takers[b]-takers[a], strings.Compare(string(a), string(b)))
		})
		parts := make([]string, 0, len(people))
		for _, who := range people {
			parts = append(parts, fmt.Sprintf("%s %d", who, takers[who]))
		}
		msg.Text(" Taken by " + strings.Join(parts, ", ") + ".")
	}
	items := make([]*render.Message, 0, min(len(alerts), maxListed))
	for i, a := range alerts {
		if i == maxListed {
			break
		}
		item := new(render.Message).Text(Badge(a.Worst) + " ").Bold(fmt.Sprintf("#%d", a.ID)).Text(" " + clip(a.Summary, n) + " — fired " + clock(a.FiredAt))
		if a.State == state.AlertResolved {
			item.Text(", resolved after " + render.Duration(a.ResolvedAt.Sub(a.FiredAt)))
		} else {
			item.Text(", still open")
		}
		if a.AckedBy != "" {
			item.Text(", taken by " + a.AckedBy.String())
		}
		items = append(items, item)
	}
	msg.List(items...)
	if len(alerts) > maxListed {
		msg.Text(fmt.Sprintf("…and %d more.", len(alerts)-maxListed))
	}
	return msg
}
