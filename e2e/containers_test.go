package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/steward-bot/steward/e2e/testbed"
)

// The container commands against the real engine: !containers lists a container,
// !logs shows its lines with the password masked, !restart needs a second admin and
// then restarts it, and a member can do none of it.
func TestContainerCommands(t *testing.T) {
	ctx := t.Context()
	api, err := testbed.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	name := fmt.Sprintf("steward-e2e-app-%d", time.Now().UnixNano())
	if _, err = testbed.RunContainer(ctx, api, name, nil, t.Cleanup); err != nil {
		t.Fatal(err)
	}

	listed := command(t, w.Alice, w.AdminRoom, "!containers").Content.AsMessage().Body
	if !strings.Contains(listed, name) || !strings.Contains(listed, testbed.TestImage) || !strings.Contains(listed, "running") {
		t.Errorf("!containers does not list %s as running:\n%s", name, listed)
	}

	var logs string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(logs, "ready") {
		logs = command(t, w.Alice, w.AdminRoom, "!logs "+name).Content.AsMessage().Body
	}
	if !strings.Contains(logs, "postgres://app:•••@db") || strings.Contains(logs, "hunter2") || !strings.Contains(logs, "ready") {
		t.Errorf("!logs does not show the lines with the password masked:\n%s", logs)
	}
	if reply := command(t, w.Alice, w.AdminRoom, "!logs no-such-container").Content.AsMessage().Body; !strings.Contains(reply, "There is no container") {
		t.Errorf("!logs of an unknown container was answered %q", reply)
	}
	if reply := command(t, w.Alice, w.AdminRoom, "!logs ../etc").Content.AsMessage().Body; !strings.Contains(reply, "is not a container name") {
		t.Errorf("!logs of a path was answered %q", reply)
	}

	// A member can't touch containers, not even read their logs.
	if reply := command(t, w.Carol, w.GroupRoom, "!restart "+name).Content.AsMessage().Body; !strings.Contains(reply, "Only admins") {
		t.Errorf("a member's !restart was answered %q", reply)
	}

	request := command(t, w.Alice, w.AdminRoom, "!restart "+name)
	m := requestIDPattern.FindStringSubmatch(request.Content.AsMessage().Body)
	if m == nil {
		t.Fatalf("!restart did not ask for approval: %s", request.Content.AsMessage().Body)
	}
	if !strings.Contains(request.Content.AsMessage().Body, "restarts the container "+name) {
		t.Errorf("the request does not say what it will do:\n%s", request.Content.AsMessage().Body)
	}
	command(t, w.Bob, w.AdminRoom, "!approve "+m[1])
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Restarted `"+name+"`", time.Minute); err != nil {
		t.Fatal(err)
	}
	info, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Container.State == nil || !info.Container.State.Running {
		t.Errorf("%s is not running after the restart", name)
	}
}
