package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/redact"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// The kinds of backup run.
const (
	KindCheck   = "check"
	KindDrill   = "drill"
	KindBackup  = "backup"
	KindRestore = "restore"
)

// The outcomes of a backup run.
const (
	OutcomeOK          = "ok"
	OutcomeFailed      = "failed"
	OutcomeInterrupted = "interrupted"
)

// Set is one backup set, as Steward watches it.
type Set struct {
	Name string
	Repo Repo
	// Every is how often a snapshot is expected; Grace how much later it may be.
	Every, Grace time.Duration
	// Offsite marks the set as an off-site copy; OffsiteCopy names the set that
	// holds this one's.
	Offsite     bool
	OffsiteCopy string
	// DataPaths, for an off-site copy, are the live data it must not share a disk
	// with: its own paths and those of the sets it is the copy of.
	DataPaths []string
	// Run is the command that makes a backup now.
	Run []string
	// RestoreTargets are where an in-place restore may write.
	RestoreTargets []string
	// Containers are stopped during an in-place restore.
	Containers []string
	// CheckEvery and ReadData schedule restic check; DrillEvery and DrillFiles
	// the restore drills. A zero interval is off.
	CheckEvery time.Duration
	ReadData   string
	DrillEvery time.Duration
	DrillFiles int
}

// Due is how late a snapshot may be before the set is stale.
func (s *Set) Due() time.Duration { return s.Every + s.Grace }

// Runs keeps the record of backup runs (state.BackupRuns).
type Runs interface {
	Start(ctx context.Context, run *state.BackupRun) error
	Save(ctx context.Context, run *state.BackupRun) error
	Latest(ctx context.Context, set, kind, outcome string) (*state.BackupRun, error)
	LatestDone(ctx context.Context, set, kind string) (*state.BackupRun, error)
	LatestInPlace(ctx context.Context, set string) (*state.BackupRun, error)
}

// Check watches one set for the alert engine: its newest snapshot's age, the last
// integrity check and drill, and its off-site copy.
type Check struct {
	Set *Set
	// Copy is the set holding Set's off-site copy, when it has one.
	Copy *Set
	Tool Tool
	Runs Runs
	// Containers, when set, tells whether the containers the last in-place restore
	// failed to start again run by now.
	Containers interface {
		Running(ctx context.Context, ref string) (bool, error)
	}
	Every time.Duration
	Now   func() time.Time

	mu   sync.Mutex
	wake func()
	// newest is the newest snapshot's time as the last round read it, and read
	// whether a round has; for the metrics, which must not run restic themselves.
	newest time.Time
	read   bool
}

// Newest returns the time of the set's newest snapshot as the last round read it
// (zero when the repository holds none), and false before a round has read it.
func (c *Check) Newest() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.newest, c.read
}

var _ monitor.Check = (*Check)(nil)
var _ monitor.Watcher = (*Check)(nil)

// Name implements monitor.Check.
func (c *Check) Name() string { return "backup:" + c.Set.Name }

// Interval implements monitor.Check.
func (c *Check) Interval() time.Duration { return c.Every }

// Watch implements monitor.Watcher: Wake starts a round at once (after a check or
// drill ended).
func (c *Check) Watch(ctx context.Context, wake func()) {
	c.mu.Lock()
	c.wake = wake
	c.mu.Unlock()
	<-ctx.Done()
}

// Wake starts a round now, when the check is running.
func (c *Check) Wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wake != nil {
		c.wake()
	}
}

