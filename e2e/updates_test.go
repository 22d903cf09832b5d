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
// about it once, not again in a check after a restart.
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

	// A second image, up to date for now, so that a check after the restart shows
	// that it ran: it tells about this one when it gets a new version.
	other := repoIn(t, api, strings.TrimSuffix(ref, "/steward-test/app:1"), "other:1")
	other.push("1.0")
	otherName := fmt.Sprintf("steward-e2e-other-%d", time.Now().UnixNano())
	if _, err = testbed.RunContainerFrom(ctx, api, other.Ref, otherName, nil, t.Cleanup); err != nil {
		t.Fatal(err)
	}

	// The scheduled check, run at start and then every minute, tells the room once.
	withConfig(t, func(c *testbed.StewardConfig) {
		for i, line := range c.TopLevel {
			if strings.HasPrefix(line, "docker:") {
				c.TopLevel[i] = "docker: {update_check: 1m}"
			}
		}
	})
	const told = "Newer images are available under the same tags"
	before := w.Alice.CountBodies(w.AdminRoom, w.StewardID, told)
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	notice, err := w.Alice.WaitForNew(ctx, w.AdminRoom, w.StewardID, told, before, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if body := notice.Content.AsMessage().Body; !strings.Contains(body, name) || strings.Contains(body, otherName) {
		t.Errorf("the notice does not name %s alone:\n%s", name, body)
	}
	// After a restart the next check, a minute after the first, finds the second
	// image's new version: it tells about that one, and not again about the first.
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	other.push("1.1")
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForCount(ctx, w.AdminRoom, w.StewardID, told, before+2, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	n, after := 0, false
	for _, evt := range w.Alice.Messages(w.AdminRoom) {
		content := evt.Content.AsMessage()
		if evt.Sender != w.StewardID || !strings.Contains(content.Body, told) || content.RelatesTo.GetReplaceID() != "" {
			continue
		}
		if strings.Contains(content.Body, name) {
			n++
		}
		if after && !strings.Contains(content.Body, otherName) {
			t.Errorf("the check after the restart does not name %s:\n%s", otherName, content.Body)
		}
		after = after || evt.ID == notice.ID
	}
	if n != 1 {
		t.Errorf("the new image was told %d times, want once", n)
	}
}
