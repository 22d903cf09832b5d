package commands

import (
	"fmt"
	"slices"
	"strings"

	"github.com/steward-bot/steward/config"
)

// PolicyKind is how much agreement a command needs before it runs.
type PolicyKind int

// The policy kinds, from the loosest to the strictest. PolicyDefault is the zero value
// of a declaration that does not choose: read-only commands get PolicyNone, destructive
// ones PolicySecondAdmin.
const (
	PolicyDefault PolicyKind = iota
	PolicyNone
	PolicyConfirm
	PolicySecondAdmin
	PolicyQuorum
)

// Policy is a command's approval policy.
type Policy struct {
	Kind PolicyKind
	// N is how many admins other than the requester must approve, for PolicyQuorum.
	N int
}

// ParsePolicy reads a policy as written in config: none, confirm, second_admin or
// quorum:N.
func ParsePolicy(s string) (Policy, error) {
	kind, n, err := config.ParsePolicy(s)
	if err != nil {
		return Policy{}, err
	}
	switch kind {
	case config.PolicyNone:
		return Policy{Kind: PolicyNone}, nil
	case config.PolicyConfirm:
		return Policy{Kind: PolicyConfirm}, nil
	case config.PolicySecondAdmin:
		return Policy{Kind: PolicySecondAdmin}, nil
	default:
		return Policy{Kind: PolicyQuorum, N: n}, nil
	}
}

func (p Policy) String() string {
	switch p.Kind {
	case PolicyConfirm:
		return "confirm"
	case PolicySecondAdmin:
		return "second_admin"
	case PolicyQuorum:
		return fmt.Sprintf("quorum:%d", p.N)
	default:
		return "none"
	}
}

// Needs returns how many approvals the policy takes and whether the requester's own
// approval is one of them.
func (p Policy) Needs() (approvals int, selfCounts bool) {
	switch p.Kind {
	case PolicyConfirm:
		return 1, true
	case PolicySecondAdmin:
		return 1, false
	case PolicyQuorum:
		return p.N, false
	default:
		return 0, false
	}
}

// strictness orders policies: second_admin is quorum:1.
func (p Policy) strictness() int {
	approvals, selfCounts := p.Needs()
	if selfCounts {
		return 1
	}
	if approvals == 0 {
		return 0
	}
	return approvals + 1
}

// declaredPolicy is cmd's own policy, with the default filled in.
func declaredPolicy(cmd *Command) Policy {
	switch {
	case cmd.Policy.Kind != PolicyDefault:
		return cmd.Policy
	case cmd.Destructive:
		return Policy{Kind: PolicySecondAdmin}
	default:
		return Policy{Kind: PolicyNone}
	}
}

// PolicyOf returns the policy cmd runs under: its declared one, or a stricter one from
// config.
func (r *Registry) PolicyOf(cmd *Command) Policy {
	if p, ok := r.policies[cmd.Name]; ok {
		return p
	}
	return declaredPolicy(cmd)
}

// Tighten applies the policies configured under policy.commands. Config can only make a
// command stricter: a looser policy, or a name that is no command, is an error that
// names the key, so a typo never leaves a command less guarded than its owner thinks.
// Nothing is applied unless everything is right.
func (r *Registry) Tighten(configured map[string]string) error {
	var problems []string
	set := make(map[string]Policy, len(configured))
	names := make([]string, 0, len(configured))
	for name := range configured {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		key := "policy.commands." + name
		cmd := r.Lookup(name)
		if cmd == nil {
			problems = append(problems, fmt.Sprintf("%s: there is no command %q", key, name))
			continue
		}
		if cmd.Name != name {
			problems = append(problems, fmt.Sprintf("%s: %q is another name for %q; write that instead", key, name, cmd.Name))
			continue
		}
		p, err := ParsePolicy(configured[name])
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		if declared := declaredPolicy(cmd); p.strictness() < declared.strictness() {
			problems = append(problems, fmt.Sprintf("%s: %s is looser than the built-in policy %s; config can only make a command stricter", key, p, declared))
			continue
		}
		set[name] = p
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	for name, p := range set {
		r.policies[name] = p
	}
	return nil
}
