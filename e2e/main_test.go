// Package e2e drives the real steward binary against a real Dendrite homeserver with
// separate client devices, as the people in a group would.
package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
)

// w is the shared test bed: one homeserver, four people, two rooms, one Steward. Tests
// run one after another, in any order (the suite passes with -shuffle on), and leave it
// as they found it; a test that can't (TestResetCrossSigning) gets a Steward of its own
// (World.NewSteward).
var w *testbed.World

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	dir, err := os.MkdirTemp("", "steward-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	w, err = testbed.NewWorld(ctx, dir, func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup failed:", err)
	} else {
		code = m.Run()
	}
	w.Close()
	testbed.RemoveStewardBinary()
	if !leftNothing(context.WithoutCancel(ctx)) {
		code = 1
	}
	if code == 0 && os.Getenv("STEWARD_E2E_KEEP") == "" {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "e2e: logs kept in", dir)
	}
	cancel()
	os.Exit(code)
}

// leftNothing is the suite's last step: it removes the shared test image, then looks
// for anything else carrying this run's test label (containers, stopped ones too,
// images, networks, volumes). Each test removes what it made; what is found here is
// a leak, so it is named, removed, and the run fails. Nothing without the label is
// touched: the machine's other containers serve real people.
func leftNothing(ctx context.Context) bool {
	// An error here (the image still used by a leaked container) shows below, as the
	// leftover image and container.
	_ = testbed.RemoveTestImage(ctx)
	found, err := testbed.Leftovers(ctx, testbed.RunID)
	for _, what := range found {
		fmt.Fprintf(os.Stderr, "e2e: left behind by a test: %s (label %s=%s; removed now)\n", what, testbed.TestLabel, testbed.RunID)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: check for leftovers:", err)
		return false
	}
	return len(found) == 0
}

// command sends text from c in room and waits for Steward's reply to it.
func command(t testing.TB, c *testbed.Client, room id.RoomID, text string) *event.Event {
	t.Helper()
	reply, err := w.Command(t.Context(), c, room, text)
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

// withConfig stops Steward and rewrites its config with change applied, leaving it to
// the test to start it again; when the test ends, Steward runs with the original config.
func withConfig(t testing.TB, change func(*testbed.StewardConfig)) {
	t.Helper()
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	saved := w.Config
	// change gets copies of the lists: editing a line in place must not edit saved.
	w.Config.Admins = slices.Clone(saved.Admins)
	w.Config.Extra = slices.Clone(saved.Extra)
	w.Config.TopLevel = slices.Clone(saved.TopLevel)
	t.Cleanup(func() {
		_ = w.Steward.Stop()
		w.Config = saved
		if err := w.StartSteward(context.WithoutCancel(t.Context())); err != nil {
			t.Fatal(err)
		}
	})
	change(&w.Config)
	if _, err := w.Config.Write(w.Dir); err != nil {
		t.Fatal(err)
	}
}
