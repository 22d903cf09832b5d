package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
)

// Images in a local registry: !updates says a container is up to date, notices when a
// new image is pushed under the same tag, and the scheduled check tells the admin room
// about it once, not again after a restart.
func TestUpdatesNoticeANewDigest(t *testing.T) {
	ctx := t.Context()
	api, err := testbed.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	repo := newImageRepo(t, api, "app:1")
	ref := repo.Ref
	repo.push("1.0")
	name := fmt.Sprintf("steward-e2e-updated-%d", time.Now().UnixNano())
	if _, err = testbed.RunContainerFrom(ctx, api, ref, name, nil, t.Cleanup); err != nil {
		t.Fatal(err)
	}

	row := func() string {
		t.Helper()
		for line := range strings.SplitSeq(command(t, w.Alice, w.AdminRoom, "!updates").Content.AsMessage().Body, "\n") {
			if strings.Contains(line, name) {
				return line
			}
		}
		t.Fatalf("!updates does not list %s", name)
		return ""
	}
	if got := row(); !strings.Contains(got, "up to date") {
		t.Errorf("before a new push, !updates says: %s", got)
	}

	// A new version under the same tag.
	repo.push("1.1")
	if got := row(); !strings.Contains(got, "update available") {
		t.Errorf("after a new push, !updates says: %s", got)
	}
	// !containers knows it from that check.
	listed := command(t, w.Alice, w.AdminRoom, "!containers").Content.AsMessage().Body
	for line := range strings.SplitSeq(listed, "\n") {
		if strings.Contains(line, name) && !strings.HasSuffix(strings.TrimSpace(line), "available") {
			t.Errorf("!containers does not show the known update: %s", line)
		}
	}

	// The scheduled check, run at start, tells the room once.
	withConfig(t, func(c *testbed.StewardConfig) {
		for i, line := range c.TopLevel {
			if strings.HasPrefix(line, "docker:") {
				c.TopLevel[i] = "docker: {update_check: 24h}"
			}
		}
	})
	const told = "Newer images are available under the same tags"
	before := w.Alice.CountBodies(w.AdminRoom, w.StewardID, told)
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	notice, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, told, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice.Content.AsMessage().Body, name) {
		t.Errorf("the notice does not name %s:\n%s", name, notice.Content.AsMessage().Body)
	}
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping")
	if n := w.Alice.CountBodies(w.AdminRoom, w.StewardID, told); n != before+1 {
		t.Errorf("the new image was told %d times, want once", n-before)
	}
}
