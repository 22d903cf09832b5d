package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/steward-bot/steward/e2e/testbed"
)

// The suite's leftover check against the real engine: it finds and removes a stopped
// container carrying the run's label, and leaves alone one labelled for another run
// (as it leaves every container without the label). Each probe gets a run ID of its
// own, so the check of this run's real ID is not disturbed.
func TestLeftoverCheck(t *testing.T) {
	ctx := t.Context()
	api, err := testbed.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	stamp := time.Now().UnixNano()
	probe, other := fmt.Sprintf("probe-%d", stamp), fmt.Sprintf("other-%d", stamp)
	names := map[string]string{probe: "steward-e2e-leak-" + probe, other: "steward-e2e-leak-" + other}
	for run, name := range names {
		// Created, never started: the check must see stopped containers too.
		_, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name: name, Config: &container.Config{Image: testbed.TestImage, Labels: map[string]string{testbed.TestLabel: run}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = api.ContainerRemove(context.WithoutCancel(ctx), name, client.ContainerRemoveOptions{Force: true})
		})
	}
	found, err := testbed.Leftovers(ctx, probe)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || !strings.Contains(found[0], "container "+names[probe]) {
		t.Fatalf("the check found %q, want only the container %s", found, names[probe])
	}
	if _, err = api.ContainerInspect(ctx, names[probe], client.ContainerInspectOptions{}); err == nil {
		t.Errorf("the check did not remove %s", names[probe])
	}
	if _, err = api.ContainerInspect(ctx, names[other], client.ContainerInspectOptions{}); err != nil {
		t.Errorf("the check removed %s, labelled for another run: %v", names[other], err)
	}
	if found, err = testbed.Leftovers(ctx, probe); err != nil || len(found) > 0 {
		t.Errorf("a second check found %q (%v), want nothing", found, err)
	}
}
