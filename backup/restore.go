package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/steward-bot/steward/state"
)

// PathError is a path from chat that Steward refuses; its text is for the person who
// typed it.
type PathError struct{ Msg string }

// Error is Msg alone, with no prefix, so a command can show it as it is.
func (e *PathError) Error() string { return e.Msg }

func pathErrorf(format string, args ...any) error {
	return &PathError{Msg: fmt.Sprintf(format, args...)}
}

// CleanPath checks a path typed in chat: absolute, without "..", "." or doubled
// slashes, and without control characters.
func CleanPath(p string) (string, error) {
	if p == "" || !strings.HasPrefix(p, "/") {
		return "", pathErrorf("%q is not an absolute path; paths in snapshots start with /", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", pathErrorf("the path holds a control character")
		}
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", pathErrorf("%q climbs out with ..; give the path as it is in the snapshot", p)
		}
	}
	if c := filepath.Clean(p); c != p {
		return "", pathErrorf("%q is not a clean path; did you mean %q?", p, c)
	}
	return p, nil
}

// within reports whether p is root or lies under it.
func within(p, root string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

// InTargets checks that an in-place restore of p writes only inside one of targets,
// also once symlinks on the way are followed: a link in the live tree must not lead
// the restore elsewhere. It returns the target p lies in.
func InTargets(p string, targets []string) (string, error) {
	for _, t := range targets {
		if !within(p, t) {
			continue
		}
		realTarget, err := filepath.EvalSymlinks(t)
		if err != nil {
			return "", pathErrorf("the restore target %s can't be resolved: %v", t, errors.Unwrap(err))
		}
		// The deepest part of p that exists, with its links followed, must still be
		// inside the target.
		existing := p
		for !exists(existing) && existing != t {
			existing = filepath.Dir(existing)
		}
		real, err := filepath.EvalSymlinks(existing)
		if err != nil {
			return "", pathErrorf("%s can't be resolved: %v", existing, errors.Unwrap(err))
		}
		if !within(real, realTarget) {
			return "", pathErrorf("%s leads to %s through a symbolic link, outside the restore target %s", existing, real, t)
		}
		return t, nil
	}
	return "", pathErrorf("%s is outside the paths this set may restore to (%s)", p, strings.Join(targets, ", "))
}

// snapshotID is what an admin may type for a snapshot: an ID or its start, or latest.
var snapshotID = regexp.MustCompile(`^[0-9a-f]{6,64}$`)

// FindSnapshot finds the snapshot of s an admin named: "latest" or "" for the newest,
// else an ID or the start of one.
func FindSnapshot(ctx context.Context, tool Tool, s *Set, id string) (Snapshot, error) {
	if id != "" && id != "latest" && !snapshotID.MatchString(id) {
		return Snapshot{}, pathErrorf("%q is not a snapshot ID; !snapshots %s lists them", id, s.Name)
	}
	snaps, err := tool.Snapshots(ctx, s.Repo, 0)
	if err != nil {
		return Snapshot{}, err
	}
	if len(snaps) == 0 {
		return Snapshot{}, pathErrorf("the repository of %s holds no snapshot of this set", s.Name)
	}
	if id == "" || id == "latest" {
		return snaps[0], nil
	}
	var found []Snapshot
	for _, sn := range snaps {
		if strings.HasPrefix(sn.ID, id) {
			found = append(found, sn)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Snapshot{}, pathErrorf("%s has no snapshot %s; !snapshots %s lists them", s.Name, id, s.Name)
	default:
		return Snapshot{}, pathErrorf("%s is the start of %d snapshots' IDs; give more of it", id, len(found))
	}
}

// Lookup returns what lies at path in the snapshot.
func Lookup(ctx context.Context, tool Tool, s *Set, snap Snapshot, path string) (Node, error) {
	nodes, err := tool.List(ctx, s.Repo, snap.ID, path, false)
	if err != nil {
		return Node{}, err
	}
	for _, n := range nodes {
		if n.Path == path {
			return n, nil
		}
	}
	return Node{}, pathErrorf("snapshot %s of %s holds nothing at %s; !browse %s %s / shows what it holds", snap.ShortID, s.Name, path, s.Name, snap.ShortID)
}

// Restored is what a restore wrote.
type Restored struct {
	// Dir is where path was restored: a staging directory, or path itself.
	Dir          string
	Files        int
	Bytes        int64
	Snapshot     string
	Duration     time.Duration
	Aside        string // in place: where the replaced files are kept
	RunID        int64
	ReplacedNone bool // in place: nothing was at the path before
	// NotStarted are the containers that did not start again, with why.
	NotStarted []string
}

// Containers stops and starts the containers an in-place restore must not run beside.
type Containers interface {
	// Running reports whether the container runs now.
	Running(ctx context.Context, ref string) (bool, error)
	Stop(ctx context.Context, ref string) (wasRunning bool, err error)
	Start(ctx context.Context, ref string) error
}

// Restorer restores from backup sets and records each restore as a backup run, step
// by step for an in-place one, so a restore a stop cut short can be put right.
type Restorer struct {
	Tool       Tool
	Runs       Runs
	StagingDir string
	Containers Containers
	Now        func() time.Time
	// Hook, when set, is called after each step of an in-place restore is recorded
	// (crash tests use it).
	Hook func(step string)

	// inPlace lets one in-place restore (or undo) run at a time: two could stop
	// and start the same containers, or set aside the same files.
	inPlace sync.Mutex
}

// restoreState is what an in-place restore records before each step, so a stop
// half-way can be put right.
type restoreState struct {
	Path     string `json:"path"`
	InPlace  bool   `json:"in_place"`
	Snapshot string `json:"snapshot"`
	// Stopped are the containers the restore stops, each recorded before it is
	// stopped, so a stop cut short leaves none that nobody starts again.
	Stopped []string `json:"stopped,omitempty"`
	// NotStarted are those of Stopped that failed to start again: the set's check
	// alerts about each while it doesn't run.
	NotStarted []string `json:"not_started,omitempty"`
	// Moving is the file (device and inode) about to be moved into place at Path,
	// recorded before the move, so that after a stop a path recreated meanwhile
	// (Docker makes a missing bind-mount source anew) is not taken for it.
	Moving *fileID `json:"moving,omitempty"`
	// Aside is where the live files were set aside (empty: there were none).
	Aside string `json:"aside,omitempty"`
	// Scratch is the folder restic restores into, beside the path, before the
	// restored files are moved into place.
	Scratch string `json:"scratch,omitempty"`
	// Undoes is the restore an undo reverses, and From the files it puts back.
	Undoes int64  `json:"undoes,omitempty"`
	From   string `json:"from,omitempty"`
}

// The steps of an in-place restore, each recorded before it is taken and told to
// its progress.
const (
	StepStopContainers  = "stop_containers"
	StepSetAside        = "set_aside"
	StepRestore         = "restore"
	StepStartContainers = "start_containers"
)

// ToStaging restores path from snap into a new directory under the staging
// directory, and reports where and how much.
func (r *Restorer) ToStaging(ctx context.Context, s *Set, snap Snapshot, path string) (*Restored, error) {
	started := r.Now()
	run := &state.BackupRun{Set: s.Name, Kind: KindRestore, Started: started, Snapshot: snap.ShortID, Step: StepRestore}
	run.State = mustJSON(restoreState{Path: path, Snapshot: snap.ID})
	if err := r.Runs.Start(ctx, run); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.StagingDir, 0o700); err != nil {
		return nil, r.fail(ctx, run, err)
	}
	dir, err := os.MkdirTemp(r.StagingDir, fmt.Sprintf("%s-%s-%s-", s.Name, snap.ShortID, started.UTC().Format("20060102-150405")))
	if err != nil {
		return nil, r.fail(ctx, run, err)
	}
	if err := r.Tool.Restore(ctx, s.Repo, snap.ID, []string{path}, dir); err != nil {
		return nil, r.fail(ctx, run, err)
	}
	res := &Restored{Dir: filepath.Join(dir, filepath.FromSlash(path)), Snapshot: snap.ShortID, RunID: run.ID}
	if _, err := os.Lstat(res.Dir); err != nil {
		return nil, r.fail(ctx, run, fmt.Errorf("restic restored nothing at %s", path))
	}
	res.Files, res.Bytes = measure(res.Dir)
	res.Duration = r.Now().Sub(started)
	run.Detail = fmt.Sprintf("%s from snapshot %s to %s: %d files, %s, in %s", path, snap.ShortID, res.Dir, res.Files, HumanBytes(res.Bytes), res.Duration.Round(100*time.Millisecond))
	return res, r.finish(ctx, run, OutcomeOK)
}

// InPlace restores path from snap over the live path: it stops the set's containers,
// sets the live files aside (kept, so the restore can be undone), has restic restore
// into a scratch folder beside the path (so nothing outside it is touched, not even
// the folders above it), moves the restored files into place, and starts the
// containers again. Every step is recorded before it is taken. undoes, when set, is
// the restore this one undoes: the files it set aside are put back instead.
func (r *Restorer) InPlace(ctx context.Context, s *Set, snap Snapshot, path string, undoes *state.BackupRun, progress func(step string)) (*Restored, error) {
	st := restoreState{Path: path, InPlace: true, Snapshot: snap.ID}
	if undoes != nil {
		var undoState restoreState
		if err := json.Unmarshal([]byte(undoes.State), &undoState); err != nil || undoState.Aside == "" {
			return nil, pathErrorf("restore %d kept no files to put back", undoes.ID)
		}
		if !exists(undoState.Aside) {
			return nil, pathErrorf("the files restore %d replaced are no longer at %s", undoes.ID, undoState.Aside)
		}
		st.Undoes, st.From, st.Path, path = undoes.ID, undoState.Aside, undoState.Path, undoState.Path
	}
	if _, err := InTargets(path, s.RestoreTargets); err != nil {
		return nil, err
	}
	r.inPlace.Lock()
	defer r.inPlace.Unlock()
	started := r.Now()
	run := &state.BackupRun{Set: s.Name, Kind: KindRestore, Started: started, Snapshot: snap.ShortID, Step: StepStopContainers, State: mustJSON(st)}
	if err := r.Runs.Start(ctx, run); err != nil {
		return nil, err
	}
	// What follows a change must be finished even when a shutdown ends ctx: the
	// live files back, the containers running, the outcome recorded.
	ctx = context.WithoutCancel(ctx)
	failed := func(err error) (*Restored, error) {
		run.State = mustJSON(st) // with the containers that did not start again
		return nil, r.fail(ctx, run, err)
	}
	told := ""
	tell := func(step string) {
		if progress != nil && step != told {
			told = step
			progress(step)
		}
	}
	save := func(step string) error {
		run.Step, run.State = step, mustJSON(st)
		if err := r.Runs.Save(ctx, run); err != nil {
			return err
		}
		if r.Hook != nil {
			r.Hook(step)
		}
		tell(step)
		return nil
	}
	if len(s.Containers) > 0 {
		tell(StepStopContainers)
	}
	for _, c := range s.Containers {
		running, err := r.Containers.Running(ctx, c)
		if err != nil {
			r.startAgain(ctx, &st)
			return failed(fmt.Errorf("look at container %s: %w", c, err))
		}
		if !running {
			continue
		}
		// Recorded before it is stopped: starting a container that still runs
		// after a stop cut this short does no harm; one stopped and forgotten does.
		st.Stopped = append(st.Stopped, c)
		if err = save(StepStopContainers); err != nil {
			st.Stopped = st.Stopped[:len(st.Stopped)-1]
			r.startAgain(ctx, &st)
			return failed(err)
		}
		if _, err = r.Containers.Stop(ctx, c); err != nil {
			r.startAgain(ctx, &st)
			return failed(fmt.Errorf("stop container %s: %w", c, err))
		}
	}
	// The containers had the tree to themselves until they stopped: look again.
	if _, err := InTargets(path, s.RestoreTargets); err != nil {
		r.startAgain(ctx, &st)
		return failed(err)
	}
	res := &Restored{Dir: path, Snapshot: snap.ShortID, RunID: run.ID}
	parent := filepath.Dir(path)
	if exists(path) {
		st.Aside = filepath.Join(parent, fmt.Sprintf(".steward-restore-%d-%s", run.ID, filepath.Base(path)))
	} else {
		res.ReplacedNone = true
	}
	if undoes == nil {
		st.Scratch = filepath.Join(parent, fmt.Sprintf(".steward-restore-%d-new", run.ID))
	}
	if err := save(StepSetAside); err != nil {
		r.startAgain(ctx, &st)
		return failed(err)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		r.startAgain(ctx, &st)
		return failed(err)
	}
	if st.Aside != "" {
		if err := os.Rename(path, st.Aside); err != nil {
			r.startAgain(ctx, &st)
			return failed(fmt.Errorf("set the live files aside: %w", err))
		}
	}
	if err := save(StepRestore); err != nil {
		return failed(r.putBack(ctx, &st, err))
	}
	record := func() error { // the state alone, within a step
		run.State = mustJSON(st)
		return r.Runs.Save(ctx, run)
	}
	if err := r.putInPlace(ctx, s, &st, record); err != nil {
		return failed(r.putBack(ctx, &st, err))
	}
	if err := save(StepStartContainers); err != nil {
		l := logger(ctx, s.Name)
		l.Err(err).Msg("Failed to record a restore's progress; going on")
	}
	r.startAgain(ctx, &st)
	res.Aside, res.NotStarted = st.Aside, st.NotStarted
	res.Files, res.Bytes = measure(path)
	res.Duration = r.Now().Sub(started)
	what := fmt.Sprintf("from snapshot %s", snap.ShortID)
	if undoes != nil {
		what = fmt.Sprintf("as it was before restore %d", undoes.ID)
	}
	run.Detail = fmt.Sprintf("%s restored in place %s: %d files, %s, in %s", path, what, res.Files, HumanBytes(res.Bytes), res.Duration.Round(100*time.Millisecond))
	if st.Aside != "" {
		run.Detail += "; the files it replaced are kept at " + st.Aside
	}
	run.Detail += notStarted(st)
	run.State = mustJSON(st)
	return res, r.finish(ctx, run, OutcomeOK)
}

// putInPlace writes the restore's files at the path, which is free (its live files
// were set aside): an undo moves back what was set aside; a restore has restic
// restore into the scratch folder and moves the result into place.
func (r *Restorer) putInPlace(ctx context.Context, s *Set, st *restoreState, record func() error) error {
	from := st.From
	if from == "" {
		defer os.RemoveAll(st.Scratch)
		if err := os.Mkdir(st.Scratch, 0o700); err != nil {
			return err
		}
		if err := r.Tool.Restore(ctx, s.Repo, st.Snapshot, []string{st.Path}, st.Scratch); err != nil {
			return err
		}
		from = filepath.Join(st.Scratch, filepath.FromSlash(st.Path))
	}
	id, ok := identify(from)
	if !ok {
		if st.From != "" {
			return fmt.Errorf("the files to put back are no longer at %s", st.From)
		}
		return fmt.Errorf("restic restored nothing at %s", st.Path)
	}
	st.Moving = &id
	if err := record(); err != nil {
		return err
	}
	return os.Rename(from, st.Path)
}

// fileID names a file by its device and inode, which a rename keeps.
type fileID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

func identify(path string) (fileID, bool) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return fileID{}, false
	}
	return fileID{Dev: uint64(st.Dev), Ino: st.Ino}, true
}

