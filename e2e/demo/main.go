// Command demo shows Steward doing its job on this machine: it builds and starts a
// Dendrite homeserver on loopback, two co-admins and a member, the rooms, and Steward,
// runs a short scripted conversation and prints it. Then it prints how to log in with
// any Matrix client and keeps everything running until Ctrl-C (or stops at once with
// DEMO_ONCE=1). Run it with `make demo`.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "steward-demo-")
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	say("Setting up in %s", dir)

	w, err := testbed.NewWorld(ctx, dir, say)
	defer w.Close()
	if err != nil {
		return err
	}
	alice, bob, carol := w.Alice, w.Bob, w.Carol
	adminRoom, groupRoom, stewardID := w.AdminRoom, w.GroupRoom, w.StewardID
	say("Dendrite %s is running at %s; Steward (config %s, log %s) has joined both encrypted rooms.\n",
		testbed.DendriteVersion, w.HS.URL, w.Steward.ConfigPath, w.Steward.LogPath)

	script := []struct {
		who   *testbed.Client
		room  id.RoomID
		where string
		text  string
	}{
		{alice, adminRoom, "admin room", "!help"},
		{alice, adminRoom, "admin room", "!ping"},
		{bob, adminRoom, "admin room", "!whoami"},
		{alice, adminRoom, "admin room", "!status"},
		{carol, groupRoom, "group room", "!status"},
		{carol, groupRoom, "group room", "!ping"},
		{bob, adminRoom, "admin room", "!log 5"},
	}
	for _, line := range script {
		if err = demoLine(ctx, w, say, line.who, line.room, line.where, line.text); err != nil {
			return err
		}
	}

	// A command that changes something for everyone waits for a second admin.
	announcement := "The server restarts on Sunday at 03:00 for updates."
	if err = demoLine(ctx, w, say, alice, adminRoom, "admin room", "!announce "+announcement); err != nil {
		return err
	}
	approvalID, err := w.LatestApprovalID(ctx)
	if err != nil {
		return err
	}
	if err = demoLine(ctx, w, say, bob, adminRoom, "admin room", "!approve "+approvalID); err != nil {
		return err
	}
	if err = carol.WaitForBody(ctx, groupRoom, stewardID, announcement, time.Minute); err != nil {
		return err
	}
	say("[group room] %s, as carol sees it:\n%s\n", stewardID, indent("From the admins: "+announcement))
	if err = demoLine(ctx, w, say, bob, adminRoom, "admin room", "!log 6"); err != nil {
		return err
	}
	if err = demoAlert(ctx, w, say); err != nil {
		return err
	}
	if err = demoBackups(ctx, w, dir, say); err != nil {
		return err
	}
	if err = demoMonitoring(ctx, w, dir, say); err != nil {
		return err
	}

	if os.Getenv("DEMO_ONCE") != "" {
		say("DEMO_ONCE is set: stopping.")
		return nil
	}
	say("To keep playing, log in with any Matrix client (Element, Cinny, nheko...):")
	say("  homeserver: %s", w.HS.URL)
	say("  users:      alice and bob (co-admins), carol (member); password %q", testbed.Password)
	say("  rooms:      Admins %s, Friends %s", adminRoom, groupRoom)
	say("  Steward shares its room keys only with verified sessions: when your client asks,")
	say("  verify the new session with the account's recovery key:")
	for _, c := range []*testbed.Client{alice, bob, carol} {
		say("    %s: %s", c.UserID, c.RecoveryKey)
	}
	say("Press Ctrl-C to stop everything.")
	<-ctx.Done()
	say("\nStopping.")
	return nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// demoLine sends text from who and prints it with Steward's answer.
func demoLine(ctx context.Context, w *testbed.World, say func(string, ...any), who *testbed.Client, room id.RoomID, where, text string) error {
	reply, err := w.Command(ctx, who, room, text)
	if err != nil {
		return err
	}
	say("[%s] %s: %s", where, who.UserID, text)
	lock := "encrypted"
	if !reply.Mautrix.WasEncrypted {
		lock = "NOT ENCRYPTED"
	}
	say("[%s] %s (%s):\n%s\n", where, w.StewardID, lock, indent(reply.Content.AsMessage().Body))
	return nil
}

