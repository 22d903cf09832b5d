package commands

import (
	"fmt"
	"slices"
	"strings"

	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/policy"
)

// PolicyOf returns the policy cmd runs under: its declared one, or a stricter one from
// config.
func (r *Registry) PolicyOf(cmd *Command) policy.Policy {
	if p, ok := r.policies[cmd.Name]; ok {
		return p
	}
	return policy.Declared(cmd.Policy, cmd.Destructive)
}

// Tighten applies the policies configured under policy.commands. Config can only make a
// command stricter: a looser policy, or a name that is no command, is an error that
// names the key, so a typo never leaves a command less guarded than its owner thinks.
// Nothing is applied unless everything is right. The problems are *config.Problems, as
// config.Load returns them, each with its line in the file, so every caller lists them
// the same way.
func (r *Registry) Tighten(cfg config.Policy) error {
	configured := cfg.Commands
	var problems config.Problems
	add := func(key, format string, args ...any) {
		name := strings.TrimPrefix(key, "policy.commands.")
		problems = append(problems, config.Problem{Key: key, Line: cfg.CommandLine(name), Msg: fmt.Sprintf(format, args...)})
	}
	set := make(map[string]policy.Policy, len(configured))
	names := make([]string, 0, len(configured))
	for name := range configured {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		key := "policy.commands." + name
		cmd := r.Lookup(name)
		if cmd == nil {
			add(key, "there is no command %q", name)
			continue
		}
		if cmd.Name != name {
			add(key, "%q is another name for %q; write that instead", name, cmd.Name)
			continue
		}
		p, err := policy.Parse(configured[name])
		if err != nil {
			add(key, "%v", err)
			continue
		}
		if declared := policy.Declared(cmd.Policy, cmd.Destructive); p.LooserThan(declared) {
			add(key, "%s is looser than the built-in policy %s; config can only make a command stricter", p, declared)
			continue
		}
		set[name] = p
	}
	if len(problems) > 0 {
		return &problems
	}
	for name, p := range set {
		r.policies[name] = p
	}
	return nil
}
