// Package policy says how much agreement a command needs before it runs: the stage
// between a command's dispatch and its approval. A Policy is declared with each
// command and may only be tightened in config (policy.commands), so this package is
// the one grammar both read; it depends on nothing else in Steward, so config can
// decode it and the approval engine can count against it.
package policy

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Kind is how much agreement a command needs before it runs.
type Kind int

// The kinds, from the loosest to the strictest. Default is the zero value of a
// declaration that does not choose: read-only commands get None, destructive ones
// SecondAdmin (see Declared).
const (
	Default Kind = iota
	None
	Confirm
	SecondAdmin
	Quorum
)

// Policy is a command's approval policy, as declared with the command or tightened in
// config (policy.commands).
type Policy struct {
	Kind Kind
	// N is how many admins other than the requester must approve, for Quorum.
	N int
}

// MaxQuorum is the largest N in "quorum:N"; no group of friends has more admins than
// that, so a larger N is a typo.
const MaxQuorum = 20

// Forms lists the policies Parse accepts, for messages that tell someone what to
// write.
var Forms = fmt.Sprintf("none, confirm, second_admin or quorum:N with N from 1 to %d", MaxQuorum)

// Parse reads a policy as written in config (policy.commands): none, confirm,
// second_admin or quorum:N with N from 1 to MaxQuorum. Its errors are plain enough to
// show to the person who wrote s, and suggest the policy meant when only case, spaces
// or dashes are off; the file must still say exactly what is meant.
func Parse(s string) (Policy, error) {
	if p, ok := parse(s); ok {
		return p, nil
	}
	if s == "" {
		return Policy{}, fmt.Errorf("no policy given; use %s", Forms)
	}
	if rest, isQuorum := strings.CutPrefix(s, "quorum:"); isQuorum && rest != "" &&
		strings.Trim(rest, "0123456789") == "" {
		return Policy{}, fmt.Errorf("%s is out of range: N must be from 1 to %d", s, MaxQuorum)
	}
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
		if p, ok := parse(loose); ok {
			return Policy{}, fmt.Errorf("not a policy: %q (did you mean %q?)", s, p)
		}
	}
	return Policy{}, fmt.Errorf("not a policy: %q; use %s", s, Forms)
}

// parse is Parse without the explanations.
func parse(s string) (Policy, bool) {
	switch s {
	case "none":
		return Policy{Kind: None}, true
	case "confirm":
		return Policy{Kind: Confirm}, true
	case "second_admin":
		return Policy{Kind: SecondAdmin}, true
	}
	rest, ok := strings.CutPrefix(s, "quorum:")
	if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" {
		return Policy{}, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > MaxQuorum {
		return Policy{}, false
	}
	return Policy{Kind: Quorum, N: n}, true
}

// UnmarshalText lets a policy be a YAML (or any text) value directly, with
// Parse's grammar and messages.
func (p *Policy) UnmarshalText(text []byte) error {
	parsed, err := Parse(string(text))
	if err != nil {
		return err
	}
	*p = parsed
	return nil
}

// MarshalText writes p the way config reads it back.
func (p Policy) MarshalText() ([]byte, error) {
	return []byte(p.String()), nil
}

// String is the policy as config writes it; Default reads as none, which is what a
// command that declares nothing and changes nothing runs under.
func (p Policy) String() string {
	switch p.Kind {
	case Confirm:
		return "confirm"
	case SecondAdmin:
		return "second_admin"
	case Quorum:
		return fmt.Sprintf("quorum:%d", p.N)
	default:
		return "none"
	}
}

// Needs returns how many approvals the policy takes and whether the requester's own
// approval is one of them.
func (p Policy) Needs() (approvals int, selfCounts bool) {
	switch p.Kind {
	case Confirm:
		return 1, true
	case SecondAdmin:
		return 1, false
	case Quorum:
		return p.N, false
	default:
		return 0, false
	}
}

// LooserThan reports whether p guards less than q, so that config, which may only
// tighten a command, can refuse it. second_admin and quorum:1 are equally strict.
func (p Policy) LooserThan(q Policy) bool {
	return p.strictness() < q.strictness()
}

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

// Declared fills in the default of a command's declaration: a command that chooses no
// policy needs none unless it is destructive, and then a second admin's approval.
func Declared(p Policy, destructive bool) Policy {
	switch {
	case p.Kind != Default:
		return p
	case destructive:
		return Policy{Kind: SecondAdmin}
	default:
		return Policy{Kind: None}
	}
}
