package commands_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/state"
)

// TestBuiltin builds the real registry, so a bad declaration stops the tests rather
// than Steward's start, and checks that every command can be found in help.
func TestBuiltin(t *testing.T) {
	reg := commands.Builtin(commands.Features{})
	if len(reg.All()) == 0 {
		t.Fatal("Builtin has no commands")
	}
	h := newHarness(t, reg)
	replies, _ := h.send(admin, adminRoom, "!help")
	help := onlyReply(t, replies).Plain
	for _, cmd := range reg.All() {
		if cmd.Help == "" || cmd.Section == "" {
			t.Errorf("%s: help %q, section %q", cmd.Name, cmd.Help, cmd.Section)
		}
		if cmd.Role != commands.RoleMember && cmd.Role != commands.RoleAdmin {
			t.Errorf("%s: role %s, want member or admin", cmd.Name, cmd.Role)
		}
		for _, name := range append([]string{cmd.Name}, cmd.Aliases...) {
			if reg.Lookup(name) != cmd {
				t.Errorf("Lookup(%q) does not find %s", name, cmd.Name)
			}
		}
		if !strings.Contains(help, "`!"+cmd.Name) {
			t.Errorf("%s is missing from an admin's !help:\n%s", cmd.Name, help)
		}
	}
}

func TestNewRegistryRejectsBadDeclarations(t *testing.T) {
	run := func(context.Context, *commands.Event) error { return nil }
	cmd := func(name string, aliases ...string) *commands.Command {
		return &commands.Command{Name: name, Aliases: aliases, Section: commands.SectionGeneral, Help: "Do " + name, Role: commands.RoleMember, Func: run}
	}
	tests := []struct {
		name string
		cmds []*commands.Command
		// panic is a part of the expected panic message.
		panic string
	}{
		{name: "duplicate name", cmds: []*commands.Command{cmd("ping"), cmd("ping")}, panic: `"ping" is registered twice`},
		{name: "alias taken by a name", cmds: []*commands.Command{cmd("ping"), cmd("pong", "ping")}, panic: `"ping" is registered twice`},
		{name: "duplicate alias", cmds: []*commands.Command{cmd("ping", "p"), cmd("pong", "p")}, panic: `"p" is registered twice`},
		{name: "name taken by an alias", cmds: []*commands.Command{cmd("ping", "p"), cmd("p")}, panic: `"p" is registered twice`},
		{name: "upper-case name", cmds: []*commands.Command{cmd("Ping")}, panic: `"Ping" must be lower-case`},
		{name: "upper-case alias", cmds: []*commands.Command{cmd("ping", "P")}, panic: `"P" must be lower-case`},
		{name: "name with a space", cmds: []*commands.Command{cmd("ping me")}, panic: `"ping me" must be lower-case without spaces`},
		{name: "name with a tab", cmds: []*commands.Command{cmd("ping\tme")}, panic: "without spaces"},
		{name: "empty name", cmds: []*commands.Command{cmd("")}, panic: "without spaces"},
		{name: "empty alias", cmds: []*commands.Command{cmd("ping", "")}, panic: "without spaces"},
		{name: "no function", cmds: []*commands.Command{{Name: "ping", Section: commands.SectionGeneral, Help: "Ping"}}, panic: `"ping" has no function`},
		{name: "no help", cmds: []*commands.Command{{Name: "ping", Section: commands.SectionGeneral, Func: run}}, panic: `"ping" needs help text`},
		{name: "no section", cmds: []*commands.Command{{Name: "ping", Help: "Ping", Func: run}}, panic: `"ping" needs help text and a section`},
		{name: "reset identity without approval", cmds: []*commands.Command{{Name: "ping", Section: commands.SectionGeneral, Help: "Ping", Func: run,
			Effect: commands.Changes, FromResetIdentity: func(*commands.Event) bool { return true }}}, panic: `"ping" may come from a reset identity`},
		{name: "reset identity with a safe run", cmds: []*commands.Command{{Name: "ping", Section: commands.SectionGeneral, Help: "Ping", Func: run,
			Effect: commands.Changes, Destructive: true, SafeWith: func([]string) bool { return true }, FromResetIdentity: func(*commands.Event) bool { return true }}}, panic: `"ping" may come from a reset identity`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("NewRegistry did not panic")
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, tt.panic) {
					t.Errorf("panic %q, want it to contain %q", msg, tt.panic)
				}
			}()
			commands.NewRegistry(tt.cmds...)
		})
	}
}

func TestRegistryLookup(t *testing.T) {
	run := func(context.Context, *commands.Event) error { return nil }
	logs := &commands.Command{Name: "logs", Aliases: []string{"log", "tail"}, Section: commands.SectionHost, Help: "Show logs", Role: commands.RoleAdmin, Func: run}
	ping := &commands.Command{Name: "ping", Section: commands.SectionGeneral, Help: "Ping", Role: commands.RoleMember, Func: run}
	reg := commands.NewRegistry(logs, ping)
	tests := []struct {
		name string
		want *commands.Command
	}{
		{"logs", logs}, {"log", logs}, {"tail", logs}, {"ping", ping},
		{"Logs", nil}, {"pin", nil}, {"", nil},
	}
	for _, tt := range tests {
		if got := reg.Lookup(tt.name); got != tt.want {
			t.Errorf("Lookup(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if all := reg.All(); len(all) != 2 || all[0] != logs || all[1] != ping {
		t.Errorf("All() = %v, want logs, ping in registration order", all)
	}
}

// TestAliasRunsTheCommand checks that an alias typed in chat runs the command and is
// audited under the command's own name.
func TestAliasRunsTheCommand(t *testing.T) {
	p := &probe{}
	logs := p.command("logs", commands.RoleMember, false, nil)
	logs.Aliases = []string{"tail"}
	h := newHarness(t, commands.NewRegistry(logs))
	_, entry := h.send(member, groupRoom, "!tail web")
	if p.runs != 1 || entry.Outcome != state.OutcomeOK {
		t.Errorf("!tail ran %d times with outcome %q, want once, ok", p.runs, entry.Outcome)
	}
	if entry.Action != "command.logs" || entry.Arguments != "web" {
		t.Errorf("audited as %q %q, want command.logs web", entry.Action, entry.Arguments)
	}
}
