package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// The kinds of approval policy ParsePolicy returns, from least to most strict.
const (
	PolicyNone        = "none"         // runs at once
	PolicyConfirm     = "confirm"      // any admin confirms, the requester included
	PolicySecondAdmin = "second_admin" // one admin other than the requester approves
	PolicyQuorum      = "quorum"       // N admins other than the requester approve
)

// MaxQuorum is the largest N in "quorum:N"; no group of friends has more
// admins than that, so a larger N is a typo.
const MaxQuorum = 20

// Policy lets the admins ask for more approval than the built-in policy of a
// command requires, and sets how long approval requests stay open. It can
// only make a command stricter than its built-in policy, never looser.
type Policy struct {
	// Commands tightens the approval policy of single commands, by command
	// name (without the prefix): none, confirm, second_admin or quorum:N, as
	// read by ParsePolicy.
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

// ParsePolicy reads an approval policy as written in policy.commands: none,
// confirm, second_admin or quorum:N with N from 1 to MaxQuorum. It returns
// the kind (PolicyNone, PolicyConfirm, PolicySecondAdmin or PolicyQuorum)
// and, for a quorum, N; n is 0 for the other kinds. Its errors are plain
// enough to show to the person who wrote s.
func ParsePolicy(s string) (kind string, n int, err error) {
	kind, n, ok := parsePolicy(s)
	switch {
	case ok:
		return kind, n, nil
	case s == "":
		return "", 0, fmt.Errorf("no policy given; use %s", policyForms)
	}
	if rest, isQuorum := strings.CutPrefix(s, PolicyQuorum+":"); isQuorum && rest != "" &&
		strings.Trim(rest, "0123456789") == "" {
		return "", 0, fmt.Errorf("%s is out of range: N must be from 1 to %d", s, MaxQuorum)
	}
	// Case, spaces and dashes are forgiven in the suggestion only: the file
	// should say exactly what is meant.
	for _, space := range []rune{-1, '_'} { // "quorum: 2", "second admin"
		loose := strings.Map(func(r rune) rune {
			switch {
			case unicode.IsSpace(r):
				return space
			case r == '-':
				return '_'
			}
			return unicode.ToLower(r)
		}, strings.TrimSpace(s))
		if kind, n, ok := parsePolicy(loose); ok {
			return "", 0, fmt.Errorf("not a policy: %q (did you mean %q?)", s, formatPolicy(kind, n))
		}
	}
	return "", 0, fmt.Errorf("not a policy: %q; use %s", s, policyForms)
}

// policyForms lists the policies ParsePolicy accepts, for its messages; its
// 20 is MaxQuorum.
const policyForms = "none, confirm, second_admin or quorum:N with N from 1 to 20"

// parsePolicy is ParsePolicy without the explanations.
func parsePolicy(s string) (kind string, n int, ok bool) {
	switch s {
	case PolicyNone, PolicyConfirm, PolicySecondAdmin:
		return s, 0, true
	}
	rest, ok := strings.CutPrefix(s, PolicyQuorum+":")
	if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > MaxQuorum {
		return "", 0, false
	}
	return PolicyQuorum, n, true
}

// formatPolicy writes a policy the way ParsePolicy reads it.
func formatPolicy(kind string, n int) string {
	if kind == PolicyQuorum {
		return fmt.Sprintf("%s:%d", kind, n)
	}
	return kind
}

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

		kind, n, err := ParsePolicy(p.Commands[name])
		switch {
		case err != nil && p.Commands[name] == "":
			v.invalid(key, fmt.Sprintf("needs a policy (%s); leave the command out to keep its built-in policy", policyForms))
		case err != nil:
			v.invalid(key, err.Error())
		case others < 0 || fallback:
			// No admins is reported at matrix.admins; a single admin
			// was allowed to confirm alone.
		case kind == PolicySecondAdmin && others == 0:
			v.invalid(key, "second_admin needs an admin besides the one asking, but matrix.admins lists only one; "+
				"add one, or set policy.allow_single_admin: true to let a single admin confirm alone")
		case kind == PolicyQuorum && n > others:
			have := fmt.Sprintf("only %d other admins are", others)
			switch others {
			case 0:
				have = "no other admin is"
			case 1:
				have = "only 1 other admin is"
			}
			msg := fmt.Sprintf("%s needs %d admins besides the one asking, but %s configured in matrix.admins", p.Commands[name], n, have)
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
