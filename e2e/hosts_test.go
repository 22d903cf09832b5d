package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/steward-bot/steward/e2e/testbed"
)

// Several Docker hosts: the machine's engine reached three ways, as three hosts, each
// seeing only the containers labelled for it (docker.hosts.*.only_label): over its
// socket, over TCP with mutual TLS, and over ssh. Steward lists them as HOST/NAME,
// shows logs through ssh, alerts for a container killed behind TLS, and one approved
// !update all updates the three (and no container it does not manage) in the
// background, so the admin room's other commands answer meanwhile.
func TestSeveralHosts(t *testing.T) {
	ctx := t.Context()
	api, err := testbed.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	tlsEngine, err := testbed.StartTLSEngine(filepath.Join(w.Dir, "tls-engine"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tlsEngine.Stop)
	sshEngine, err := testbed.StartSSHEngine(ctx, filepath.Join(w.Dir, "ssh-engine"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sshEngine.Stop)

	repo := newImageRepo(t, api, "app:stable")
	v1 := repo.push("1.0")
	run := fmt.Sprintf("hosts-%d", time.Now().UnixNano())
	hosts := []string{"local", "secure", "remote"}
	names := map[string]string{} // host -> container name
	for _, host := range hosts {
		names[host] = fmt.Sprintf("steward-e2e-%s-%s", host, run)
		if _, err = testbed.RunContainerFrom(ctx, api, repo.Ref, names[host], map[string]string{"steward.e2e": run + "-" + host}, t.Cleanup); err != nil {
			t.Fatal(err)
		}
	}
	// On the same engine, but no host's label: Steward must not see or touch it.
	outsider := "steward-e2e-outsider-" + run
	if _, err = testbed.RunContainerFrom(ctx, api, repo.Ref, outsider, nil, t.Cleanup); err != nil {
		t.Fatal(err)
	}
	withConfig(t, func(c *testbed.StewardConfig) {
		for i, line := range c.TopLevel {
			if strings.HasPrefix(line, "docker:") {
				c.TopLevel[i] = fmt.Sprintf(`docker:
  update_check: 0s
  settle: 2s
  hosts:
    local: {address: "unix://%s", only_label: "steward.e2e=%s-local"}
    secure:
      address: %q
      tls: {ca: %q, cert: %q, key: %q}
      only_label: "steward.e2e=%s-secure"
    remote:
      address: %q
      ssh: {identity: %q, known_hosts: %q}
      only_label: "steward.e2e=%s-remote"`, testbed.DockerSocket, run, tlsEngine.Address, tlsEngine.CA, tlsEngine.Cert, tlsEngine.Key, run,
					sshEngine.Address, sshEngine.Identity, sshEngine.KnownHosts, run)
			}
		}
		c.Monitor = "{interval: 1h, group_wait: 0s, disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}}"
	})
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ref := func(host string) string { return host + "/" + names[host] }

	list := command(t, w.Alice, w.AdminRoom, "!containers").Content.AsMessage().Body
	for _, host := range hosts {
		if !strings.Contains(list, ref(host)) {
			t.Errorf("!containers does not list %s:\n%s", ref(host), list)
		}
	}
	if strings.Contains(list, outsider) {
		t.Errorf("!containers lists a container without any host's label:\n%s", list)
	}
	if one := command(t, w.Alice, w.AdminRoom, "!containers remote").Content.AsMessage().Body; !strings.Contains(one, ref("remote")) || strings.Contains(one, ref("local")) {
		t.Errorf("!containers remote:\n%s", one)
	}
	if logs := command(t, w.Alice, w.AdminRoom, "!logs "+ref("remote")).Content.AsMessage().Body; !strings.Contains(logs, ref("remote")) || strings.Contains(logs, "Something went wrong") {
		t.Errorf("!logs over ssh: %s", logs)
	}
	if reply := command(t, w.Alice, w.AdminRoom, "!logs elsewhere/"+names["local"]).Content.AsMessage().Body; !strings.Contains(reply, `There is no Docker host "elsewhere"; the hosts are local, remote, secure.`) {
		t.Errorf("!logs on an unknown host: %s", reply)
	}
	if tlsEngine.Accepted() == 0 {
		t.Error("nothing reached the TLS engine: the secure host was not asked through it")
	}

	// Killed behind TLS: the alert names the host, and comes from that engine's events.
	if _, err = api.ContainerKill(ctx, names["secure"], client.ContainerKillOptions{}); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Critical: Container "+ref("secure")+" is down", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err = api.ContainerStart(ctx, names["secure"], client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "✅ Resolved: Container "+ref("secure")+" is down", time.Minute); err != nil {
		t.Fatal(err)
	}

	// A new version for all of them: one approval updates the three managed
	// containers, one after another, and not the outsider.
	v2 := repo.push("2.0")
	request := command(t, w.Alice, w.AdminRoom, "!update all")
	body := request.Content.AsMessage().Body
	m := requestIDPattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("!update all did not ask for approval: %s", body)
	}
	for _, host := range hosts {
		if !strings.Contains(body, ref(host)) {
			t.Errorf("the request does not list %s:\n%s", ref(host), body)
		}
	}
	if strings.Contains(body, outsider) {
		t.Errorf("the request lists a container Steward does not manage:\n%s", body)
	}
	command(t, w.Bob, w.AdminRoom, "!approve "+m[1])
	// Asked while the updates run: answered before the last of them is done.
	ping := command(t, w.Bob, w.AdminRoom, "!ping")
	for _, host := range hosts {
		if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "✅ Updated `"+ref(host)+"`", 3*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	lastDone := time.Time{}
	for _, evt := range w.Alice.Messages(w.AdminRoom) {
		if evt.Sender == w.StewardID && strings.Contains(evt.Content.AsMessage().Body, "✅ Updated `") {
			if at := time.UnixMilli(evt.Timestamp); at.After(lastDone) {
				lastDone = at
			}
		}
	}
	if pinged := time.UnixMilli(ping.Timestamp); !pinged.Before(lastDone) {
		t.Errorf("!ping was answered at %s, after the updates ended at %s: the update held the room's queue", pinged, lastDone)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "Done: "+m[1], time.Minute); err != nil {
		t.Error(err)
	}
	for _, host := range hosts {
		info, err := api.ContainerInspect(ctx, names[host], client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Container.Image != v2 || !info.Container.State.Running || info.Container.Config.Labels["steward.e2e"] != run+"-"+host {
			t.Errorf("%s after the update: image %s (want %s), running %v, labels %v", ref(host), info.Container.Image, v2, info.Container.State.Running, info.Container.Config.Labels)
		}
	}
	if info, err := api.ContainerInspect(ctx, outsider, client.ContainerInspectOptions{}); err != nil || info.Container.Image != v1 {
		t.Errorf("the outsider was touched: %v, %v", info.Container.Image, err)
	}
}