// movedIntoPlace reports whether the path holds the files the restore moved there.
func movedIntoPlace(st restoreState) bool {
	if st.Moving == nil {
		return false
	}
	id, ok := identify(st.Path)
	return ok && id == *st.Moving
}

// putBack undoes a restore that failed (cause) after the live files were set aside:
// they come back, over an empty folder that appeared at the path meanwhile (Docker
// makes a missing bind-mount source anew). Anything else at the path is kept, and the
// error says where the live files are. It never deletes files, and it starts the
// containers again.
func (r *Restorer) putBack(ctx context.Context, st *restoreState, cause error) error {
	defer r.startAgain(ctx, st)
	if st.Scratch != "" {
		_ = os.RemoveAll(st.Scratch)
	}
	if where := putAsideBack(st); where != "" {
		return &AsideError{Err: cause, Where: where}
	}
	return cause
}

// AsideError is a failed in-place restore whose live files could not be put back
// at the path; Where says where they are, for the admins.
type AsideError struct {
	Err   error
	Where string
}

func (e *AsideError) Error() string { return e.Err.Error() + "; " + e.Where }
func (e *AsideError) Unwrap() error { return e.Err }

// putAsideBack moves the files set aside back to the path; it returns "" when they
// are back (or were never moved), else where they are and why.
func putAsideBack(st *restoreState) string {
	if st.Aside == "" || !exists(st.Aside) {
		return ""
	}
	if exists(st.Path) {
		if !emptyDir(st.Path) {
			return fmt.Sprintf("%s holds files written since, so the live files were left at %s", st.Path, st.Aside)
		}
		if err := os.Remove(st.Path); err != nil {
			return fmt.Sprintf("the live files are at %s (putting them back failed: %v)", st.Aside, err)
		}
	}
	if err := os.Rename(st.Aside, st.Path); err != nil {
		return fmt.Sprintf("the live files are at %s (putting them back failed: %v)", st.Aside, err)
	}
	return ""
}

