package bot

import (
	"os/exec"
	"strings"
	"testing"
)

// featurePackages are what the transport must not depend on, even through another
// package: features reach it through the interfaces they declare, wired in
// cmd/steward.
var featurePackages = []string{"commands", "approval", "monitor", "dockerctl", "backup", "tickets"}

func TestBotImportsNoFeature(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "goolm", "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const module = "github.com/steward-bot/steward/"
	for dep := range strings.FieldsSeq(string(out)) {
		for _, feature := range featurePackages {
			if dep == module+feature || strings.HasPrefix(dep, module+feature+"/") {
				t.Errorf("bot depends on %s: the Matrix transport must not know the features", dep)
			}
		}
	}
}
