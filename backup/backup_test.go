package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-bot/steward/state"
)

// fakeTool is a repository held in memory: one snapshot whose files are given by
// path. Restore writes them; failRestore makes it fail half-way.
type fakeTool struct {
	snaps       []Snapshot
	files       map[string]string // path in the snapshot -> content
	failRestore error
	failCheck   error
	// failSnapshots makes Snapshots fail, as an unreadable repository does.
	failSnapshots error
	// corrupt makes Restore write this file with other contents.
	corrupt string
}

func (f *fakeTool) Snapshots(_ context.Context, _ Repo, n int) ([]Snapshot, error) {
	if f.failSnapshots != nil {
		return nil, f.failSnapshots
	}
	if n > 0 && n < len(f.snaps) {
		return f.snaps[:n], nil
	}
	return f.snaps, nil
}

func (f *fakeTool) Check(context.Context, Repo, string) error { return f.failCheck }

func (f *fakeTool) List(_ context.Context, _ Repo, _ string, path string, recursive bool) ([]Node, error) {
	var out []Node
	for p, content := range f.files {
		if path == "/" || p == path || strings.HasPrefix(p, path+"/") {
			n := Node{Path: p, Type: "file", Size: int64(len(content))}
			if st, err := os.Stat(p); err == nil {
				n.MTime = st.ModTime() // as restic records it: the live file's, at backup time
			}
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func (f *fakeTool) Restore(_ context.Context, _ Repo, _ string, include []string, target string) error {
	for p, content := range f.files {
		if !slices.ContainsFunc(include, func(inc string) bool { return p == inc || strings.HasPrefix(p, inc+"/") }) {
			continue
		}
		dst := filepath.Join(target, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if p == f.corrupt {
			content = strings.ToUpper(content)
		}
		if err := os.WriteFile(dst, []byte(content), 0o644); err != nil {
			return err
		}
		if f.failRestore != nil {
			return f.failRestore // after writing one file: a partial restore
		}
	}
	return nil
}

func (f *fakeTool) Stats(context.Context, Repo, string) (Stats, error) { return Stats{}, nil }

// memRuns keeps backup runs in memory.
type memRuns struct {
	mu   sync.Mutex
	runs []state.BackupRun
}

func (m *memRuns) Start(_ context.Context, r *state.BackupRun) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.ID = int64(len(m.runs) + 1)
	m.runs = append(m.runs, *r)
	return nil
}

func (m *memRuns) Save(_ context.Context, r *state.BackupRun) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[r.ID-1] = *r
	return nil
}

func (m *memRuns) Latest(_ context.Context, set, kind, outcome string) (*state.BackupRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.runs) - 1; i >= 0; i-- {
		r := m.runs[i]
		if r.Set == set && r.Kind == kind && (outcome == "" || r.Outcome == outcome) {
			return &r, nil
		}
	}
	return nil, nil
}

func (m *memRuns) LatestDone(_ context.Context, set, kind string) (*state.BackupRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.runs) - 1; i >= 0; i-- {
		r := m.runs[i]
		if r.Set == set && r.Kind == kind && (r.Outcome == OutcomeOK || r.Outcome == OutcomeFailed) {
			return &r, nil
		}
	}
	return nil, nil
}

func (m *memRuns) LatestInPlace(_ context.Context, set string) (*state.BackupRun, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.runs) - 1; i >= 0; i-- {
		r := m.runs[i]
		if _, _, inPlace := RestoreState(&r); r.Set == set && r.Kind == KindRestore && inPlace {
			return &r, nil
		}
	}
	return nil, nil
}

func (m *memRuns) unfinished() []*state.BackupRun {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*state.BackupRun
	for _, r := range m.runs {
		if r.Outcome == "" {
			out = append(out, &r)
		}
	}
	return out
}

// fakeContainers are containers that run until stopped. failStart makes Start fail;
// onStop is called once a container has stopped (a crash test panics there).
type fakeContainers struct {
	stopped, started []string
	down             map[string]bool
	failStart        error
	onStop           func(ref string)
}

