package commands_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/state"
)

// readOnly are the commands that change nothing: they are open to devices nobody
// verified. A command missing from this list and from asking is taken to change
// something, and TestEveryCommandIsClassified fails until it is declared so: a new
// command is either added here, with a reason to believe it only reads, or needs a
// verified device.
var readOnly = []string{
	"help", "ping", "whoami", "status",
	"alerts", "silences", "jobs",
	"containers", "logs", "updates",
	"backups", "snapshots", "browse",
	"tickets",
	"log", "summary", "pending",
}

// asking are a member's own words to the admins: open to unverified devices like
// anything a member writes to Steward in a private chat.
var asking = []string{"request", "report"}

// readsWith are the commands that change something with some arguments and only read
// with others: the arguments of a run of each kind.
var readsWith = map[string]struct{ reads, changes string }{
	"oncall": {reads: "", changes: "take"},
}

func TestEveryCommandIsClassified(t *testing.T) {
	reg := commands.Builtin(commands.Features{})
	for _, name := range slices.Concat(readOnly, asking, mapKeys(readsWith)) {
		if reg.Lookup(name) == nil {
			t.Errorf("%s is classified here but is no command", name)
		}
	}
	for _, cmd := range reg.All() {
		want := commands.Changes
		switch {
		case slices.Contains(readOnly, cmd.Name):
			want = commands.ReadsOnly
		case slices.Contains(asking, cmd.Name):
			want = commands.Asks
		}
		if cmd.Effect != want {
			t.Errorf("!%s %s, want %s", cmd.Name, cmd.Effect, want)
		}
		if _, ok := readsWith[cmd.Name]; ok != (cmd.ReadsWith != nil) {
			t.Errorf("!%s reads with some arguments: %v, want %v", cmd.Name, cmd.ReadsWith != nil, ok)
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// probed is Builtin with every command's function replaced by one that counts its
// runs, so that what the dispatcher decides about each real declaration can be seen
// without the features they act on.
func probed(runs map[string]int) *commands.Registry {
	var cmds []*commands.Command
	for _, cmd := range commands.Builtin(commands.Features{}).All() {
		c := *cmd
		c.Describe = nil
		c.Func = func(context.Context, *commands.Event) error {
			runs[c.Name]++
			return nil
		}
		cmds = append(cmds, &c)
	}
	return commands.NewRegistry(cmds...)
}

// TestUnverifiedDeviceIsRefusedEveryChange sends every registered command from an
// admin's device nobody cross-signed (and once unencrypted): each command that
// changes something is refused and the admin reads why and what to do; each that only
// reads runs.
func TestUnverifiedDeviceIsRefusedEveryChange(t *testing.T) {
	senders := []struct {
		name      string
		encrypted bool
		trust     id.TrustState
		why       string
	}{
		{name: "unknown device", encrypted: true, trust: id.TrustStateUnknownDevice,
			why: "Your device `" + string(device) + "` is not cross-signed: verify it from another of your sessions"},
		{name: "unencrypted", trust: id.TrustStateUnset, why: "Your message was not encrypted"},
	}
	for _, sender := range senders {
		t.Run(sender.name, func(t *testing.T) {
			runs := map[string]int{}
			reg := probed(runs)
			h := newHarness(t, reg, func(h *harness) {
				h.settings.AllowUnencrypted = true
				h.rooms.unencrypted[adminRoom] = !sender.encrypted
			})
			for _, cmd := range reg.All() {
				if cmd.Role != commands.RoleAdmin && cmd.Effect == commands.Changes {
					t.Errorf("!%s changes something for members; this test sends commands as an admin in the admin room only", cmd.Name)
				}
				bodies := map[string]bool{"!" + cmd.Name + " 1": cmd.Effect == commands.Changes}
				if kinds, ok := readsWith[cmd.Name]; ok {
					bodies = map[string]bool{strings.TrimSpace("!" + cmd.Name + " " + kinds.reads): false, "!" + cmd.Name + " " + kinds.changes: true}
				}
				if cmd.Effect == commands.Asks && !sender.encrypted {
					continue // a ticket is opened from an encrypted chat only, which the command itself checks
				}
				for body, changes := range bodies {
					before := runs[cmd.Name]
					in := h.input(admin, adminRoom, body)
					in.Encrypted, in.Trust = sender.encrypted, sender.trust
					replies, entry := h.handle(in)
					refusal := "`!" + cmd.Name + "` changes something, so it must come from a device you have verified; I did not run it."
					if !changes {
						if entry.Outcome == state.OutcomeRefused {
							t.Errorf("%q, which only reads, was refused: %+v", body, replies)
						}
						continue
					}
					if runs[cmd.Name] != before || entry.Outcome != state.OutcomeRefused {
						t.Errorf("%q from an unverified device: ran %d times, outcome %q; want it refused", body, runs[cmd.Name]-before, entry.Outcome)
						continue
					}
					if len(replies) != 1 || !strings.Contains(replies[0].Plain, refusal) || !strings.Contains(replies[0].Plain, sender.why) {
						t.Errorf("%q from an unverified device: replies %+v, want one saying %q and %q", body, replies, refusal, sender.why)
					}
				}
			}
		})
	}
}