// emptyDir reports whether path is a folder with nothing in it.
func emptyDir(path string) bool {
	info, err := os.Lstat(path)
	if err != nil || !info.IsDir() {
		return false
	}
	entries, err := os.ReadDir(path)
	return err == nil && len(entries) == 0
}

// startAgain starts the containers the restore stopped. One that fails to start is
// kept in st.NotStarted: it was stopped through the engine, so the container monitor
// takes it for stopped on purpose, and the set's check alerts about it instead.
func (r *Restorer) startAgain(ctx context.Context, st *restoreState) {
	st.NotStarted = nil
	for _, c := range st.Stopped {
		if err := r.Containers.Start(context.WithoutCancel(ctx), c); err != nil {
			l := logger(ctx, "")
			l.Err(err).Str("container", c).Msg("Failed to start a container again after a restore")
			st.NotStarted = append(st.NotStarted, c)
		}
	}
}

// notStarted tells, for a run's detail, which containers did not start again.
func notStarted(st restoreState) string {
	switch len(st.NotStarted) {
	case 0:
		return ""
	case 1:
		return "; container " + st.NotStarted[0] + " did not start again: start it by hand"
	default:
		return "; containers " + strings.Join(st.NotStarted, ", ") + " did not start again: start them by hand"
	}
}

