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

// A container with a health check: when the check starts failing, the alert says the
// container is unhealthy, and it resolves when the check passes again. Then !update
// waits for the new container's health check: a healthy version is kept, a version
// whose check fails is rolled back.
func TestHealthCheckedContainer(t *testing.T) {
	ctx := t.Context()
	api, err := testbed.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	repo := newImageRepo(t, api, "checked:stable")
	ref, push := repo.Ref, repo.push
	push("1.0")
	name := fmt.Sprintf("steward-e2e-checked-%d", time.Now().UnixNano())
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{Image: ref, Labels: testbed.Labelled(nil), Healthcheck: &container.HealthConfig{
			Test: []string{"CMD", "/sleeper", "health"}, Interval: time.Second, Timeout: 2 * time.Second, Retries: 2,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// t.Context() is cancelled before cleanups run: removing with it would fail and
	// leave the container running.
	t.Cleanup(func() {
		bg := context.WithoutCancel(ctx)
		_, _ = api.ContainerRemove(bg, name, client.ContainerRemoveOptions{Force: true})
		_, _ = api.ContainerRemove(bg, name+"-steward-previous", client.ContainerRemoveOptions{Force: true})
	})
	if _, err = api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	withConfig(t, func(c *testbed.StewardConfig) {
		c.Monitor = "{interval: 1s, group_wait: 0s, disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}}"
		for i, line := range c.TopLevel {
			if strings.HasPrefix(line, "docker:") {
				c.TopLevel[i] = "docker: {update_check: 0s}"
			}
		}
	})
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping")

	// Unhealthy, then healthy again.
	if err = testbed.WriteFile(ctx, api, created.ID, "version", "1.0 sick\n"); err != nil {
		t.Fatal(err)
	}
	alert, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "Critical: Container "+name+" is unhealthy", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := alert.Content.AsMessage().Body; !strings.Contains(b, "unhealthy: the service does not answer as it should") {
		t.Errorf("the alert does not quote the health check:\n%s", b)
	}
	if err = testbed.WriteFile(ctx, api, created.ID, "version", "1.0\n"); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "✅ Resolved: Container "+name+" is unhealthy", time.Minute); err != nil {
		t.Fatal(err)
	}

	// Updates wait for the health check.
	update := func(outcome string) {
		t.Helper()
		request := command(t, w.Alice, w.AdminRoom, "!update "+name)
		m := requestIDPattern.FindStringSubmatch(request.Content.AsMessage().Body)
		if m == nil {
			t.Fatalf("!update did not ask for approval: %s", request.Content.AsMessage().Body)
		}
		command(t, w.Bob, w.AdminRoom, "!approve "+m[1])
		if err := w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, outcome, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	v2 := push("2.0")
	update("✅ Updated `" + name + "`")
	info, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Container.Image != v2 || info.Container.State.Health == nil || info.Container.State.Health.Status != container.Healthy {
		t.Errorf("after the update %s runs %s, health %+v; want %s, healthy", name, info.Container.Image, info.Container.State.Health, v2)
	}
	push("3.0 sick")
	update("↩️ Rolled back `" + name + "`: the new container is unhealthy")
	if info, err = api.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err != nil || info.Container.Image != v2 {
		t.Errorf("after the rollback %s runs %s, want the previous %s", name, info.Container.Image, v2)
	}
}
