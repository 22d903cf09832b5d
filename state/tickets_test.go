package state_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
)

func TestTickets(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	tk := db.Tickets
	now := time.UnixMilli(time.Now().UnixMilli())
	const alice, bob, carol id.UserID = "@alice:x", "@bob:x", "@carol:x"

	report := &state.Ticket{Member: carol, Kind: state.TicketReport, Category: "harassment", CreatedAt: now, Deadline: now.Add(24 * time.Hour)}
	if err := tk.Create(ctx, report); err != nil {
		t.Fatal(err)
	}
	request := &state.Ticket{Member: carol, Kind: state.TicketRequest, CreatedAt: now.Add(time.Minute)}
	if err := tk.Create(ctx, request); err != nil {
		t.Fatal(err)
	}
	other := &state.Ticket{Member: "@dave:x", Kind: state.TicketRequest, CreatedAt: now.Add(2 * time.Minute)}
	if err := tk.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	if len(report.ID) != 4 || report.ID == request.ID {
		t.Fatalf("ticket IDs %q and %q", report.ID, request.ID)
	}
	if err := tk.SetRoom(ctx, report.ID, "!dm-carol:x", 42, now); err != nil {
		t.Fatal(err)
	}
	got, err := tk.OpenInRoom(ctx, "!dm-carol:x")
	if err != nil || got == nil || got.ID != report.ID || got.ThreadMsg != 42 || got.Category != "harassment" || !got.Deadline.Equal(report.Deadline) {
		t.Fatalf("OpenInRoom = %+v, %v", got, err)
	}
	if got, _ := tk.ByThreadMsg(ctx, 42); got == nil || got.ID != report.ID {
		t.Errorf("ByThreadMsg(42) = %+v", got)
	}

	// Carol sees her own tickets only; an admin sees them all.
	mine, err := tk.List(ctx, state.TicketFilter{State: state.TicketOpen, Member: carol})
	if err != nil || len(mine) != 2 || mine[0].ID != report.ID {
		t.Fatalf("carol's open tickets: %v, %v", mine, err)
	}
	if all, _ := tk.List(ctx, state.TicketFilter{}); len(all) != 3 {
		t.Errorf("all tickets: %d, want 3", len(all))
	}
	if n, _ := tk.OpenedSince(ctx, carol, now); n != 2 {
		t.Errorf("OpenedSince = %d, want 2", n)
	}

	// Messages: recorded once per event, in order.
	for i, m := range []*state.TicketMessage{
		{TicketID: report.ID, Direction: state.TicketIn, Sender: carol, EventID: "$1", Body: "he keeps messaging me", CreatedAt: now},
		{TicketID: report.ID, Direction: state.TicketNote, Sender: alice, EventID: "$2", Body: "I know him", CreatedAt: now},
		{TicketID: report.ID, Direction: state.TicketIn, Sender: carol, EventID: "$1", Body: "again", CreatedAt: now},
	} {
		added, err := tk.AddMessage(ctx, m)
		if err != nil || added != (i < 2) {
			t.Errorf("AddMessage #%d = %v, %v", i, added, err)
		}
	}

	// Taking and closing: a decision is recorded once.
	if ok, err := tk.Assign(ctx, report.ID, bob, now); !ok || err != nil {
		t.Fatalf("Assign = %v, %v", ok, err)
	}
	if mine, _ := tk.List(ctx, state.TicketFilter{Assignee: bob}); len(mine) != 1 {
		t.Errorf("bob's tickets: %d, want 1", len(mine))
	}
	if ok, err := tk.Close(ctx, report.ID, bob, "warned the sender", now.Add(time.Hour)); !ok || err != nil {
		t.Fatalf("Close = %v, %v", ok, err)
	}
	if ok, _ := tk.Close(ctx, report.ID, alice, "banned", now.Add(2*time.Hour)); ok {
		t.Error("a closed ticket was closed again")
	}
	if ok, _ := tk.Assign(ctx, report.ID, alice, now); ok {
		t.Error("a closed ticket was taken")
	}
	if got, _ := tk.OpenInRoom(ctx, "!dm-carol:x"); got != nil {
		t.Errorf("a closed ticket is still open in its room: %+v", got)
	}
	closed, _ := tk.Get(ctx, report.ID)
	if closed.State != state.TicketClosed || closed.Decision != "warned the sender" || closed.ClosedBy != bob {
		t.Errorf("closed ticket: %+v", closed)
	}

	// What Steward sent in the member's chat is in its outbox.
	sentID, err := db.Outbox.Add(ctx, "!dm-carol:x", event.EventMessage, map[string]string{"body": "we'll look at it"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err = db.Outbox.MarkSent(ctx, sentID, "$sent"); err != nil {
		t.Fatal(err)
	}

	// Retention: the text goes, the decision stays.
	if n, err := tk.Scrub(ctx, now.Add(90*time.Minute)); err != nil || n != 2 {
		t.Fatalf("Scrub = %d, %v; want the 2 messages of the closed ticket", n, err)
	}
	msgs, _ := tk.Messages(ctx, report.ID)
	if len(msgs) != 2 || slices.ContainsFunc(msgs, func(m *state.TicketMessage) bool { return m.Body != "" }) {
		t.Errorf("after Scrub: %+v", msgs)
	}
	if closed, _ = tk.Get(ctx, report.ID); closed.Decision != "warned the sender" {
		t.Errorf("Scrub lost the decision: %+v", closed)
	}
	if sent, _ := db.Outbox.Get(ctx, sentID); sent == nil || strings.Contains(string(sent.Content), "look at it") {
		t.Errorf("the outbox keeps what was sent to the member: %+v", sent)
	}
}
