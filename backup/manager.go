package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Manager carries out what the admins ask of the backup sets: it shows them, browses
// and restores their snapshots, and makes a backup now.
type Manager struct {
	sets     []*Set
	Tool     Tool
	RunStore interface {
		Runs
		Get(ctx context.Context, id int64) (*state.BackupRun, error)
	}
	Restorer  *Restorer
	Scheduler *Scheduler
	Now       func() time.Time
	// RunTimeout bounds a backup command started by !backup.
	RunTimeout time.Duration

	sizesMu sync.Mutex
	sizes   map[string]Stats // by snapshot ID: a snapshot never changes
}

// NewManager makes a manager of sets, which the caller then equips with the tool,
// the run store, the restorer and the scheduler.
func NewManager(sets []*Set) *Manager { return &Manager{sets: sets, sizes: make(map[string]Stats)} }

// Sets lists the sets in config order, which is also the order Overview (and so
// !backups) keeps.
func (d *Manager) Sets() []*Set { return d.sets }

// Set returns the set named name exactly as the config spells it; false when no
// set has that name, for the command to say so.
func (d *Manager) Set(name string) (*Set, bool) {
	for _, s := range d.sets {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// Overview is a set at a glance, for !backups and the weekly summary.
type Overview struct {
	Set *Set
	// Newest is the newest snapshot; nil when there is none or Err says why.
	Newest *Snapshot
	Size   Stats
	Stale  bool
	// LastCheck is the latest integrity check; LastDrill the latest successful
	// drill; LastFailedDrill the latest drill, when it failed.
	LastCheck, LastDrill, LastFailedDrill *state.BackupRun
	// Offsite says how the set's off-site copy stands, in a few words.
	Offsite string
	Err     error
}

// overviewParallel is how many sets Overview reads at once: restic spends most of a
// short run deriving the repository key, which is CPU work.
const overviewParallel = 4

// Overview looks at every set, a few at once; a set whose repository can't be read
// says so in its Err.
func (d *Manager) Overview(ctx context.Context) []Overview {
	now := d.Now()
	out := make([]Overview, len(d.sets))
	var wg sync.WaitGroup
	slots := make(chan struct{}, overviewParallel)
	for i, s := range d.sets {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			out[i] = d.overview(ctx, s, now)
		})
	}
	wg.Wait()
	return out
}

func (d *Manager) overview(ctx context.Context, s *Set, now time.Time) Overview {
	o := Overview{Set: s}
	snaps, err := d.Tool.Snapshots(ctx, s.Repo, 1)
	switch {
	case err != nil:
		o.Err = err
	case len(snaps) > 0:
		o.Newest = &snaps[0]
		o.Stale = now.Sub(snaps[0].Time) > s.Due()
		o.Size, err = d.size(ctx, s, snaps[0].ID)
		if err != nil {
			o.Err = err
		}
	default:
		o.Stale = true
	}
	o.LastCheck, _ = d.RunStore.Latest(ctx, s.Name, KindCheck, "")
	o.LastDrill, _ = d.RunStore.Latest(ctx, s.Name, KindDrill, OutcomeOK)
	if last, _ := d.RunStore.Latest(ctx, s.Name, KindDrill, ""); last != nil && last.Outcome == OutcomeFailed {
		o.LastFailedDrill = last
	}
	o.Offsite = d.offsite(ctx, s, now)
	return o
}

// offsite says how s's off-site copy stands.
func (d *Manager) offsite(ctx context.Context, s *Set, now time.Time) string {
	switch {
	case s.Offsite:
		if same, _ := sameDisk(s); same {
			return "is an off-site copy, but on the same disk as its data"
		}
		return "is an off-site copy"
	case s.OffsiteCopy == "":
		return "none"
	}
	c, ok := d.Set(s.OffsiteCopy)
	if !ok {
		return "none"
	}
	newest, err := Newest(ctx, d.Tool, c.Repo)
	switch {
	case err != nil:
		return c.Name + ": can't be read"
	case newest.IsZero():
		return c.Name + ": no snapshot"
	case now.Sub(newest) > c.Due():
		return c.Name + ": stale, " + render.Duration(now.Sub(newest)) + " old"
	default:
		return c.Name + ": fresh, " + render.Duration(now.Sub(newest)) + " old"
	}
}

// size measures a snapshot once; snapshots don't change.
func (d *Manager) size(ctx context.Context, s *Set, snapshotID string) (Stats, error) {
	d.sizesMu.Lock()
	st, ok := d.sizes[snapshotID]
	d.sizesMu.Unlock()
	if ok {
		return st, nil
	}
	st, err := d.Tool.Stats(ctx, s.Repo, snapshotID)
	if err != nil {
		return Stats{}, err
	}
	d.sizesMu.Lock()
	d.sizes[snapshotID] = st
	d.sizesMu.Unlock()
	return st, nil
}

// Snapshots lists s's newest n snapshots, newest first (all of them when n <= 0),
// asking the tool each time: unlike sizes, the list is not cached.
func (d *Manager) Snapshots(ctx context.Context, s *Set, n int) ([]Snapshot, error) {
	return d.Tool.Snapshots(ctx, s.Repo, n)
}

