package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/steward-bot/steward/e2e/testbed"
)

// Backups against real restic repositories made by the test:
//   - home: a good repository. Its check and drill pass; !snapshots and !browse list
//     it; a staging restore gives byte-identical files; paths out of bounds are
//     refused; an approved in-place restore replaces a file, and --undo puts the
//     replaced one back.
//   - stale: its newest snapshot is two days old: it alerts, and !backup (its
//     configured command) makes a new one, which resolves the alert.
//   - broken: its data packs damaged on disk: its check and its drill fail and alert.
//   - far: home's off-site copy, with no snapshot yet and on the same disk as the
//     data: both alert.
func TestBackups(t *testing.T) {
	ctx := t.Context()
	root := filepath.Join(w.Dir, "backups-"+fmt.Sprint(time.Now().UnixNano()))
	data := filepath.Join(root, "data")
	files := map[string]string{
		"notes.txt":         "the notes of the group\n",
		"config/app.conf":   "listen = 8080\nsecret = not-in-chat\n",
		"config/users.json": `{"alice": 1, "bob": 2}` + "\n",
	}
	for name, content := range files {
		p := filepath.Join(data, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link in the live tree that leads out of it: no restore may follow it.
	outside := filepath.Join(root, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(data, "escape")); err != nil {
		t.Fatal(err)
	}
	home, err := testbed.NewResticRepo(ctx, filepath.Join(root, "home"))
	if err != nil {
		t.Fatal(err)
	}
	if err = home.Backup(ctx, data); err != nil {
		t.Fatal(err)
	}
	stale, err := testbed.NewResticRepo(ctx, filepath.Join(root, "stale"))
	if err != nil {
		t.Fatal(err)
	}
	if err = stale.BackupAt(ctx, time.Now().Add(-48*time.Hour), data); err != nil {
		t.Fatal(err)
	}
	far, err := testbed.NewResticRepo(ctx, filepath.Join(root, "far"))
	if err != nil {
		t.Fatal(err)
	}
	broken, err := testbed.NewResticRepo(ctx, filepath.Join(root, "broken"))
	if err != nil {
		t.Fatal(err)
	}
	if err = broken.Backup(ctx, data); err != nil {
		t.Fatal(err)
	}
	if n, err := broken.DamagePacks(); err != nil || n == 0 {
		t.Fatalf("damaged %d packs: %v", n, err)
	}
	api, err := testbed.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	app := fmt.Sprintf("steward-e2e-app-%d", time.Now().UnixNano())
	if _, err = testbed.RunContainer(ctx, api, app, nil, t.Cleanup); err != nil {
		t.Fatal(err)
	}
	startedAt := func() string {
		t.Helper()
		info, err := api.ContainerInspect(ctx, app, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !info.Container.State.Running {
			t.Errorf("%s is not running", app)
		}
		return info.Container.State.StartedAt
	}
	runArgs := func(argv []string) string {
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = fmt.Sprintf("%q", a)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	withConfig(t, func(c *testbed.StewardConfig) {
		c.TopLevel = append(c.TopLevel, fmt.Sprintf(`backups:
  staging_dir: %q
  interval: 1m
  sets:
    - {name: home, repository: %q, password_file: %q, paths: [%q], every: 1h, offsite_copy: far, containers: [%s], check: {every: 1h, read_data: all}, drill: {every: 1h, files: 3}}
    - {name: stale, repository: %q, password_file: %q, paths: [%q], every: 24h, run: %s, check: {every: 0s}, drill: {every: 0s}}
    - {name: broken, repository: %q, password_file: %q, paths: [%q], every: 1h, check: {every: 1h, read_data: all}, drill: {every: 1h, files: 3}}
    - {name: far, repository: %q, password_file: %q, paths: [%q], every: 1h, offsite: true, check: {every: 0s}, drill: {every: 0s}}`,
			filepath.Join(root, "staging"), home.Path, home.PasswordFile, data, app,
			stale.Path, stale.PasswordFile, data, runArgs(stale.BackupCommand(data)),
			broken.Path, broken.PasswordFile, data, far.Path, far.PasswordFile, data))
		c.Monitor = "{group_wait: 0s, disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}, containers: {enabled: false}}"
	})
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor := func(text string) {
		t.Helper()
		if err := w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, text, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	// What is wrong alerts: an old snapshot, a damaged repository, an off-site
	// copy that is neither fresh nor off-site.
	waitFor("Critical: Backup stale is stale")
	waitFor("Backup broken failed its integrity check")
	waitFor("Backup broken failed its restore drill")
	waitFor("Backup home has no fresh off-site copy")
	waitFor("Off-site backup far is on the same disk as its data")

	// !backup makes a new snapshot, and the alert resolves.
	if reply := command(t, w.Alice, w.AdminRoom, "!backup stale").Content.AsMessage().Body; !strings.Contains(reply, "Running the backup of stale") {
		t.Errorf("!backup stale: %s", reply)
	}
	waitFor("✅ Backed up stale: snapshot")
	waitFor("✅ Resolved: Backup stale is stale")

	overview := command(t, w.Alice, w.AdminRoom, "!backups").Content.AsMessage().Body
	for _, want := range []string{"home", "stale", "broken", "⚠️ failed", "far: no snapshot", "is an off-site copy, but on the same disk"} {
		if !strings.Contains(overview, want) {
			t.Errorf("!backups does not show %q:\n%s", want, overview)
		}
	}
	if line := lineWith(overview, "home"); strings.Contains(line, "never") || strings.Contains(line, "⚠️") || !strings.Contains(line, " ago: ok") {
		t.Errorf("home's check and drill should have passed:\n%s", overview)
	}

	snaps := command(t, w.Alice, w.AdminRoom, "!snapshots home").Content.AsMessage().Body
	if !strings.Contains(snaps, "The newest 1 snapshots of home") || !strings.Contains(snaps, data) {
		t.Errorf("!snapshots home:\n%s", snaps)
	}
	listing := command(t, w.Alice, w.AdminRoom, "!browse home latest "+filepath.Join(data, "config")).Content.AsMessage().Body
	if !strings.Contains(listing, "app.conf") || !strings.Contains(listing, "users.json") {
		t.Errorf("!browse:\n%s", listing)
	}

	// A staging restore gives the files as they were, byte for byte.
	command(t, w.Alice, w.AdminRoom, "!restore home "+filepath.Join(data, "config"))
	waitFor("✅ Restored 2 files")
	staged, err := filepath.Glob(filepath.Join(root, "staging", "home-*", data, "config"))
	if err != nil || len(staged) != 1 {
		t.Fatalf("staging restore: %v, %v", staged, err)
	}
	for _, name := range []string{"config/app.conf", "config/users.json"} {
		got, err := os.ReadFile(filepath.Join(filepath.Dir(staged[0]), name))
		if err != nil || !bytes.Equal(got, []byte(files[name])) {
			t.Errorf("staged %s = %q (%v), want %q", name, got, err, files[name])
		}
	}

	// Paths out of bounds are refused before anyone is asked.
	for cmd, want := range map[string]string{
		"!restore home /etc/passwd --in-place":                             "is outside the paths this set may restore to",
		"!restore home " + data + "/../outside --in-place":                 "climbs out with ..",
		"!restore home " + filepath.Join(data, "escape/x") + " --in-place": "through a symbolic link, outside the restore target",
		"!restore home relative/path":                                      "is not an absolute path",
	} {
		if reply := command(t, w.Alice, w.AdminRoom, cmd).Content.AsMessage().Body; !strings.Contains(reply, want) {
			t.Errorf("%s: %q, want it to say %q", cmd, reply, want)
		}
	}

	// In place, after approval: the live file is replaced, the old one kept.
	notes := filepath.Join(data, "notes.txt")
	if err = os.WriteFile(notes, []byte("scribbled over by mistake\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	request := command(t, w.Alice, w.AdminRoom, "!restore home "+notes+" --in-place").Content.AsMessage().Body
	m := requestIDPattern.FindStringSubmatch(request)
	if m == nil {
		t.Fatalf("an in-place restore did not ask for approval: %s", request)
	}
	if !strings.Contains(request, "the containers "+app+" are stopped meanwhile") {
		t.Errorf("the request does not say the container is stopped meanwhile:\n%s", request)
	}
	before := startedAt()
	command(t, w.Bob, w.AdminRoom, "!approve "+m[1])
	waitFor("✅ Restored 1 files (")
	if got, _ := os.ReadFile(notes); string(got) != files["notes.txt"] {
		t.Errorf("after the in-place restore notes.txt = %q", got)
	}
	if after := startedAt(); after == before {
		t.Errorf("%s was not stopped and started again around the restore", app)
	}
	var undoID string
	for _, evt := range w.Alice.Messages(w.AdminRoom) {
		if b := evt.Content.AsMessage().Body; evt.Sender == w.StewardID && strings.Contains(b, "restore --undo ") {
			undoID = strings.Fields(b[strings.Index(b, "restore --undo ")+len("restore --undo "):])[0]
			undoID = strings.Trim(undoID, "`")
		}
	}
	if undoID == "" {
		t.Fatal("the in-place restore did not say how to undo it")
	}
	request = command(t, w.Alice, w.AdminRoom, "!restore --undo "+undoID).Content.AsMessage().Body
	if m = requestIDPattern.FindStringSubmatch(request); m == nil {
		t.Fatalf("an undo did not ask for approval: %s", request)
	}
	command(t, w.Bob, w.AdminRoom, "!approve "+m[1])
	waitFor("↩️ Undid restore " + undoID)
	if got, _ := os.ReadFile(notes); string(got) != "scribbled over by mistake\n" {
		t.Errorf("after the undo notes.txt = %q, want the replaced version back", got)
	}

	// Steward killed half-way through an in-place restore, with the live file set
	// aside: at the next start the file is back, and the admins are told.
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	w.Steward.Env = []string{"STEWARD_CRASH_AT=restore-restore"}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	request = command(t, w.Alice, w.AdminRoom, "!restore home "+notes+" --in-place").Content.AsMessage().Body
	if m = requestIDPattern.FindStringSubmatch(request); m == nil {
		t.Fatalf("an in-place restore did not ask for approval: %s", request)
	}
	if _, err = w.Bob.Say(ctx, w.AdminRoom, "!approve "+m[1]); err != nil {
		t.Fatal(err)
	}
	if !w.Steward.WaitExit(time.Minute) {
		t.Fatal("Steward did not stop at the crash point")
	}
	w.Steward.Env = nil
	if _, err = os.Stat(notes); err == nil {
		t.Fatal("at the crash point notes.txt should be set aside")
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor("nothing was restored, and the live files are as they were")
	if got, _ := os.ReadFile(notes); string(got) != "scribbled over by mistake\n" {
		t.Errorf("after the interrupted restore notes.txt = %q, want it as it was", got)
	}
	startedAt() // running again
}

// lineWith returns the first line of s holding substr.
func lineWith(s, substr string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, substr) {
			return line
		}
	}
	return ""
}
