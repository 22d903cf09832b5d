package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/steward-bot/steward/e2e/testbed"
)

// !update against the real engine and a local registry: an approved update replaces
// the container with the same configuration and the new image; an update to a broken
// image is rolled back by itself; Steward killed in the middle of an update puts the
// previous container back when it starts again; a member can't update anything.
func TestUpdate(t *testing.T) {
	ctx := t.Context()
	api, err := testbed.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	repo := newImageRepo(t, api, "web:stable")
	ref, push := repo.Ref, repo.push
	v1 := push("1.0")
	name := fmt.Sprintf("steward-e2e-web-%d", time.Now().UnixNano())
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{Image: ref, Env: []string{"APP_MODE=production"},
			Labels: testbed.Labelled(map[string]string{"com.example.role": "web"})},
		HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}},
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
		for i, line := range c.TopLevel {
			if strings.HasPrefix(line, "docker:") {
				c.TopLevel[i] = "docker: {update_check: 0s, settle: 2s}"
			}
		}
	})
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	running := func() container.InspectResponse {
		t.Helper()
		info, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return info.Container
	}
	// update asks for the update, has Bob approve it, and waits for the outcome.
	update := func(outcome string) string {
		t.Helper()
		request := command(t, w.Alice, w.AdminRoom, "!update "+name)
		m := requestIDPattern.FindStringSubmatch(request.Content.AsMessage().Body)
		if m == nil {
			t.Fatalf("!update did not ask for approval: %s", request.Content.AsMessage().Body)
		}
		command(t, w.Bob, w.AdminRoom, "!approve "+m[1])
		// The outcome is an edit of the progress message.
		if err := w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, outcome, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		for _, evt := range w.Alice.Messages(w.AdminRoom) {
			if b := evt.Content.AsMessage().Body; evt.Sender == w.StewardID && strings.Contains(b, outcome) {
				return b
			}
		}
		return ""
	}

	// A member can't.
	if reply := command(t, w.Carol, w.GroupRoom, "!update "+name).Content.AsMessage().Body; !strings.Contains(reply, "Only admins") {
		t.Errorf("a member's !update was answered %q", reply)
	}
	if reply := command(t, w.Alice, w.AdminRoom, "!update "+name).Content.AsMessage().Body; !strings.Contains(reply, "already runs the newest") {
		t.Errorf("!update with nothing new was answered %q", reply)
	}

	// A good new version: replaced, same configuration.
	v2 := push("2.0")
	update("✅ Updated `" + name + "`")
	info := running()
	if info.Image != v2 || info.State == nil || !info.State.Running {
		t.Errorf("after the update %s runs image %s (running %v), want %s running", name, info.Image, info.State != nil && info.State.Running, v2)
	}
	if info.Config == nil || !slices.Contains(info.Config.Env, "APP_MODE=production") || info.Config.Labels["com.example.role"] != "web" {
		t.Errorf("the update lost the container's configuration: env %v, labels %v", info.Config.Env, info.Config.Labels)
	}
	if info.HostConfig == nil || info.HostConfig.RestartPolicy.Name != container.RestartPolicyUnlessStopped {
		t.Errorf("the update lost the restart policy")
	}
	if _, err = api.ContainerInspect(ctx, name+"-steward-previous", client.ContainerInspectOptions{}); err == nil {
		t.Error("the previous container was left behind")
	}

	// A broken version: rolled back by itself, with its last words.
	push("broken")
	rolledBack := update("↩️ Rolled back `" + name + "`")
	if !strings.Contains(rolledBack, "fatal: this build is broken") || strings.Contains(rolledBack, "abc123") {
		t.Errorf("the rollback message does not show the new container's last lines, masked:\n%s", rolledBack)
	}
	if info = running(); info.Image != v2 || !info.State.Running {
		t.Errorf("after the rollback %s runs image %s (running %v), want %s running", name, info.Image, info.State.Running, v2)
	}

	// A version pushed while the request waits is not what was approved: nothing
	// changes.
	push("4.0")
	pending := command(t, w.Alice, w.AdminRoom, "!update "+name)
	pm := requestIDPattern.FindStringSubmatch(pending.Content.AsMessage().Body)
	if pm == nil {
		t.Fatalf("!update did not ask for approval: %s", pending.Content.AsMessage().Body)
	}
	push("4.1")
	command(t, w.Bob, w.AdminRoom, "!approve "+pm[1])
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "not to the approved", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if info = running(); info.Image != v2 || !info.State.Running {
		t.Errorf("an update to an unapproved version changed %s: it runs %s, want %s", name, info.Image, v2)
	}

	// Steward killed half-way: the previous container comes back at the next start.
	push("3.0")
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	w.Steward.Env = []string{"STEWARD_CRASH_AT=update-create"}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	request := command(t, w.Alice, w.AdminRoom, "!update "+name)
	m := requestIDPattern.FindStringSubmatch(request.Content.AsMessage().Body)
	if m == nil {
		t.Fatalf("!update did not ask for approval: %s", request.Content.AsMessage().Body)
	}
	if _, err = w.Bob.Say(ctx, w.AdminRoom, "!approve "+m[1]); err != nil {
		t.Fatal(err)
	}
	if !w.Steward.WaitExit(time.Minute) {
		t.Fatal("Steward did not stop at the crash point")
	}
	w.Steward.Env = nil
	if info, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err == nil && info.Container.State.Running {
		t.Fatalf("at the crash point %s should be set aside and stopped, but it runs", name)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Steward stopped while it was updating `"+name+"`", time.Minute); err != nil {
		t.Fatal(err)
	}
	if info = running(); info.Image != v2 || !info.State.Running || strings.TrimPrefix(info.Name, "/") != name {
		t.Errorf("after recovery %s runs image %s (running %v, name %s), want the previous %s running", name, info.Image, info.State.Running, info.Name, v2)
	}
	if v1 == v2 {
		t.Error("the test's two versions are the same image")
	}
}
