package bot

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// transportDeps are the only packages of Steward's the transport may depend on, even
// through another package: storage, message rendering and the config (with the value
// types it decodes). Features and the runner reach it through the interfaces it
// declares (Handler, Work), wired in cmd/steward, so a new feature never needs bot/.
var transportDeps = []string{"config", "policy", "redact", "render", "state", "state/upgrades"}

func TestBotImportsNoFeature(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "goolm", "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const module = "github.com/steward-bot/steward/"
	for dep := range strings.FieldsSeq(string(out)) {
		pkg, ours := strings.CutPrefix(dep, module)
		if ours && pkg != "bot" && !slices.Contains(transportDeps, pkg) {
			t.Errorf("bot depends on %s: the Matrix transport must know no feature and no runner", dep)
		}
	}
}
