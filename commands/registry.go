package commands

import (
	"fmt"
	"github.com/steward-bot/steward/policy"
	"slices"
	"strings"
)

// Registry is the one list of commands that dispatch, help and config checks all read,
// so none of them can know a command the others do not.
type Registry struct {
	commands []*Command
	byName   map[string]*Command
	// policies holds the policies config tightened, by command name.
	policies map[string]policy.Policy
}

// NewRegistry indexes cmds. Duplicate or malformed names are programming errors and
// panic, so they are caught by the first test that builds the registry.
func NewRegistry(cmds ...*Command) *Registry {
	r := &Registry{byName: make(map[string]*Command), policies: make(map[string]policy.Policy)}
	for _, cmd := range cmds {
		if cmd.Func == nil {
			panic(fmt.Sprintf("command %q has no function", cmd.Name))
		}
		if cmd.Help == "" || !slices.Contains(sectionOrder, cmd.Section) {
			panic(fmt.Sprintf("command %q needs help text and a section that help lists", cmd.Name))
		}
		if cmd.Destructive && cmd.Effect != Changes {
			panic(fmt.Sprintf("command %q is destructive, so it changes something", cmd.Name))
		}
		if cmd.ReadsWith != nil && cmd.Effect != Changes {
			panic(fmt.Sprintf("command %q reads with some arguments, so it changes something with others", cmd.Name))
		}
		if cmd.FromResetIdentity != nil && (cmd.Effect != Changes || !cmd.Destructive || cmd.SafeWith != nil) {
			// A device Steward does not trust may only ask: every run of such a
			// command waits for another admin's approval from a verified device.
			panic(fmt.Sprintf("command %q may come from a reset identity, so it changes something and every run of it needs approval (destructive, no SafeWith)", cmd.Name))
		}
		for _, name := range append([]string{cmd.Name}, cmd.Aliases...) {
			if name == "" || name != strings.ToLower(name) || strings.ContainsAny(name, " \t\n") {
				panic(fmt.Sprintf("command name %q must be lower-case without spaces", name))
			}
			if _, dup := r.byName[name]; dup {
				panic(fmt.Sprintf("command name %q is registered twice", name))
			}
			r.byName[name] = cmd
		}
		r.commands = append(r.commands, cmd)
	}
	return r
}

// Lookup finds a command by name or alias; nil when there is none, which the
// dispatcher answers by pointing to help.
func (r *Registry) Lookup(name string) *Command {
	return r.byName[name]
}

// All returns the commands in registration order, the order help lists them in.
func (r *Registry) All() []*Command {
	return r.commands
}