// demoAlert shows an alert's life: Steward watches the containers, a container dies,
// the alert comes, Bob takes it with 👀, the container comes back, the alert resolves.
func demoAlert(ctx context.Context, w *testbed.World, say func(string, ...any)) error {
	api, err := testbed.Docker(ctx)
	if err != nil {
		return err
	}
	defer api.Close()
	name := "demo-wiki"
	var cleanups []func()
	defer func() {
		for _, f := range cleanups {
			f()
		}
		// The test image is this run's own (its tag is the run ID): nothing else uses it.
		_ = testbed.RemoveTestImage(context.WithoutCancel(ctx))
	}()
	_, _ = api.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true}) // left over by an interrupted demo
	containerID, err := testbed.RunContainer(ctx, api, name, map[string]string{"steward.public": "true"}, func(f func()) { cleanups = append(cleanups, f) })
	if err != nil {
		return err
	}
	if err = w.Steward.Stop(); err != nil {
		return err
	}
	w.Config.Monitor = "{group_wait: 2s, announce_after: 0s, disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}, containers: {hint: \"docker logs demo-wiki; docker start demo-wiki\"}}"
	if err = w.StartSteward(ctx); err != nil {
		return err
	}
	say("Steward now watches the containers; the container %s (labelled steward.public=true) is running.", name)
	if _, err = api.ContainerKill(ctx, containerID, client.ContainerKillOptions{}); err != nil {
		return err
	}
	say("$ docker kill %s\n", name)
	alert, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "Container "+name+" is down", time.Minute)
	if err != nil {
		return err
	}
	say("[admin room] %s:\n%s\n", w.StewardID, indent(alert.Content.AsMessage().Body))
	if _, err = w.Bob.React(ctx, w.AdminRoom, alert.ID, "👀"); err != nil {
		return err
	}
	say("[admin room] %s reacts 👀", w.Bob.UserID)
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "is on it", time.Minute); err != nil {
		return err
	}
	say("[admin room] the alert now says: 👀 %s is on it\n", w.Bob.UserID)
	notice, err := w.Carol.WaitForMessage(ctx, w.GroupRoom, w.StewardID, name+" is not working properly", time.Minute)
	if err != nil {
		return err
	}
	say("[group room] %s, as carol sees it:\n%s\n", w.StewardID, indent(notice.Content.AsMessage().Body))
	if _, err = api.ContainerStart(ctx, containerID, client.ContainerStartOptions{}); err != nil {
		return err
	}
	say("$ docker start %s\n", name)
	resolved, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "✅ Resolved: Container "+name, time.Minute)
	if err != nil {
		return err
	}
	say("[admin room] %s:\n%s\n", w.StewardID, indent(resolved.Content.AsMessage().Body))
	back, err := w.Carol.WaitForMessage(ctx, w.GroupRoom, w.StewardID, name+" is working again", time.Minute)
	if err != nil {
		return err
	}
	say("[group room] %s:\n%s\n", w.StewardID, indent(back.Content.AsMessage().Body))
	return nil
}

