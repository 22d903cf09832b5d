package commands_test

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/state"
)

// logHarness is a processor whose decision log already holds a few decisions.
func logHarness(t *testing.T) *harness {
	h := newHarness(t, commands.Builtin(commands.Features{}))
	base := h.clock.Now()
	for _, e := range []*state.AuditEntry{
		{Time: base.Add(-9 * 24 * time.Hour), Actor: admin, Action: "command.status", Outcome: state.OutcomeOK},
		{Time: base.Add(-3 * time.Hour), Actor: member, Action: "command.status", Outcome: state.OutcomeRefused, Detail: "Only admins can use `!status`."},
		{Time: base.Add(-2 * time.Hour), Actor: "@mallory:evil.example", Action: "invite", Outcome: state.OutcomeRefused},
		{Time: base.Add(-time.Hour), Actor: admin, Action: "command.announce", Arguments: `<script>alert("x")</script> the server restarts tonight at nine, sorry for the noise`, Outcome: state.OutcomeOK},
	} {
		if _, err := h.audit.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestLogShowsDecisions(t *testing.T) {
	h := logHarness(t)
	replies, entry := h.send(admin, adminRoom, "!log")
	got := onlyReply(t, replies)
	compareGolden(t, "log.txt", got.Plain)
	compareGolden(t, "log.html", got.HTML)
	if strings.Contains(got.HTML, "<script>") {
		t.Error("!log put user text into HTML unescaped")
	}
	if entry.Action != "command.log" || entry.Outcome != state.OutcomeOK {
		t.Errorf("!log was audited as %s/%s", entry.Action, entry.Outcome)
	}
}

func TestLogFilters(t *testing.T) {
	tests := []struct {
		args     string
		want     []string // actions (without "command.") in the answer, newest first
		contains string
	}{
		{args: "2", want: []string{"announce", "invite"}},
		{args: "--actor " + string(member), want: []string{"status"}},
		{args: "--action status", want: []string{"status", "status"}},
		{args: "--since 1d", want: []string{"announce", "invite", "status"}},
		{args: "--since 90m --action announce", want: []string{"announce"}},
		{args: "--actor @nobody:example.org", contains: "No decision log entries match."},
		{args: "--actor bob", contains: `"bob" is not a Matrix ID`},
		{args: "--since soon", contains: `"soon" is not a span of time`},
		{args: "--action", contains: "--action needs a value."},
		{args: "lots", contains: `I don't understand "lots"`},
		{args: "0", contains: `I don't understand "0"`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			h := logHarness(t)
			replies, _ := h.send(admin, adminRoom, "!log "+tt.args)
			got := onlyReply(t, replies).Plain
			if tt.contains != "" {
				if !strings.Contains(got, tt.contains) {
					t.Errorf("!log %s = %q, want it to say %q", tt.args, got, tt.contains)
				}
				return
			}
			var actions []string
			for _, line := range strings.Split(got, "\n")[2:] { // skip the intro and header
				if fields := strings.Fields(line); len(fields) > 5 {
					actions = append(actions, fields[5])
				}
			}
			if strings.Join(actions, ",") != strings.Join(tt.want, ",") {
				t.Errorf("!log %s listed %v, want %v:\n%s", tt.args, actions, tt.want, got)
			}
		})
	}
}

func TestLogIsForAdminsInTheAdminRoom(t *testing.T) {
	h := logHarness(t)
	if got := onlyReply(t, first(h.send(member, groupRoom, "!log"))).Plain; !strings.Contains(got, "Only admins") {
		t.Errorf("member's !log: %q", got)
	}
	if got := onlyReply(t, first(h.send(admin, groupRoom, "!log"))).Plain; !strings.Contains(got, "in the admin room") {
		t.Errorf("admin's !log in the group room: %q", got)
	}
}
