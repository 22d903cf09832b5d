// Package render builds the messages Steward sends: an HTML body and its plain-text
// fallback written side by side, so they never disagree. Text goes through Text, Bold,
// Code and friends, which escape it for HTML; there is no way to put unescaped user text
// into a message.
package render

import (
	"encoding/json"
	"html"
	"strings"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Message is a message under construction. The zero value is ready to use.
type Message struct {
	html  strings.Builder
	plain strings.Builder
}

// New starts a message with the plain text s, escaped as Text does; most messages
// begin this way.
func New(s string) *Message {
	return new(Message).Text(s)
}

// Text appends s escaped for HTML, its line breaks kept in both bodies, so user text
// can go in as it is.
func (m *Message) Text(s string) *Message {
	m.html.WriteString(strings.ReplaceAll(html.EscapeString(s), "\n", "<br>"))
	m.plain.WriteString(s)
	return m
}

// Bold appends s in bold, escaped; the plain fallback shows it unmarked.
func (m *Message) Bold(s string) *Message {
	m.html.WriteString("<strong>" + html.EscapeString(s) + "</strong>")
	m.plain.WriteString(s)
	return m
}

// Code appends s as inline code, escaped; the plain fallback puts it in backticks.
func (m *Message) Code(s string) *Message {
	m.html.WriteString("<code>" + html.EscapeString(s) + "</code>")
	m.plain.WriteString("`" + s + "`")
	return m
}

// Pill appends a mention of userID that clients render as a pill.
func (m *Message) Pill(userID id.UserID) *Message {
	m.html.WriteString(`<a href="` + html.EscapeString(userID.URI().MatrixToURL()) + `">` + html.EscapeString(string(userID)) + `</a>`)
	m.plain.WriteString(string(userID))
	return m
}

// Line ends the current line in both bodies (<br> and a newline).
func (m *Message) Line() *Message {
	m.html.WriteString("<br>")
	m.plain.WriteString("\n")
	return m
}

// Heading appends a small heading on its own line.
func (m *Message) Heading(s string) *Message {
	m.html.WriteString("<h4>" + html.EscapeString(s) + "</h4>")
	if plain := m.plain.String(); plain != "" && !strings.HasSuffix(plain, "\n") {
		m.plain.WriteString("\n")
	}
	m.plain.WriteString(s + "\n")
	return m
}

// List appends a bulleted list, starting on a line of its own; each item is built by
// its own Message.
func (m *Message) List(items ...*Message) *Message {
	if plain := m.plain.String(); plain != "" && !strings.HasSuffix(plain, "\n") {
		m.plain.WriteString("\n")
	}
	m.html.WriteString("<ul>")
	for _, item := range items {
		m.html.WriteString("<li>" + item.html.String() + "</li>")
		m.plain.WriteString("• " + item.plain.String() + "\n")
	}
	m.html.WriteString("</ul>")
	return m
}

// Table appends a table with a header row. The plain fallback pads columns so it reads
// as a table in a monospace client.
func (m *Message) Table(header []string, rows [][]string) *Message {
	m.html.WriteString("<table><thead><tr>")
	for _, h := range header {
		m.html.WriteString("<th>" + html.EscapeString(h) + "</th>")
	}
	m.html.WriteString("</tr></thead><tbody>")
	for _, row := range rows {
		m.html.WriteString("<tr>")
		for _, cell := range row {
			m.html.WriteString("<td>" + html.EscapeString(cell) + "</td>")
		}
		m.html.WriteString("</tr>")
	}
	m.html.WriteString("</tbody></table>")

	widths := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for i, cell := range row {
			if i < len(widths) {
				widths[i] = max(widths[i], len([]rune(cell)))
			}
		}
	}
	for _, row := range append([][]string{header}, rows...) {
		for i, cell := range row {
			if i >= len(widths) {
				break
			}
			m.plain.WriteString(cell)
			if i < len(row)-1 {
				m.plain.WriteString(strings.Repeat(" ", widths[i]-len([]rune(cell))+2))
			}
		}
		m.plain.WriteString("\n")
	}
	return m
}

// CodeBlock appends preformatted text, such as log lines, escaped; the plain fallback
// fences it in ``` lines.
func (m *Message) CodeBlock(s string) *Message {
	m.html.WriteString("<pre><code>" + html.EscapeString(s) + "</code></pre>")
	m.plain.WriteString("```\n" + s + "\n```\n")
	return m
}

// Quote appends someone's words as a block quote, escaped like all text.
func (m *Message) Quote(s string) *Message {
	m.html.WriteString("<blockquote>" + strings.ReplaceAll(html.EscapeString(s), "\n", "<br>") + "</blockquote>")
	m.plain.WriteString("> " + strings.ReplaceAll(s, "\n", "\n> ") + "\n")
	return m
}

// HTML returns the HTML body built so far; everything in it was escaped on the way in.
func (m *Message) HTML() string { return m.html.String() }

// Plain returns the plain-text fallback, without trailing newlines, for clients and
// notifications that show no HTML.
func (m *Message) Plain() string { return strings.TrimRight(m.plain.String(), "\n") }

// MaxContent bounds a message's content as the outbox queues it (JSON): the
// homeserver refuses an event over 64 KiB, encryption makes the content a third
// larger, and a message refused is lost.
const MaxContent = 32 << 10

// RelationRoom is what the outbox may add to a message's content after measuring it:
// its transaction ID, and a relation's event ID filled in when it is sent. The outbox
// cuts a message over MaxContent less RelationRoom (its net under everything).
const RelationRoom = 512

// Fits tells whether m, posted, stays within what the outbox queues as it is
// (MaxContent less RelationRoom), even as an answer inside a thread, the most a
// relation weighs: a message built to fit is never cut again by the outbox's net. A
// message that shows what others wrote (an alert's labels, a list of a thousand) is
// cut until it does.
func (m *Message) Fits() bool {
	content := m.Notice()
	content.Mentions = &event.Mentions{}
	content.RelatesTo = (&event.RelatesTo{}).SetThread(sampleEventID, "").SetReplyTo(sampleEventID)
	return contentFits(content)
}

// FitsEdit is Fits for a message that may also replace an earlier one. Since mautrix
// v0.32 an edit's fallback is cut to 50 bytes whatever the text's length (it used to
// carry the whole text again below 10,000 bytes), so this adds little to Fits; it is
// kept so that the rule does not depend on how mautrix words a fallback.
func (m *Message) FitsEdit() bool {
	content := m.Notice()
	content.Mentions = &event.Mentions{}
	content.SetEdit(sampleEventID)
	return m.Fits() && contentFits(content)
}

// sampleEventID is as long as the event IDs a message may refer to.
const sampleEventID = "$an_event_id_as_long_as_the_homeserver_makes_one"

func contentFits(content *event.MessageEventContent) bool {
	data, err := json.Marshal(content)
	return err == nil && len(data) <= MaxContent-RelationRoom
}

// Notice returns the message as m.notice content, the message type bots use so that
// other bots don't answer them.
func (m *Message) Notice() *event.MessageEventContent {
	return &event.MessageEventContent{
		MsgType:       event.MsgNotice,
		Body:          m.Plain(),
		Format:        event.FormatHTML,
		FormattedBody: m.HTML(),
	}
}

// Clock says when t is for people: the time of day in UTC, with the date when it is
// not the day of ref (usually now).
func Clock(t, ref time.Time) string {
	t, ref = t.UTC(), ref.UTC()
	if t.YearDay() == ref.YearDay() && t.Year() == ref.Year() {
		return t.Format("15:04 UTC")
	}
	return t.Format("Mon 2 Jan 15:04 UTC")
}
