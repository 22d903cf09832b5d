package policy_test

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/steward-bot/steward/policy"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in         string
		want       policy.Policy
		approvals  int
		selfCounts bool
		err        string
	}{
		{in: "none", want: policy.Policy{Kind: policy.None}},
		{in: "confirm", want: policy.Policy{Kind: policy.Confirm}, approvals: 1, selfCounts: true},
		{in: "second_admin", want: policy.Policy{Kind: policy.SecondAdmin}, approvals: 1},
		{in: "quorum:1", want: policy.Policy{Kind: policy.Quorum, N: 1}, approvals: 1},
		{in: "quorum:3", want: policy.Policy{Kind: policy.Quorum, N: 3}, approvals: 3},
		{in: "quorum:0", err: "out of range"},
		{in: "quorum:21", err: "out of range"},
		{in: "Second_Admin", err: `did you mean "second_admin"`},
		{in: "always", err: "not a policy"},
		{in: "", err: "no policy given"},
	}
	for _, tt := range tests {
		got, err := policy.Parse(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePolicy(%q) = %v, %v; want an error saying %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePolicy(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if approvals, selfCounts := got.Needs(); approvals != tt.approvals || selfCounts != tt.selfCounts {
			t.Errorf("%s needs %d approvals (requester counts: %v), want %d (%v)", tt.in, approvals, selfCounts, tt.approvals, tt.selfCounts)
		}
		if got.String() != tt.in {
			t.Errorf("%q reads back as %q", tt.in, got.String())
		}
	}
}

// TestParsePolicyMessages: a refused policy says what is wrong in words its writer
// can act on, and suggests the policy meant when only case, spaces or dashes are off.
func TestParsePolicyMessages(t *testing.T) {
	cases := []struct{ in, err string }{
		{"quorum:20", ""},
		{"quorum:21", "quorum:21 is out of range: N must be from 1 to 20"},
		{"quorum:0", "quorum:0 is out of range"},
		{"quorum:-2", `not a policy: "quorum:-2"; use none, confirm, second_admin or quorum:N with N from 1 to 20`},
		{"quorum:+2", `not a policy: "quorum:+2"`},
		{"quorum:two", `not a policy: "quorum:two"`},
		{"quorum:", `not a policy: "quorum:"`},
		{"quorum", `not a policy: "quorum"`},
		{"quorum: 2", `not a policy: "quorum: 2" (did you mean "quorum:2"?)`},
		{"Quorum:2", `(did you mean "quorum:2"?)`},
		{"CONFIRM", `not a policy: "CONFIRM" (did you mean "confirm"?)`},
		{" none", `(did you mean "none"?)`},
		{"second admin", `(did you mean "second_admin"?)`},
		{"Second-Admin", `(did you mean "second_admin"?)`},
		{"always", `not a policy: "always"; use none, confirm`},
		{"", "no policy given; use none, confirm, second_admin or quorum:N"},
	}
	for _, c := range cases {
		got, err := policy.Parse(c.in)
		switch {
		case c.err == "" && (err != nil || got != policy.Policy{Kind: policy.Quorum, N: policy.MaxQuorum}):
			t.Errorf("ParsePolicy(%q) = %+v, %v; want quorum:%d", c.in, got, err, policy.MaxQuorum)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParsePolicy(%q) = %+v, %v; want an error containing %q", c.in, got, err, c.err)
		case c.err != "" && got != policy.Policy{}:
			t.Errorf("ParsePolicy(%q) = %+v with an error; want the zero Policy", c.in, got)
		}
	}
}

// TestPolicyStrictness: config may only tighten a command, so the order that decides
// "looser" must put second_admin and quorum:1 level, and confirm between none and them.
func TestPolicyStrictness(t *testing.T) {
	order := []string{"none", "confirm", "second_admin", "quorum:2", "quorum:3"}
	for i, a := range order {
		for j, b := range order {
			pa, _ := policy.Parse(a)
			pb, _ := policy.Parse(b)
			if got, want := pa.LooserThan(pb), i < j; got != want {
				t.Errorf("%s looser than %s = %v, want %v", a, b, got, want)
			}
		}
	}
	one, _ := policy.Parse("quorum:1")
	second := policy.Policy{Kind: policy.SecondAdmin}
	if one.LooserThan(second) || second.LooserThan(one) {
		t.Errorf("quorum:1 and second_admin are not equally strict")
	}
}

func TestDeclared(t *testing.T) {
	tests := []struct {
		declared    policy.Policy
		destructive bool
		want        string
	}{
		{declared: policy.Policy{}, destructive: false, want: "none"},
		{declared: policy.Policy{}, destructive: true, want: "second_admin"},
		{declared: policy.Policy{Kind: policy.None}, destructive: true, want: "none"},
		{declared: policy.Policy{Kind: policy.Confirm}, want: "confirm"},
		{declared: policy.Policy{Kind: policy.Quorum, N: 2}, destructive: true, want: "quorum:2"},
	}
	for _, tt := range tests {
		if got := policy.Declared(tt.declared, tt.destructive).String(); got != tt.want {
			t.Errorf("Declared(%+v, %v) = %s, want %s", tt.declared, tt.destructive, got, tt.want)
		}
	}
}

// TestPolicyYAML: a policy is a YAML value of its own, read with ParsePolicy's grammar
// and its messages.
func TestPolicyYAML(t *testing.T) {
	var doc struct {
		Commands map[string]policy.Policy `yaml:"commands"`
	}
	if err := yaml.Unmarshal([]byte("commands:\n  restart: quorum:2\n  announce: confirm\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Commands["restart"]; got != (policy.Policy{Kind: policy.Quorum, N: 2}) {
		t.Errorf("restart: %+v, want quorum:2", got)
	}
	if got := doc.Commands["announce"]; got != (policy.Policy{Kind: policy.Confirm}) {
		t.Errorf("announce: %+v, want confirm", got)
	}
	err := yaml.Unmarshal([]byte("commands:\n  restart: Second_Admin\n"), &doc)
	if err == nil || !strings.Contains(err.Error(), `did you mean "second_admin"`) {
		t.Errorf("error %v, want one suggesting second_admin", err)
	}
	out, err := yaml.Marshal(map[string]policy.Policy{"restart": {Kind: policy.Quorum, N: 3}})
	if err != nil || strings.TrimSpace(string(out)) != "restart: quorum:3" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
}
