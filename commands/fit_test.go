package commands_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// listedTickets is a ticket desk that only lists: the listing is what these tests
// read.
type listedTickets struct {
	commands.Tickets
	list []*state.Ticket
}

func (l *listedTickets) List(context.Context, state.TicketFilter) ([]*state.Ticket, error) {
	return l.list, nil
}

// moreNote is the note under a listing cut to fit one message.
var moreNote = regexp.MustCompile(`… and (\d+) more(; [^\n]*)?\.$`)

// checkCut checks a listing of total rows cut to fit: it fits in one Matrix event, the
// outbox would not cut it again, every row it shows is whole (its first column is
// followed by the rest), and the note counts exactly the rows left out.
func checkCut(t *testing.T, r sentReply, total int, firstCells []string, wantHint string) {
	t.Helper()
	content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: r.Plain, Format: event.FormatHTML, FormattedBody: r.HTML,
		Mentions: &event.Mentions{}, RelatesTo: (&event.RelatesTo{}).SetReplyTo("$an_event_id_as_long_as_the_homeserver_makes_one")}
	data, _ := json.Marshal(content)
	if budget := render.MaxContent - render.RelationRoom; len(data) > budget {
		t.Fatalf("the listing is %d bytes, over the %d the outbox queues without cutting it", len(data), budget)
	}
	if strings.Contains(r.Plain, "too long for Matrix") {
		t.Errorf("the listing was cut by the net under everything, not at whole rows")
	}
	m := moreNote.FindStringSubmatch(r.Plain)
	if m == nil {
		t.Fatalf("no \"… and N more\" note at the end of the listing:\n…%s", r.Plain[max(0, len(r.Plain)-300):])
	}
	if !strings.Contains(m[0], wantHint) {
		t.Errorf("note %q does not say %q", m[0], wantHint)
	}
	left, _ := strconv.Atoi(m[1])
	shown := 0
	for _, cell := range firstCells {
		if strings.Contains(r.HTML, "<tr><td>"+cell+"</td>") {
			shown++
		}
	}
	if shown == 0 || shown+left != total {
		t.Errorf("the listing shows %d rows and says %d more, want %d in all", shown, left, total)
	}
	// Whole rows only: the HTML table is closed after the last row shown, and the
	// plain text lists each shown row to its last column.
	if !strings.Contains(r.HTML, "</tr></tbody></table>") {
		t.Errorf("the HTML table is not closed after its last row")
	}
	if strings.Count(r.HTML, "<tr>") != shown+1 { // and the header
		t.Errorf("the HTML has %d rows for %d shown", strings.Count(r.HTML, "<tr>")-1, shown)
	}
}

// TestContainersListingCutAtWholeRows lists 500 containers, far more than one message
// holds: the answer shows the first ones as whole rows and says how many it left out
// and how to see them, instead of being cut mid-table or refused by the homeserver.
func TestContainersListingCutAtWholeRows(t *testing.T) {
	desk := &fakeContainers{hosts: []string{"a", "b"}, down: map[string]bool{}}
	var names []string
	for i := range 500 {
		host := []string{"a", "b"}[i%2]
		name := fmt.Sprintf("service-%03d-with-a-long-name", i)
		desk.containers = append(desk.containers, dockerctl.Container{
			Host: host, ID: fmt.Sprintf("%012d", i), Name: name, Image: "registry.example.org/team/" + name + ":1.2.3", State: "running",
			StartedAt: time.Now().Add(-time.Hour),
		})
		names = append(names, host+"/"+name)
	}
	h := newHarness(t, containerRegistry(desk, nil))

	replies, entry := h.send(admin, adminRoom, "!containers")
	if entry.Outcome != state.OutcomeOK {
		t.Fatalf("!containers: outcome %q", entry.Outcome)
	}
	checkCut(t, onlyReply(t, replies), 500, names, "use !containers HOST")

	replies, _ = h.send(admin, adminRoom, "!updates")
	checkCut(t, onlyReply(t, replies), 500, names, "use !updates HOST")

	// One host's half is still too long: cut, with no hint to name a host.
	replies, _ = h.send(admin, adminRoom, "!containers a")
	var half []string
	for _, n := range names {
		if strings.HasPrefix(n, "a/") {
			half = append(half, n)
		}
	}
	checkCut(t, onlyReply(t, replies), 250, half, "")

	// A short list is whole, with no note.
	desk.containers = desk.containers[:3]
	replies, _ = h.send(admin, adminRoom, "!containers")
	if r := onlyReply(t, replies); moreNote.MatchString(r.Plain) || !strings.Contains(r.Plain, names[2]) {
		t.Errorf("a list of 3 was cut:\n%s", r.Plain)
	}
}

// TestTicketsListingCutAtWholeRows lists 500 tickets with !tickets all.
func TestTicketsListingCutAtWholeRows(t *testing.T) {
	desk := &listedTickets{}
	var ids []string
	for i := range 500 {
		tid := fmt.Sprintf("T%03d", i)
		ids = append(ids, tid)
		desk.list = append(desk.list, &state.Ticket{ID: tid, Kind: state.TicketRequest, State: state.TicketOpen,
			Member: id.UserID(fmt.Sprintf("@member-number-%03d:a-homeserver.example.org", i)), CreatedAt: time.Now().Add(-time.Hour)})
	}
	h := newHarness(t, pick(commands.Builtin(commands.Features{Tickets: desk}), "tickets"))
	replies, entry := h.send(admin, adminRoom, "!tickets all")
	if entry.Outcome != state.OutcomeOK {
		t.Fatalf("!tickets all: outcome %q", entry.Outcome)
	}
	checkCut(t, onlyReply(t, replies), 500, ids, "use !tickets open or !tickets mine for fewer")
}
