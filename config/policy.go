package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/steward-bot/steward/policy"
)

// Policy lets the admins ask for more approval than the built-in policy of a
// command requires, and sets how long approval requests stay open. It can
// only make a command stricter than its built-in policy, never looser.
type Policy struct {
	// Commands tightens the approval policy of single commands, by command
	// name (without the prefix): none, confirm, second_admin or quorum:N, as
	// read by policy.Parse.
	Commands map[string]string `yaml:"commands"`
	// ApprovalTTL is how long an approval request stays open: long enough to
	// reach a phone, short enough that a forgotten request cannot be
	// approved by surprise weeks later.
	ApprovalTTL Duration `yaml:"approval_ttl" default:"30m" min:"1m" max:"168h" note:"a week"`
	// AllowSingleAdmin lets second_admin and quorum fall back to confirm when
	// exactly one admin is configured, so a one-person team is not locked out
	// of its own server.
	AllowSingleAdmin bool `yaml:"allow_single_admin"`

	// lines holds the line of each key of Commands in the file, so the
	// commands package can point at the line of a command it does not know.
	lines map[string]int
}

// CommandLine returns the 1-based line of policy.commands.NAME in the file
// the policy was loaded from, or 0 when it is unknown (not in the file, or a
// Policy built in code).
func (p Policy) CommandLine(name string) int { return p.lines[name] }

// checkPolicy validates the policy section against the admins configured,
// and keeps the lines of its commands for CommandLine.
func (v *validator) checkPolicy(c *Config) {
	p := &c.Policy
	// The requester never counts towards their own approval.
	others := len(slices.Compact(slices.Sorted(slices.Values(c.Matrix.Admins)))) - 1
	fallback := others == 0 && p.AllowSingleAdmin
	for _, name := range slices.Sorted(maps.Keys(p.Commands)) {
		key := "policy.commands." + name
		if line := v.lines[key]; line > 0 {
			if p.lines == nil {
				p.lines = map[string]int{}
			}
			p.lines[name] = line
		}
		v.checkCommandName(key, name, c.Matrix.CommandPrefix)

		want, err := policy.Parse(p.Commands[name])
		switch {
		case err != nil && p.Commands[name] == "":
			v.invalid(key, fmt.Sprintf("needs a policy (%s); leave the command out to keep its built-in policy", policy.Forms))
		case err != nil:
			v.invalid(key, err.Error())
		case others < 0 || fallback:
			// No admins is reported at matrix.admins; a single admin
			// was allowed to confirm alone.
		case want.Kind == policy.SecondAdmin && others == 0:
			v.invalid(key, "second_admin needs an admin besides the one asking, but matrix.admins lists only one; "+
				"add one, or set policy.allow_single_admin: true to let a single admin confirm alone")
		case want.Kind == policy.Quorum && want.N > others:
			have := fmt.Sprintf("only %d other admins are", others)
			switch others {
			case 0:
				have = "no other admin is"
			case 1:
				have = "only 1 other admin is"
			}
			msg := fmt.Sprintf("%s needs %d admins besides the one asking, but %s configured in matrix.admins", p.Commands[name], want.N, have)
			if others == 0 {
				msg += "; add some, or set policy.allow_single_admin: true to let a single admin confirm alone"
			}
			v.invalid(key, msg)
		}
	}
}

// checkCommandName requires a key of policy.commands to be a command name as
// help lists it, without the prefix, since that is what the commands package
// looks up. Whether such a command exists is for the commands package to say.
func (v *validator) checkCommandName(key, name, prefix string) {
	for _, p := range []string{prefix, declaredDefault[Matrix]("command_prefix")} {
		if rest, ok := strings.CutPrefix(name, p); ok && p != "" && rest != "" {
			v.invalid(key, fmt.Sprintf("write the command name without %q: %s", p, strings.ToLower(rest)))
			return
		}
	}
	invalid := func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') }
	lower := strings.ToLower(name)
	switch {
	case name == "":
		v.invalid(key, "the command name is empty")
	case !strings.ContainsFunc(name, invalid):
		// A command name.
	case !strings.ContainsFunc(lower, invalid):
		v.invalid(key, "command names are lower-case: "+lower)
	default:
		v.invalid(key, fmt.Sprintf("not a command name: %q; write the name as help lists it, without the prefix "+
			"(lower-case letters, digits, - and _)", name))
	}
}
