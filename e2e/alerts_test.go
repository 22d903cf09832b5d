package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/steward-bot/steward/e2e/testbed"
	"github.com/steward-bot/steward/state"
)

// fastMonitor is a monitor section that checks every second and alerts at once, with
// host and container checks off, plus extra settings.
func fastMonitor(extra string) string {
	if !strings.Contains(extra, "containers:") {
		extra += ", containers: {enabled: false}"
	}
	return "{interval: 1s, for: 1s, group_wait: 1s, cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}, " + extra + "}"
}

// A real disk threshold, set below the test machine's use, fires; Bob takes the alert
// with 👀 and the message says so; a reload with a bad config is refused and changes
// nothing; a reload (SIGHUP) with the threshold raised resolves it.
func TestDiskAlertLifecycle(t *testing.T) {
	ctx := t.Context()
	withConfig(t, func(c *testbed.StewardConfig) {
		c.Monitor = fastMonitor("disks: [{path: /, warning: 1, critical: 100, forecast: 0s}]")
	})
	// Other tests fire disk alerts too: only those from now on count.
	const fired, resolved = "Warning: Disk / is", "✅ Resolved: Disk / is"
	firedBefore := w.Alice.CountBodies(w.AdminRoom, w.StewardID, fired)
	resolvedBefore := w.Alice.CountBodies(w.AdminRoom, w.StewardID, resolved)
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	alert, err := w.Alice.WaitForNew(ctx, w.AdminRoom, w.StewardID, fired, firedBefore, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	body := alert.Content.AsMessage().Body
	if !strings.Contains(body, "(warning at 1%, critical at 100%)") || !strings.Contains(body, "React 👀") {
		t.Errorf("the alert does not show its value and how to take it:\n%s", body)
	}

	reaction, err := w.Bob.React(ctx, w.AdminRoom, alert.ID, "👀")
	if err != nil {
		t.Fatal(err)
	}
	if outcome, err := w.WaitInboxDone(ctx, reaction, time.Minute); err != nil || outcome != state.OutcomeOK {
		t.Fatalf("Bob's 👀 was handled as %q, %v", outcome, err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "👀 "+w.Bob.UserID.String()+" is on it", time.Minute); err != nil {
		t.Error(err)
	}
	listed := command(t, w.Alice, w.AdminRoom, "!alerts")
	if b := listed.Content.AsMessage().Body; !strings.Contains(b, "Disk / is") || !strings.Contains(b, w.Bob.UserID.String()) {
		t.Errorf("!alerts does not list the alert taken by Bob:\n%s", b)
	}

	// A broken config is refused, and the alert stays.
	w.Config.Monitor = fastMonitor("disks: [{path: /, warning: 200, critical: 100}]")
	if _, err = w.Config.Write(w.Dir); err != nil {
		t.Fatal(err)
	}
	refused := command(t, w.Alice, w.AdminRoom, "!reload")
	if b := refused.Content.AsMessage().Body; !strings.Contains(b, "kept the running config") || !strings.Contains(b, "monitor.disks[0].warning") {
		t.Errorf("!reload of a bad config was answered:\n%s", b)
	}

	// Raised above the disk's use, the threshold no longer holds: resolved.
	w.Config.Monitor = fastMonitor("disks: [{path: /, warning: 99.5, critical: 100}]")
	if _, err = w.Config.Write(w.Dir); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Reload(); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Reloaded the config. The monitor settings are applied", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.WaitForNew(ctx, w.AdminRoom, w.StewardID, resolved, resolvedBefore, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := w.Alice.CountBodies(w.AdminRoom, w.StewardID, fired) - firedBefore; n != 1 {
		t.Errorf("the disk alert was posted %d times, want once (edits aside)", n)
	}
}

// An HTTP check against a local server: when it starts failing, a critical alert
// fires and, the service being public, the members are told; when it answers again,
// the alert is resolved and the members hear it is back.
func TestHTTPAlert(t *testing.T) {
	ctx := t.Context()
	var failing atomic.Bool
	server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			http.Error(rw, "database is gone", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(rw, "ok")
	}))
	defer server.Close()
	withConfig(t, func(c *testbed.StewardConfig) {
		c.Monitor = fastMonitor(fmt.Sprintf("disks: [], announce_after: 0s, http: [{name: wiki, url: %q, interval: 1s, timeout: 1s, public: true, hint: restart the wiki}]", server.URL))
	})
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping")
	failing.Store(true)
	alert, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "Critical: wiki answers 500", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := alert.Content.AsMessage().Body; !strings.Contains(b, "Hint: restart the wiki") {
		t.Errorf("the alert does not carry its hint:\n%s", b)
	}
	// The wiki is for everyone: the members hear of it, in plain words.
	notice, err := w.Carol.WaitForMessage(ctx, w.GroupRoom, w.StewardID, "wiki is not working properly", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := notice.Content.AsMessage().Body; strings.Contains(b, "500") || strings.Contains(b, "restart") {
		t.Errorf("the members' notice has technical details or admin hints:\n%s", b)
	}
	failing.Store(false)
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "✅ Resolved: wiki answers 500", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err = w.Carol.WaitForBody(ctx, w.GroupRoom, w.StewardID, "wiki is working again", time.Minute); err != nil {
		t.Error(err)
	}
}

// A real container started for the test is killed: the alert fires (the engine's event
// starts a round at once); started again, it resolves.
func TestContainerAlert(t *testing.T) {
	ctx := t.Context()
	api, err := testbed.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	name := fmt.Sprintf("steward-e2e-web-%d", time.Now().UnixNano())
	containerID, err := testbed.RunContainer(ctx, api, name, nil, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	withConfig(t, func(c *testbed.StewardConfig) {
		// A long interval: only the engine's events can make the alert quick.
		c.Monitor = "{interval: 1h, group_wait: 0s, disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}}"
	})
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping")

	if _, err = api.ContainerKill(ctx, containerID, client.ContainerKillOptions{}); err != nil {
		t.Fatal(err)
	}
	alert, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "Critical: Container "+name+" is down", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := alert.Content.AsMessage().Body; !strings.Contains(b, "killed (exit code 137)") {
		t.Errorf("the alert does not say the container was killed:\n%s", b)
	}
	if _, err = api.ContainerStart(ctx, containerID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "✅ Resolved: Container "+name+" is down", time.Minute); err != nil {
		t.Fatal(err)
	}
}