func (f *fakeContainers) Running(_ context.Context, ref string) (bool, error) {
	return !f.down[ref], nil
}

func (f *fakeContainers) Stop(_ context.Context, ref string) (bool, error) {
	f.stopped = append(f.stopped, ref)
	wasRunning := !f.down[ref]
	if f.down == nil {
		f.down = map[string]bool{}
	}
	f.down[ref] = true
	if f.onStop != nil {
		f.onStop(ref)
	}
	return wasRunning, nil
}

func (f *fakeContainers) Start(_ context.Context, ref string) error {
	f.started = append(f.started, ref)
	if f.failStart != nil {
		return f.failStart
	}
	delete(f.down, ref)
	return nil
}

func TestCleanPath(t *testing.T) {
	for p, want := range map[string]string{
		"/srv/cloud":         "",
		"/":                  "",
		"srv/cloud":          "is not an absolute path",
		"":                   "is not an absolute path",
		"/srv/../etc":        "climbs out with ..",
		"/srv/cloud/":        `did you mean "/srv/cloud"?`,
		"/srv//cloud":        `did you mean "/srv/cloud"?`,
		"/srv/./cloud":       `did you mean "/srv/cloud"?`,
		"/srv/cloud\n/etc":   "control character",
		"/srv/Photos [2019]": "",
	} {
		_, err := CleanPath(p)
		switch {
		case want == "" && err != nil:
			t.Errorf("CleanPath(%q): %v", p, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("CleanPath(%q) = %v, want it to say %q", p, err, want)
		}
	}
}

// TestInTargets checks that an in-place restore stays inside its targets, also
// through symbolic links in the live tree.
func TestInTargets(t *testing.T) {
	root := t.TempDir()
	target := filepath.Join(root, "srv")
	outside := filepath.Join(root, "etc")
	for _, d := range []string{filepath.Join(target, "app"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(target, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(target, "app"), filepath.Join(target, "inside")); err != nil {
		t.Fatal(err)
	}
	targets := []string{target}
	for p, want := range map[string]string{
		target:                                  "",
		filepath.Join(target, "app/config.php"): "",
		filepath.Join(target, "new/dir/file"):   "",
		filepath.Join(target, "inside/file"):    "",
		filepath.Join(target, "escape/passwd"):  "through a symbolic link, outside the restore target",
		filepath.Join(target, "escape"):         "through a symbolic link",
		filepath.Join(target, "inside"):         "",
		outside:                                 "is outside the paths this set may restore to",
		target + "-other/file":                  "is outside the paths",
		filepath.Join(root, "srv2"):             "is outside the paths",
	} {
		_, err := InTargets(p, targets)
		switch {
		case want == "" && err != nil:
			t.Errorf("InTargets(%s): %v", p, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("InTargets(%s) = %v, want it to say %q", p, err, want)
		}
	}
}

// inPlaceWorld is a live folder with two files, a snapshot of it with other
// contents, and a restorer over them.
func inPlaceWorld(t *testing.T) (*Restorer, *fakeTool, *memRuns, *fakeContainers, *Set, string) {
	t.Helper()
	root := t.TempDir()
	live := filepath.Join(root, "srv", "app")
	if err := os.MkdirAll(live, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"a.txt": "live a", "b.txt": "live b"} {
		if err := os.WriteFile(filepath.Join(live, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tool := &fakeTool{
		snaps: []Snapshot{{ID: "abcdef0123456789", ShortID: "abcdef01", Time: time.Now().Add(-time.Hour)}},
		files: map[string]string{live + "/a.txt": "saved a", live + "/b.txt": "saved b"},
	}
	runs := &memRuns{}
	ctrs := &fakeContainers{}
	set := &Set{Name: "app", RestoreTargets: []string{filepath.Join(root, "srv")}, Containers: []string{"web"}}
	r := &Restorer{Tool: tool, Runs: runs, StagingDir: filepath.Join(root, "staging"), Containers: ctrs, Now: time.Now}
	return r, tool, runs, ctrs, set, live
}

func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func TestInPlaceRestoreAndUndo(t *testing.T) {
	r, tool, runs, ctrs, set, live := inPlaceWorld(t)
	ctx := t.Context()
	var steps []string
	res, err := r.InPlace(ctx, set, tool.snaps[0], live, nil, func(step string) { steps = append(steps, step) })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{StepStopContainers, StepSetAside, StepRestore, StepStartContainers}; !slices.Equal(steps, want) {
		t.Errorf("progress told %v, want %v", steps, want)
	}
	if got := readAll(t, live); got["a.txt"] != "saved a" || got["b.txt"] != "saved b" {
		t.Errorf("after the restore: %v", got)
	}
	if got := readAll(t, res.Aside); got["a.txt"] != "live a" {
		t.Errorf("the replaced files kept at %s: %v", res.Aside, got)
	}
	if !slices.Equal(ctrs.stopped, []string{"web"}) || !slices.Equal(ctrs.started, []string{"web"}) {
		t.Errorf("containers stopped %v, started %v; want web stopped and started", ctrs.stopped, ctrs.started)
	}
	done := runs.runs[res.RunID-1]
	if done.Outcome != OutcomeOK || !strings.Contains(done.Detail, res.Aside) {
		t.Errorf("run recorded %+v", done)
	}

	undo, err := r.InPlace(ctx, set, Snapshot{ShortID: done.Snapshot}, live, &done, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, live); got["a.txt"] != "live a" {
		t.Errorf("after the undo: %v", got)
	}
	if got := readAll(t, undo.Aside); got["a.txt"] != "saved a" {
		t.Errorf("what the undone restore wrote, kept at %s: %v", undo.Aside, got)
	}
	if _, err = r.InPlace(ctx, set, Snapshot{}, live, &done, nil); err == nil || !strings.Contains(err.Error(), "no longer at") {
		t.Errorf("undoing twice: %v", err)
	}
}

func TestInPlaceRestoreFailurePutsBack(t *testing.T) {
	r, tool, runs, ctrs, set, live := inPlaceWorld(t)
	tool.failRestore = &ToolError{Op: "restore", Message: "ciphertext verification failed"}
	_, err := r.InPlace(t.Context(), set, tool.snaps[0], live, nil, nil)
	if err == nil || !IsToolError(err) {
		t.Fatalf("InPlace = %v, want the tool's error", err)
	}
	if got := readAll(t, live); got["a.txt"] != "live a" || got["b.txt"] != "live b" || len(got) != 2 {
		t.Errorf("after a failed restore the live files are %v, want them back as they were", got)
	}
	if !slices.Equal(ctrs.started, []string{"web"}) {
		t.Errorf("containers started again: %v", ctrs.started)
	}
	if last := runs.runs[len(runs.runs)-1]; last.Outcome != OutcomeFailed {
		t.Errorf("run recorded %+v", last)
	}
}

// TestRecoverInterruptedRestore checks what a restore cut short at each step leaves
// after Recover: the live files as they were (or restored, when it had finished), and
// the containers running.
func TestRecoverInterruptedRestore(t *testing.T) {
	for _, tc := range []struct {
		name, step string
		// moved: the restored files were moved into place before the stop.
		moved bool
		// recreated: an empty folder appeared at the path after it was set aside.
		recreated bool
	}{
		{"containers stopped", StepStopContainers, false, false},
		{"live files set aside", StepSetAside, false, false},
		{"live files set aside, the path made anew", StepSetAside, false, true},
		{"restic restoring into scratch", StepRestore, false, false},
		{"restic restoring into scratch, the path made anew", StepRestore, false, true},
		{"restored files moved into place", StepRestore, true, false},
		{"containers starting", StepStartContainers, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, tool, runs, ctrs, set, live := inPlaceWorld(t)
			// Simulate the stop: the step's effects taken by hand, recorded as
			// Steward would have before it stopped.
			st := restoreState{Path: live, InPlace: true, Snapshot: tool.snaps[0].ID, Stopped: []string{"web"},
				Scratch: filepath.Join(filepath.Dir(live), ".steward-restore-1-new")}
			run := &state.BackupRun{Set: set.Name, Kind: KindRestore, Started: time.Now(), Step: tc.step}
			if tc.step != StepStopContainers {
				st.Aside = filepath.Join(filepath.Dir(live), ".steward-restore-1-app")
				if err := os.Rename(live, st.Aside); err != nil {
					t.Fatal(err)
				}
			}
			if tc.step == StepRestore || tc.step == StepStartContainers {
				if err := tool.Restore(t.Context(), Repo{}, "", []string{live}, st.Scratch); err != nil {
					t.Fatal(err)
				}
				id, ok := identify(filepath.Join(st.Scratch, live))
				if !ok {
					t.Fatal("nothing restored into scratch")
				}
				st.Moving = &id // recorded just before the move
				if tc.moved {
					if err := os.Rename(filepath.Join(st.Scratch, live), live); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.recreated {
				// Docker made the missing bind-mount source anew.
				if err := os.Mkdir(live, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			run.State = mustJSON(st)
			if err := runs.Start(t.Context(), run); err != nil {
				t.Fatal(err)
			}
			got := r.Recover(t.Context(), runs.unfinished())
			wantOutcome, want := OutcomeInterrupted, "live a"
			if tc.moved {
				wantOutcome, want = OutcomeOK, "saved a"
			}
			if len(got) != 1 || got[0].Outcome != wantOutcome {
				t.Fatalf("Recover = %+v, want outcome %s", got, wantOutcome)
			}
			if files := readAll(t, live); files["a.txt"] != want {
				t.Errorf("after Recover a.txt = %q, want %q (detail: %s)", files["a.txt"], want, got[0].Detail)
			}
			if exists(st.Scratch) {
				t.Error("the scratch folder was left behind")
			}
			if !slices.Equal(ctrs.started, []string{"web"}) {
				t.Errorf("containers started: %v", ctrs.started)
			}
			if len(runs.unfinished()) != 0 {
				t.Error("the run is still unfinished after Recover")
			}
		})
	}
}

func TestDrill(t *testing.T) {
	root := t.TempDir()
	live := filepath.Join(root, "data")
	if err := os.MkdirAll(live, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, name := range []string{"a", "b", "c", "d"} {
		p := filepath.Join(live, name)
		if err := os.WriteFile(p, []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		files[p] = "content of " + name
	}
	tool := &fakeTool{snaps: []Snapshot{{ID: "ffff", ShortID: "ffff"}}, files: files}
	set := &Set{Name: "data", DrillFiles: 10}
	res, err := Drill(t.Context(), tool, set, filepath.Join(root, "scratch"))
	if err != nil || res.Files != 4 {
		t.Fatalf("Drill = %+v, %v; want 4 files restored", res, err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "scratch")); len(left) != 0 {
		t.Errorf("the drill left %d entries in its scratch folder", len(left))
	}

	tool.corrupt = filepath.Join(live, "b")
	if _, err = Drill(t.Context(), tool, set, filepath.Join(root, "scratch")); err == nil {
		t.Error("a drill passed with a file restored with other contents than recorded")
	}
	tool.corrupt, tool.failRestore = "", errors.New("ciphertext verification failed")
	if _, err = Drill(t.Context(), tool, set, filepath.Join(root, "scratch")); err == nil || !strings.Contains(err.Error(), "ciphertext") {
		t.Errorf("a drill on a damaged repository: %v", err)
	}
	tool.failRestore, tool.snaps = nil, nil
	if _, err = Drill(t.Context(), tool, set, filepath.Join(root, "scratch")); err == nil || !strings.Contains(err.Error(), "no snapshot") {
		t.Errorf("a drill without snapshots: %v", err)
	}
}

// TestCheckObservations checks what a set's watch reports: stale or missing
// snapshots, a failed check or drill, an off-site copy that is not fresh.
func TestCheckObservations(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	fresh := &fakeTool{snaps: []Snapshot{{ID: "a1", ShortID: "a1", Time: now.Add(-2 * time.Hour)}}}
	old := &fakeTool{snaps: []Snapshot{{ID: "b1", ShortID: "b1", Time: now.Add(-40 * time.Hour)}}}
	none := &fakeTool{}
	set := &Set{Name: "cloud", Every: 24 * time.Hour, Grace: 6 * time.Hour}
	copySet := &Set{Name: "far", Every: 24 * time.Hour, Grace: 6 * time.Hour, Offsite: true}
	observe := func(tool Tool, runs *memRuns, withCopy bool) []string {
		t.Helper()
		c := &Check{Set: set, Tool: tool, Runs: runs, Every: time.Minute, Now: func() time.Time { return now }}
		if withCopy {
			c.Copy = copySet
		}
		obs, err := c.Observe(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var fps []string
		for _, o := range obs {
			fps = append(fps, o.Fingerprint)
		}
		return fps
	}
	if got := observe(fresh, &memRuns{}, false); len(got) != 0 {
		t.Errorf("a fresh set reports %v", got)
	}
	if got := observe(old, &memRuns{}, false); !slices.Equal(got, []string{"backup:cloud:stale"}) {
		t.Errorf("a 40-hour-old snapshot, expected daily with 6h grace: %v", got)
	}
	if got := observe(none, &memRuns{}, false); !slices.Equal(got, []string{"backup:cloud:stale"}) {
		t.Errorf("no snapshot: %v", got)
	}
	runs := &memRuns{}
	for _, r := range []state.BackupRun{
		{Set: "cloud", Kind: KindCheck, Outcome: OutcomeFailed, Detail: "pack 1f2e: ciphertext verification failed"},
		{Set: "cloud", Kind: KindDrill, Outcome: OutcomeFailed},
		{Set: "cloud", Kind: KindDrill, Outcome: OutcomeOK}, // a later drill passed
	} {
		if err := runs.Start(t.Context(), &r); err != nil {
			t.Fatal(err)
		}
	}
	if got := observe(fresh, runs, false); !slices.Equal(got, []string{"backup:cloud:check"}) {
		t.Errorf("a failed check, and a drill that failed before one passed: %v", got)
	}
	// The copy's repository is the same fake: fresh, then old.
	if got := observe(fresh, &memRuns{}, true); len(got) != 0 {
		t.Errorf("a fresh off-site copy reports %v", got)
	}
	if got := observe(old, &memRuns{}, true); !slices.Contains(got, "backup:cloud:offsite") {
		t.Errorf("an old off-site copy is not reported: %v", got)
	}
}

// A repository that can't be read at all (wrong password, gone) is the set's own
// critical alert naming the cause, whichever restic says it (an exit status since
// 0.17, words before); a set already stale stays stale; a failure that may pass (the
// network) is still the check's own error.
func TestUnreadableRepositoryIsCritical(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	set := &Set{Name: "cloud", Every: 24 * time.Hour, Grace: 6 * time.Hour}
	for _, tc := range []struct {
		name  string
		err   error
		cause string
	}{
		{"wrong password, restic 0.17", &ToolError{Op: "snapshots", Message: "Fatal: wrong password or no key found", ExitCode: 12}, "wrong password"},
		{"wrong password, restic 0.14", &ToolError{Op: "snapshots", Message: "Fatal: wrong password or no key found", ExitCode: 1}, "wrong password"},
		{"gone, restic 0.17", &ToolError{Op: "snapshots", Message: "Fatal: repository does not exist: unable to open config file", ExitCode: 10}, "repository is gone"},
		{"gone, restic 0.14", &ToolError{Op: "snapshots", Message: "Fatal: unable to open config file: stat /srv/repo/config: no such file or directory\nIs there a repository at the following location?\n/srv/repo", ExitCode: 1}, "repository is gone"},
		{"password file missing", &ToolError{Op: "snapshots", Message: "Resolving password failed: Fatal: /etc/pw does not exist", ExitCode: 1}, "password file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tool := &fakeTool{failSnapshots: tc.err}
			c := &Check{Set: set, Tool: tool, Runs: &memRuns{}, Every: time.Minute, Now: func() time.Time { return now }}
			obs, err := c.Observe(t.Context())
			if err != nil {
				t.Fatalf("an unreadable repository is the check's error, not the set's alert: %v", err)
			}
			if len(obs) != 1 || obs[0].Fingerprint != "backup:cloud:unreadable" || obs[0].Severity != state.SeverityCritical ||
				!strings.Contains(obs[0].Summary, tc.cause) {
				t.Fatalf("observations %+v, want one critical unreadable alert naming %q", obs, tc.cause)
			}
		})
	}

	// A set read stale once stays stale while its repository can't be read.
	tool := &fakeTool{snaps: []Snapshot{{ID: "b1", ShortID: "b1", Time: now.Add(-40 * time.Hour)}}}
	c := &Check{Set: set, Tool: tool, Runs: &memRuns{}, Every: time.Minute, Now: func() time.Time { return now }}
	if _, err := c.Observe(t.Context()); err != nil {
		t.Fatal(err)
	}
	tool.failSnapshots = &ToolError{Op: "snapshots", Message: "Fatal: wrong password or no key found", ExitCode: 12}
	obs, err := c.Observe(t.Context())
	var fps []string
	for _, o := range obs {
		fps = append(fps, o.Fingerprint)
	}
	if err != nil || !slices.Equal(fps, []string{"backup:cloud:unreadable", "backup:cloud:stale"}) {
		t.Errorf("a stale set turned unreadable: %v, %v", fps, err)
	}

	tool.failSnapshots = &ToolError{Op: "snapshots", Message: "Fatal: unable to open repository at sftp:nas:/x: unable to start the sftp session, error: EOF", ExitCode: 1}
	if obs, err := c.Observe(t.Context()); err == nil {
		t.Errorf("an unreachable host is the check's own failure, got observations %+v", obs)
	}
}

// The metrics read each set's newest snapshot from its check's last round, so a
// scrape runs no restic: a set not read yet is left out, one without snapshots reads
// as zero.
func TestChecksKeepTheNewestSnapshotRead(t *testing.T) {
	taken := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	mgr := NewManager([]*Set{{Name: "cloud", Every: time.Hour}, {Name: "empty", Every: time.Hour}})
	mgr.Tool, mgr.RunStore = &fakeTool{snaps: []Snapshot{{ID: "a1", ShortID: "a1", Time: taken}}}, runsByID{&memRuns{}}
	checks := &Checks{Manager: mgr, Every: time.Minute}
	running := checks.New()
	if got := checks.Newest(); len(got) != 0 {
		t.Fatalf("before any round: %v", got)
	}
	if _, err := running[0].Observe(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := checks.Newest(); len(got) != 1 || !got["cloud"].Equal(taken) {
		t.Errorf("after cloud's round: %v", got)
	}
	running[1].(*Check).Tool = &fakeTool{}
	if _, err := running[1].Observe(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, ok := checks.Newest()["empty"]; !ok || !got.IsZero() {
		t.Errorf("a set without snapshots: %v, %v", got, ok)
	}
}

// runsByID is memRuns as the manager's run store, for tests that look up no run.
type runsByID struct{ *memRuns }

func (runsByID) Get(context.Context, int64) (*state.BackupRun, error) { return nil, nil }

// A stop while the live files were set aside, with files written at the path since
// (a container made it anew and wrote to it): both are kept, and the report says
// where the live files are.
func TestRecoverSaysWhereTheLiveFilesAre(t *testing.T) {
	r, tool, runs, _, set, live := inPlaceWorld(t)
	aside := filepath.Join(filepath.Dir(live), ".steward-restore-1-app")
	if err := os.Rename(live, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(live, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(live, "new.txt"), []byte("written since"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := restoreState{Path: live, InPlace: true, Snapshot: tool.snaps[0].ID, Stopped: []string{"web"}, Aside: aside}
	run := &state.BackupRun{Set: set.Name, Kind: KindRestore, Started: time.Now(), Step: StepSetAside, State: mustJSON(st)}
	if err := runs.Start(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	got := r.Recover(t.Context(), runs.unfinished())
	if len(got) != 1 || got[0].Outcome != OutcomeInterrupted || !strings.Contains(got[0].Detail, "left at "+aside) ||
		strings.Contains(got[0].Detail, "as they were") {
		t.Fatalf("Recover = %+v, want it to say the live files are at %s", got, aside)
	}
	if files := readAll(t, aside); files["a.txt"] != "live a" {
		t.Errorf("the live files set aside: %v", files)
	}
	if files := readAll(t, live); files["new.txt"] != "written since" {
		t.Errorf("what was written at the path since: %v", files)
	}
}

// A container that fails to start again after a restore is said so, in the run's
// detail and by the set's check, which alerts until it runs: it was stopped through
// the engine, so the container monitor takes it for stopped on purpose.
func TestRestoreContainerNotStartedAgain(t *testing.T) {
	r, tool, runs, ctrs, set, live := inPlaceWorld(t)
	ctrs.failStart = errors.New("port 8080 is already allocated")
	set.Every = 1000 * time.Hour // fresh: only the containers count here
	res, err := r.InPlace(t.Context(), set, tool.snaps[0], live, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := runs.runs[res.RunID-1]
	if !slices.Equal(res.NotStarted, []string{"web"}) || !strings.Contains(done.Detail, "container web did not start again") {
		t.Errorf("restored %+v, detail %q: want web named as not started", res, done.Detail)
	}
	// A later restore to the staging folder doesn't hide it.
	if _, err = r.ToStaging(t.Context(), set, tool.snaps[0], live); err != nil {
		t.Fatal(err)
	}
	c := &Check{Set: set, Tool: tool, Runs: runs, Containers: ctrs, Every: time.Minute, Now: time.Now}
	observe := func() []string {
		t.Helper()
		obs, err := c.Observe(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var fps []string
		for _, o := range obs {
			if o.Severity == state.SeverityCritical {
				fps = append(fps, o.Fingerprint)
			}
		}
		return fps
	}
	if got := observe(); !slices.Equal(got, []string{"backup:app:not_started"}) {
		t.Errorf("with web down after the restore, the check reports %v", got)
	}
	delete(ctrs.down, "web") // started by hand
	if got := observe(); len(got) != 0 {
		t.Errorf("with web running again, the check reports %v", got)
	}

	// The same after a stop cut a restore short.
	ctrs.down["web"] = true
	st := restoreState{Path: live, InPlace: true, Snapshot: tool.snaps[0].ID, Stopped: []string{"web"}}
	run := &state.BackupRun{Set: set.Name, Kind: KindRestore, Started: time.Now(), Step: StepStopContainers, State: mustJSON(st)}
	if err = runs.Start(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	got := r.Recover(t.Context(), runs.unfinished())
	if len(got) != 1 || strings.Contains(got[0].Detail, "started again") || !strings.Contains(got[0].Detail, "did not start again") {
		t.Fatalf("Recover = %+v, want web named as not started", got)
	}
	if fps := observe(); !slices.Equal(fps, []string{"backup:app:not_started"}) {
		t.Errorf("after the recovery, the check reports %v", fps)
	}
}

// A stop (a crash) while a container was being stopped leaves it recorded, so the
// recovery starts it again.
func TestCrashWhileStoppingAContainer(t *testing.T) {
	r, tool, runs, ctrs, set, live := inPlaceWorld(t)
	type crash struct{}
	ctrs.onStop = func(string) { panic(crash{}) }
	func() {
		defer func() {
			if p := recover(); p != (crash{}) {
				panic(p)
			}
		}()
		_, _ = r.InPlace(t.Context(), set, tool.snaps[0], live, nil, nil)
		t.Fatal("the restore went on past the crash")
	}()
	if !ctrs.down["web"] {
		t.Fatal("web should be stopped at the crash")
	}
	r.Recover(t.Context(), runs.unfinished())
	if ctrs.down["web"] || !slices.Equal(ctrs.started, []string{"web"}) {
		t.Errorf("after the recovery web is down: %v, started %v", ctrs.down["web"], ctrs.started)
	}
}
