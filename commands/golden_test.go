package commands_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestRenderedMessagesGolden pins what people read: the plain text and the HTML of
// messages whose wording matters. Run `go test ./commands -run Golden -update` after a
// deliberate change and review the diff.
func TestRenderedMessagesGolden(t *testing.T) {
	cases := []struct {
		name   string
		sender id.UserID
		room   id.RoomID
		body   string
	}{
		{"help-admin", admin, adminRoom, "!help"},
		{"help-admin-in-group-room", admin, groupRoom, "!help"},
		{"help-member", member, groupRoom, "!help"},
		{"help-ping", member, groupRoom, "!help ping"},
		{"refused-member-status", member, groupRoom, "!status"},
		{"refused-admin-command-in-group-room", admin, groupRoom, "!status"},
		{"unknown-command", member, groupRoom, "!frobnicate <b>now</b>"},
		{"unclosed-quote", member, groupRoom, `!ping "oops`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, commands.Builtin(commands.Features{}))
			replies, _ := h.send(tc.sender, tc.room, tc.body)
			got := onlyReply(t, replies)
			compareGolden(t, tc.name+".txt", got.Plain)
			compareGolden(t, tc.name+".html", got.HTML)
		})
	}
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}