// Observe implements monitor.Check.
func (c *Check) Observe(ctx context.Context) ([]monitor.Observation, error) {
	s := c.Set
	now := c.Now()
	base := monitor.Observation{Subject: "backup " + s.Name, Severity: state.SeverityCritical}
	fp := "backup:" + s.Name + ":"
	var obs []monitor.Observation

	newest, err := Newest(ctx, c.Tool, s.Repo)
	c.mu.Lock()
	if err == nil {
		c.newest, c.read = newest, true
	}
	newest, read := c.newest, c.read
	c.mu.Unlock()
	if err != nil {
		// A repository that can't be read at all is the set's own critical alert,
		// which escalates: no backup of it can be restored. Any other failure (the
		// network, a lock) may pass, and is the check's.
		cause, unreadable := Unreadable(err)
		if !unreadable {
			return nil, fmt.Errorf("can't read the snapshots of %s: %s", s.Name, redact.Secrets(err.Error()))
		}
		o := base
		o.Fingerprint = fp + "unreadable"
		o.Summary = fmt.Sprintf("Backup %s can't be read: %s", s.Name, cause)
		first, _, _ := strings.Cut(err.Error(), "\n")
		o.Value = render.Shorten(redact.Secrets(first), 300)
		o.Hint = "check the set's repository and password_file in the config, and that the repository's disk is mounted"
		obs = append(obs, o)
	}
	// While the repository can't be read, the newest snapshot last read still says
	// whether the set is stale, so its stale alert neither resolves nor goes silent.
	if o, stale := staleness(base, s, newest, now); (err == nil || read) && stale {
		o.Fingerprint = fp + "stale"
		obs = append(obs, o)
	}
	for _, kind := range []string{KindCheck, KindDrill} {
		// A run under way keeps the last one's verdict, so the alert doesn't
		// resolve and fire again around each run.
		last, err := c.Runs.LatestDone(ctx, s.Name, kind)
		if err != nil {
			return nil, err
		}
		if last == nil || last.Outcome != OutcomeFailed {
			continue
		}
		o := base
		o.Fingerprint = fp + kind
		if kind == KindCheck {
			o.Summary = fmt.Sprintf("Backup %s failed its integrity check", s.Name)
			o.Hint = "restic check on the repository tells more; the data may be damaged"
		} else {
			o.Summary = fmt.Sprintf("Backup %s failed its restore drill", s.Name)
			o.Hint = "the newest snapshot could not be restored as recorded"
		}
		o.Value = render.Shorten(redact.Secrets(last.Detail), 300)
		obs = append(obs, o)
	}
	if o, ok := c.notStarted(ctx, base); ok {
		o.Fingerprint = fp + "not_started"
		obs = append(obs, o)
	}
	if c.Copy != nil {
		copyNewest, err := Newest(ctx, c.Tool, c.Copy.Repo)
		o := base
		o.Fingerprint, o.Severity = fp+"offsite", state.SeverityWarning
		o.Summary = fmt.Sprintf("Backup %s has no fresh off-site copy", s.Name)
		o.Hint = "its off-site copy is set " + c.Copy.Name
		switch {
		case err != nil:
			o.Value = "can't read the snapshots of " + c.Copy.Name + ": " + render.Shorten(redact.Secrets(err.Error()), 200)
			obs = append(obs, o)
		case !copyNewest.IsZero() && now.Sub(copyNewest) <= c.Copy.Due():
		default:
			o.Value = "newest off-site snapshot: " + ago(copyNewest, now)
			obs = append(obs, o)
		}
	}
	if s.Offsite {
		if same, path := sameDisk(s); same {
			o := base
			o.Fingerprint, o.Severity = fp+"same_disk", state.SeverityWarning
			o.Summary = fmt.Sprintf("Off-site backup %s is on the same disk as its data", s.Name)
			o.Value = "the repository " + s.Repo.Location + " and " + path + " share a file system"
			o.Hint = "an off-site copy must survive the loss of this disk: put it on another machine"
			obs = append(obs, o)
		}
	}
	return obs, nil
}

// notStarted reports the containers the set's last in-place restore stopped and
// failed to start again, while they still don't run. They were stopped through the
// engine, so the container monitor takes them for stopped on purpose.
func (c *Check) notStarted(ctx context.Context, o monitor.Observation) (monitor.Observation, bool) {
	if c.Containers == nil {
		return o, false
	}
	last, err := c.Runs.LatestInPlace(ctx, c.Set.Name)
	if err != nil || last == nil {
		return o, false
	}
	var down []string
	for _, ref := range NotStarted(last) {
		if running, err := c.Containers.Running(ctx, ref); err != nil || !running {
			down = append(down, ref)
		}
	}
	if len(down) == 0 {
		return o, false
	}
	o.Summary = fmt.Sprintf("Backup %s: %s did not start again after restore %d", c.Set.Name, strings.Join(down, ", "), last.ID)
	o.Value = "stopped for the restore, and starting it again failed"
	o.Hint = "start it by hand (docker start) and look at its log"
	return o, true
}

// staleness reports the set as stale when its newest snapshot is older than it may
// be, or there is none.
func staleness(o monitor.Observation, s *Set, newest time.Time, now time.Time) (monitor.Observation, bool) {
	o.Hint = "check the backup job (its timer, its log) on the machine it runs on"
	switch {
	case newest.IsZero():
		o.Summary = fmt.Sprintf("Backup %s has no snapshot", s.Name)
		o.Value = "the repository holds no snapshot of this set"
	case now.Sub(newest) > s.Due():
		o.Summary = fmt.Sprintf("Backup %s is stale", s.Name)
		o.Value = fmt.Sprintf("newest snapshot %s; one is expected every %s", ago(newest, now), render.Duration(s.Every))
	default:
		return o, false
	}
	return o, true
}

// Newest returns the time of repo's newest snapshot; zero when it has none.
func Newest(ctx context.Context, tool Tool, repo Repo) (time.Time, error) {
	snaps, err := tool.Snapshots(ctx, repo, 1)
	if err != nil || len(snaps) == 0 {
		return time.Time{}, err
	}
	return snaps[0].Time, nil
}

// sameDisk reports whether s's local repository shares a file system with one of the
// paths it covers, and which.
func sameDisk(s *Set) (bool, string) {
	if !filepath.IsAbs(s.Repo.Location) {
		return false, ""
	}
	repoDev, ok := device(s.Repo.Location)
	if !ok {
		return false, ""
	}
	for _, p := range s.DataPaths {
		if dev, ok := device(p); ok && dev == repoDev {
			return true, p
		}
	}
	return false, ""
}

func device(path string) (uint64, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, false
	}
	return uint64(st.Dev), true
}

// ago says how long ago t was, the way a person would.
func ago(t, now time.Time) string {
	return render.Duration(now.Sub(t)) + " ago (" + t.UTC().Format("2006-01-02 15:04") + " UTC)"
}

// logger is the context's logger with the set named.
func logger(ctx context.Context, set string) *zerolog.Logger {
	l := zerolog.Ctx(ctx).With().Str("backup_set", set).Logger()
	return &l
}

// exists reports whether path exists (without following a final symlink).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