// Browse lists what lies directly under path in the snapshot an admin named.
func (d *Manager) Browse(ctx context.Context, s *Set, id, path string) (Snapshot, []Node, error) {
	snap, err := FindSnapshot(ctx, d.Tool, s, id)
	if err != nil {
		return Snapshot{}, nil, err
	}
	if path, err = CleanPath(path); err != nil {
		return snap, nil, err
	}
	nodes, err := d.Tool.List(ctx, s.Repo, snap.ID, path, false)
	if err != nil {
		return snap, nil, err
	}
	out := nodes[:0]
	for _, n := range nodes {
		if n.Path != path { // ls lists the path itself first
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		if _, err = Lookup(ctx, d.Tool, s, snap, path); err != nil {
			return snap, nil, err
		}
	}
	return snap, out, nil
}

// Find resolves what an admin asked to restore: the snapshot and the path in it.
func (d *Manager) Find(ctx context.Context, s *Set, id, path string) (Snapshot, Node, error) {
	path, err := CleanPath(path)
	if err != nil {
		return Snapshot{}, Node{}, err
	}
	snap, err := FindSnapshot(ctx, d.Tool, s, id)
	if err != nil {
		return Snapshot{}, Node{}, err
	}
	node, err := Lookup(ctx, d.Tool, s, snap, path)
	return snap, node, err
}

// Run returns the backup run with id (a restore to undo).
func (d *Manager) Run(ctx context.Context, id int64) (*state.BackupRun, error) {
	return d.RunStore.Get(ctx, id)
}

// ToStaging restores path to a new directory under the staging directory, leaving
// the live files alone, which is why such a !restore needs neither approval nor a
// verified device.
func (d *Manager) ToStaging(ctx context.Context, s *Set, snap Snapshot, path string) (*Restored, error) {
	return d.Restorer.ToStaging(ctx, s, snap, path)
}

// InPlace restores path over the live files (or undoes an in-place restore).
func (d *Manager) InPlace(ctx context.Context, s *Set, snap Snapshot, path string, undoes *state.BackupRun, progress func(step string)) (*Restored, error) {
	return d.Restorer.InPlace(ctx, s, snap, path, undoes, progress)
}

// BackupResult is what !backup came to.
type BackupResult struct {
	Snapshot *Snapshot // the newest snapshot after the command, if it is new
	Output   string    // the command's last lines
	Duration time.Duration
}

// BackupNow runs s's backup command and looks for the snapshot it made. The command
// runs without a shell, with Steward's environment.
func (d *Manager) BackupNow(ctx context.Context, s *Set) (*BackupResult, error) {
	if len(s.Run) == 0 {
		return nil, pathErrorf("set %s has no backup command (backups.sets[].run)", s.Name)
	}
	started := d.Now()
	run := &state.BackupRun{Set: s.Name, Kind: KindBackup, Started: started}
	if err := d.RunStore.Start(ctx, run); err != nil {
		return nil, err
	}
	before, _ := Newest(ctx, d.Tool, s.Repo)
	timeout := d.RunTimeout
	if timeout <= 0 {
		timeout = 6 * time.Hour
	}
	cmdCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cmdCtx, s.Run[0], s.Run[1:]...)
	cmd.Env = ChildEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limitedWriter{w: &out, n: 64 << 10}, &limitedWriter{w: &out, n: 64 << 10}
	cmd.WaitDelay = 10 * time.Second
	dieWithSteward(cmd)
	runErr := cmd.Run()
	res := &BackupResult{Output: lastLines(string(bytes.TrimSpace(out.Bytes())), 10), Duration: d.Now().Sub(started)}
	snaps, err := d.Tool.Snapshots(ctx, s.Repo, 1)
	if err == nil && len(snaps) > 0 && snaps[0].Time.After(before) {
		res.Snapshot = &snaps[0]
		run.Snapshot = snaps[0].ShortID
	}
	run.Outcome, run.Finished = OutcomeOK, d.Now()
	switch {
	case runErr != nil:
		run.Outcome, run.Detail = OutcomeFailed, fmt.Sprintf("%s failed: %v", s.Run[0], runErr)
	case res.Snapshot == nil:
		run.Outcome, run.Detail = OutcomeFailed, s.Run[0]+" ended without error, but no new snapshot appeared"
		if err != nil {
			run.Detail += " (" + err.Error() + ")"
		}
	default:
		run.Detail = fmt.Sprintf("snapshot %s in %s", res.Snapshot.ShortID, res.Duration.Round(time.Second))
	}
	if err = d.RunStore.Save(ctx, run); err != nil {
		return res, err
	}
	if d.Scheduler != nil && d.Scheduler.Done != nil {
		d.Scheduler.Done(s.Name) // the set may be fresh again
	}
	if run.Outcome != OutcomeOK {
		return res, errors.New(run.Detail)
	}
	return res, nil
}