func (r *Restorer) fail(ctx context.Context, run *state.BackupRun, err error) error {
	run.Detail = err.Error()
	var st restoreState
	if json.Unmarshal([]byte(run.State), &st) == nil && st.InPlace {
		run.Detail += notStarted(st)
	}
	if saveErr := r.finish(ctx, run, OutcomeFailed); saveErr != nil {
		return errors.Join(err, saveErr)
	}
	return err
}

func (r *Restorer) finish(ctx context.Context, run *state.BackupRun, outcome string) error {
	run.Outcome, run.Finished = outcome, r.Now()
	return r.Runs.Save(context.WithoutCancel(ctx), run)
}

// Recover settles the runs a stop cut short. A check or drill is closed as
// interrupted (it runs again). An in-place restore is put right: when its files had
// been moved into place (the path holds the very files it moved, not a folder made
// anew meanwhile) it is complete (and can be undone); otherwise the live files come
// back, or the report says where they are. Either way its containers start again,
// and the report names any that didn't. It returns the restores, with Detail saying
// what was and was not restored.
func (r *Restorer) Recover(ctx context.Context, unfinished []*state.BackupRun) []*state.BackupRun {
	var done []*state.BackupRun
	for _, run := range unfinished {
		run.Outcome, run.Finished = OutcomeInterrupted, r.Now()
		if run.Kind != KindRestore {
			run.Detail = "Steward stopped while it ran"
			_ = r.Runs.Save(ctx, run)
			continue
		}
		var st restoreState
		_ = json.Unmarshal([]byte(run.State), &st)
		moved := run.Step == StepStartContainers || (run.Step == StepRestore && movedIntoPlace(st))
		switch {
		case !st.InPlace:
			run.Detail = fmt.Sprintf("Steward stopped while it restored %s to the staging folder; that copy may be incomplete (the live files were not touched)", st.Path)
		case moved:
			if st.Scratch != "" {
				_ = os.RemoveAll(st.Scratch)
			}
			r.startAgain(ctx, &st)
			run.Outcome = OutcomeOK // complete: it can be undone
			run.Detail = fmt.Sprintf("%s had been restored in place when Steward stopped, so the restore is complete", st.Path)
			if st.Aside != "" {
				run.Detail += "; the files it replaced are kept at " + st.Aside
			}
		default:
			if st.Scratch != "" {
				_ = os.RemoveAll(st.Scratch)
			}
			if where := putAsideBack(&st); where != "" {
				run.Detail = fmt.Sprintf("Steward stopped while it restored %s in place (at step %s); nothing was restored, and %s", st.Path, run.Step, where)
			} else {
				run.Detail = fmt.Sprintf("Steward stopped while it restored %s in place (at step %s); nothing was restored, and the live files are as they were", st.Path, run.Step)
			}
			r.startAgain(ctx, &st)
		}
		if st.InPlace {
			if len(st.Stopped) > 0 && len(st.NotStarted) == 0 {
				run.Detail += "; its containers were started again"
			}
			run.Detail += notStarted(st)
			run.State = mustJSON(st)
		}
		if err := r.Runs.Save(ctx, run); err != nil {
			l := logger(ctx, run.Set)
			l.Err(err).Msg("Failed to record an interrupted restore")
		}
		done = append(done, run)
	}
	return done
}

// NotStarted returns the containers an in-place restore run stopped and failed to
// start again.
func NotStarted(run *state.BackupRun) []string {
	var st restoreState
	_ = json.Unmarshal([]byte(run.State), &st)
	return st.NotStarted
}

// measure counts the regular files under path and their bytes.
func measure(path string) (files int, bytes int64) {
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			files++
			bytes += info.Size()
		}
		return nil
	})
	return files, bytes
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// RestoreState reads the path, the files set aside and the restore it undid from a
// restore run.
func RestoreState(run *state.BackupRun) (path, aside string, inPlace bool) {
	var st restoreState
	_ = json.Unmarshal([]byte(run.State), &st)
	return st.Path, st.Aside, st.InPlace
}
