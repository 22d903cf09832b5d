package commands

import (
	"fmt"
	"slices"

	"github.com/steward-bot/steward/approval"
	"github.com/steward-bot/steward/config"
)

// PolicyOf returns the policy cmd runs under: its declared one, or a stricter one from
// config.
func (r *Registry) PolicyOf(cmd *Command) approval.Policy {
	if p, ok := r.policies[cmd.Name]; ok {
		return p
	}
	return approval.Declared(cmd.Policy, cmd.Destructive)
}

// Tighten applies the policies configured under policy.commands. Config can only make a
// command stricter: a looser policy, or a name that is no command, is an error that
// names the key, so a typo never leaves a command less guarded than its owner thinks.
// Nothing is applied unless everything is right. The problems are *config.Problems, as
// config.Load returns them, so every caller lists them the same way.
func (r *Registry) Tighten(configured map[string]string) error {
	var problems config.Problems
	add := func(key, format string, args ...any) {
		problems = append(problems, config.Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	set := make(map[string]approval.Policy, len(configured))
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
		p, err := approval.ParsePolicy(configured[name])
		if err != nil {
			add(key, "%v", err)
			continue
		}
		if declared := approval.Declared(cmd.Policy, cmd.Destructive); p.LooserThan(declared) {
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