// demoBackups shows the watch over backups: a restic repository whose newest snapshot
// is two days old alerts, !backup runs the configured backup and the alert resolves,
// !backups shows the set, and a file is restored to the staging folder.
func demoBackups(ctx context.Context, w *testbed.World, dir string, say func(string, ...any)) error {
	data := filepath.Join(dir, "wiki-data")
	if err := os.MkdirAll(filepath.Join(data, "pages"), 0o755); err != nil {
		return err
	}
	for name, text := range map[string]string{"pages/home.md": "# Welcome to our wiki\n", "pages/rules.md": "Be kind.\n"} {
		if err := os.WriteFile(filepath.Join(data, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	repo, err := testbed.NewResticRepo(ctx, filepath.Join(dir, "wiki-backup"))
	if err != nil {
		return err
	}
	if err = repo.BackupAt(ctx, time.Now().Add(-49*time.Hour), data); err != nil {
		return err
	}
	run := repo.BackupCommand(data)
	for i, a := range run {
		run[i] = fmt.Sprintf("%q", a)
	}
	if err = w.Steward.Stop(); err != nil {
		return err
	}
	w.Config.TopLevel = append(w.Config.TopLevel, fmt.Sprintf(`backups:
  sets:
    - {name: wiki, repository: %q, password_file: %q, paths: [%q], every: 24h, run: [%s], drill: {files: 2}}`,
		repo.Path, repo.PasswordFile, data, strings.Join(run, ", ")))
	if err = w.StartSteward(ctx); err != nil {
		return err
	}
	say("Steward now watches a restic repository of the wiki's data, whose newest snapshot is two days old.")
	alert, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "Backup wiki is stale", time.Minute)
	if err != nil {
		return err
	}
	say("[admin room] %s:\n%s\n", w.StewardID, indent(alert.Content.AsMessage().Body))
	if err = demoLine(ctx, w, say, w.Bob, w.AdminRoom, "admin room", "!backup wiki"); err != nil {
		return err
	}
	for _, text := range []string{"✅ Backed up wiki", "✅ Resolved: Backup wiki is stale"} {
		if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, text, 2*time.Minute); err != nil {
			return err
		}
		say("[admin room] %s: %s…\n", w.StewardID, text)
	}
	if err = demoLine(ctx, w, say, w.Alice, w.AdminRoom, "admin room", "!backups"); err != nil {
		return err
	}
	if err = demoLine(ctx, w, say, w.Alice, w.AdminRoom, "admin room", "!restore wiki "+filepath.Join(data, "pages/rules.md")); err != nil {
		return err
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "✅ Restored", time.Minute); err != nil {
		return err
	}
	for _, evt := range w.Alice.Messages(w.AdminRoom) {
		if body := evt.Content.AsMessage().Body; evt.Sender == w.StewardID && strings.Contains(body, "✅ Restored") {
			say("[admin room] %s (the same message, edited):\n%s\n", w.StewardID, indent(strings.TrimPrefix(body, "* ")))
			break
		}
	}
	return nil
}

// demoMonitoring turns on the listener: an alert comes in as Alertmanager sends it,
// then its resolution; a nightly job pings a failure whose output holds a secret.
func demoMonitoring(ctx context.Context, w *testbed.World, dir string, say func(string, ...any)) error {
	if err := w.Steward.Stop(); err != nil {
		return err
	}
	l, err := w.Config.AddListener(dir)
	if err != nil {
		return err
	}
	w.Config.TopLevel = append(w.Config.TopLevel, "jobs: [{name: nightly-dump, every: 24h, hint: \"the pg_dump cron line on db1\"}]")
	if err = w.StartSteward(ctx); err != nil {
		return err
	}
	say("Steward now listens on %s for Alertmanager, job pings and Prometheus (the token is in a file).\n", l.URL)

	alert := func(status string) string {
		return fmt.Sprintf(`{"version": "4", "status": %q, "receiver": "steward", "groupKey": "{}:{alertname=\"DiskAlmostFull\"}",
			"alerts": [{"status": %q, "fingerprint": "5e1f0c2a9b3d4e6f", "startsAt": "2026-12-04T10:00:00Z",
				"labels": {"alertname": "DiskAlmostFull", "instance": "db1:9100", "mountpoint": "/srv", "severity": "critical"},
				"annotations": {"summary": "Disk /srv on db1 is 96%% full"},
				"generatorURL": "http://prometheus.example.org/graph?g0.expr=node_filesystem_avail_bytes"}]}`, status, status)
	}
	post := func(path, auth, body string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST %s: %s", path, resp.Status)
		}
		return nil
	}
	say("$ curl -H 'Authorization: Bearer …' --data @firing.json %s/alertmanager   # as Alertmanager does", l.URL)
	if err = post("/alertmanager", l.Token, alert("firing")); err != nil {
		return err
	}
	msg, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "Disk /srv on db1 is 96% full", time.Minute)
	if err != nil {
		return err
	}
	say("[admin room] %s:\n%s\n", w.StewardID, indent(msg.Content.AsMessage().Body))
	say("$ curl … --data @resolved.json %s/alertmanager", l.URL)
	if err = post("/alertmanager", l.Token, alert("resolved")); err != nil {
		return err
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "✅ Resolved: Disk /srv on db1", time.Minute); err != nil {
		return err
	}
	say("[admin room] %s: ✅ Resolved: Disk /srv on db1 is 96%% full…\n", w.StewardID)

	say("$ pg_dump … ; curl --data-binary @dump.log %s/ping/TOKEN/nightly-dump/1   # the cron line's exit code 1", l.URL)
	output := "pg_dump: connecting to postgresql://backup:hunter2-secret@db1/app\npg_dump: error: connection to server failed: FATAL: password authentication failed\n"
	if err = post("/ping/"+l.Token+"/nightly-dump/1", "", output); err != nil {
		return err
	}
	failed, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "nightly-dump", time.Minute)
	if err != nil {
		return err
	}
	say("[admin room] %s (the password in the output is masked):\n%s\n", w.StewardID, indent(failed.Content.AsMessage().Body))
	return demoLine(ctx, w, say, w.Bob, w.AdminRoom, "admin room", "!jobs")
}
