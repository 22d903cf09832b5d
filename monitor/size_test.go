package monitor

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/state"
)

// eventBudget is what of the homeserver's 64 KiB an alert's content may take as JSON:
// megolm makes it a third larger (base64), and the event around it takes some more.
const eventBudget = 40 << 10

// queuedSize is the JSON the outbox queues for a message with these bodies, posted
// and as the edit that replaces it (mautrix's SetEdit, as the outbox builds it).
func queuedSize(t *testing.T, plain, html string) (post, edit int) {
	t.Helper()
	content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: plain, Format: event.FormatHTML, FormattedBody: html, Mentions: &event.Mentions{}}
	data, err := json.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	post = len(data)
	content.SetEdit("$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")
	if data, err = json.Marshal(content); err != nil {
		t.Fatal(err)
	}
	return post, len(data)
}

// Whatever a sender puts in an alert (a label of most of a megabyte, twenty thousand
// labels, a link or a runbook as long, a failed job's output of angle brackets, a
// storm of long texts that HTML and JSON escaping make six times longer, or of
// characters that take three bytes), its message, posted and edited, fits one Matrix
// event with room to spare: one the homeserver refuses is lost, with the alerts it
// shows.
func TestAlertMessagesFitOneEvent(t *testing.T) {
	huge := strings.Repeat("<", 900<<10)
	many := map[string]string{"alertname": "X"}
	for i := range 20000 {
		many[fmt.Sprintf("l%05d", i)] = strings.Repeat("&", 30)
	}
	storm := func(summary, value string) []Observation {
		var obs []Observation
		for i := range 20 {
			o := external(i, state.SeverityWarning)
			o.Summary, o.Value = summary, value
			obs = append(obs, o)
		}
		return obs
	}
	one := func(change func(o *Observation)) []Observation {
		o := external(1, state.SeverityCritical)
		change(&o)
		return []Observation{o}
	}
	tests := []struct {
		name string
		obs  []Observation
	}{
		{"a label of 900 KiB", one(func(o *Observation) { o.Labels["big"] = huge })},
		{"20,000 labels", one(func(o *Observation) { o.Labels = many })},
		{"a link and a hint of 400 KiB", one(func(o *Observation) {
			o.Link = "http://p.example/" + strings.Repeat("b", 400<<10)
			o.Hint = "runbook https://x.example/" + strings.Repeat("\"", 400<<10)
		})},
		{"an output of 4 KiB of angle brackets", one(func(o *Observation) {
			o.Detail = strings.Repeat(strings.Repeat("<", 200)+"\n", 20)
			o.Summary, o.Value = strings.Repeat("'", 200), strings.Repeat("&", 500)
		})},
		{"a storm of texts heavy to escape", storm(strings.Repeat("<", 200), strings.Repeat("\"", 500))},
		{"a storm of CJK", storm(strings.Repeat("磁", 200), strings.Repeat("盘", 500))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness()
				h.report(t, tt.obs)
				time.Sleep(groupWait)
				h.flush(t)
				posts := h.msgr.Posts()
				if len(posts) != 1 {
					t.Fatalf("%d messages, want 1", len(posts))
				}
				// Its edit, when the alerts resolve.
				var fps []string
				for _, o := range tt.obs {
					fps = append(fps, o.Fingerprint)
				}
				h.report(t, nil, fps...)
				for _, m := range []sentMessage{posts[0], h.msgr.Message(t, 1)} {
					post, edit := queuedSize(t, m.Text, m.HTML)
					if post > eventBudget || edit > eventBudget {
						t.Errorf("the message takes %d bytes posted and %d as an edit, over %d:\n%.300s", post, edit, eventBudget, m.Text)
					}
				}
				msg := posts[0].Text
				if len(tt.obs) == 1 {
					if !strings.Contains(msg, "🔴 Critical: ") || !strings.Contains(msg, "(#1)") || !strings.Contains(msg, "React 👀 or send `!ack 1`") {
						t.Errorf("the cut message lost what it is about:\n%.600s", msg)
					}
				} else if !strings.Contains(msg, "20 alerts fired together (20 warning)") || !strings.Contains(msg, "#15") || !strings.Contains(msg, "…and 5 more") {
					t.Errorf("the cut storm message lost what it is about:\n%.600s", msg)
				}
			})
		})
	}
}

// The daily digest of a day of such alerts fits one event too.
func TestDigestFitsOneEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness()
		var obs []Observation
		for i := range 20 {
			o := external(i, state.SeverityWarning)
			o.Summary = strings.Repeat("<", 200)
			obs = append(obs, o)
		}
		h.report(t, obs)
		time.Sleep(groupWait)
		h.flush(t)
		msg, err := h.eng.Digest(t.Context(), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if post, edit := queuedSize(t, msg.Plain(), msg.HTML()); post > eventBudget || edit > eventBudget {
			t.Errorf("the digest takes %d bytes posted, %d as an edit, over %d", post, edit, eventBudget)
		}
		if !strings.Contains(msg.Plain(), "20 fired (0 critical), 20 still open.") || !strings.Contains(msg.Plain(), "…and 5 more.") {
			t.Errorf("the cut digest lost its counts:\n%.500s", msg.Plain())
		}
	})
}

// The call to a storm of critical alerts nobody took (3,000 from one Alertmanager
// webhook, grouped into one message) fits one event: it listed every number twice,
// 68 KB the homeserver refused, and the call, recorded as made, was never made.
func TestEscalationOfAStormFitsOneEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls *htmlFollowUps
		h, _ := newHarnessWith(escalationSettings(), func(m *fakeMessenger) Messenger {
			calls = &htmlFollowUps{fakeMessenger: m}
			return calls
		})
		obs := make([]Observation, 0, 3000)
		for i := range 3000 {
			obs = append(obs, external(i, state.SeverityCritical))
		}
		h.report(t, obs)
		time.Sleep(groupWait)
		h.flush(t)
		time.Sleep(escalateAfter)
		h.tick(t)
		f := h.msgr.FollowUps()
		if len(f) != 1 || len(f[0].Mentions) != 1 || f[0].Mentions[0] != bob {
			t.Fatalf("follow-ups %+v, want one calling bob", f)
		}
		if post, _ := queuedSize(t, f[0].Text, calls.HTML()[0]); post > eventBudget {
			t.Errorf("the call takes %d bytes, over %d", post, eventBudget)
		}
		if want := "#1, #2, #3"; !strings.Contains(f[0].Text, want) || !strings.Contains(f[0].Text, "and 2985 more are critical and nobody has taken them for 10 minutes. React 👀 above to take them all") {
			t.Errorf("the call does not say which and how many:\n%.400s", f[0].Text)
		}
	})
}
