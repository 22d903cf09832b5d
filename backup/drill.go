package backup

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// DrillResult is what a restore drill found.
type DrillResult struct {
	Snapshot string
	// Files were restored and had their recorded sizes; Compared of them were also
	// compared byte for byte with the live file, unchanged since the snapshot.
	Files, Compared int
	Bytes           int64
}

// String is the detail recorded with the drill's backup run, and logged when the
// drill passes.
func (r DrillResult) String() string {
	return fmt.Sprintf("%d files (%s) restored from snapshot %s with their recorded sizes; %d of them unchanged since and identical to the live files",
		r.Files, HumanBytes(r.Bytes), r.Snapshot, r.Compared)
}

// Drill restores a random sample of files from s's newest snapshot into a scratch
// directory under scratchRoot, checks them against what the snapshot recorded, and
// removes the scratch copy. restic verifies each piece of data against its recorded
// hash as it restores it; the drill adds the sizes, and for files that have not
// changed since the snapshot, the live file's contents.
func Drill(ctx context.Context, tool Tool, s *Set, scratchRoot string) (DrillResult, error) {
	snaps, err := tool.Snapshots(ctx, s.Repo, 1)
	if err != nil {
		return DrillResult{}, err
	}
	if len(snaps) == 0 {
		return DrillResult{}, errors.New("the repository holds no snapshot of this set to restore")
	}
	snap := snaps[0]
	res := DrillResult{Snapshot: snap.ShortID}
	nodes, err := tool.List(ctx, s.Repo, snap.ID, "/", true)
	if err != nil {
		return res, err
	}
	var files []Node
	for _, n := range nodes {
		if n.Type == "file" {
			files = append(files, n)
		}
	}
	if len(files) == 0 {
		return res, errors.New("the newest snapshot holds no files")
	}
	n := min(s.DrillFiles, len(files))
	sample := make([]Node, 0, n)
	for _, i := range rand.Perm(len(files))[:n] {
		sample = append(sample, files[i])
	}
	if err = os.MkdirAll(scratchRoot, 0o700); err != nil {
		return res, err
	}
	scratch, err := os.MkdirTemp(scratchRoot, "drill-"+s.Name+"-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(scratch)
	include := make([]string, len(sample))
	for i, f := range sample {
		include[i] = f.Path
	}
	if err = tool.Restore(ctx, s.Repo, snap.ID, include, scratch); err != nil {
		return res, err
	}
	for _, f := range sample {
		restored := filepath.Join(scratch, filepath.FromSlash(f.Path))
		st, err := os.Lstat(restored)
		switch {
		case err != nil:
			return res, fmt.Errorf("%s was not restored", f.Path)
		case !st.Mode().IsRegular():
			return res, fmt.Errorf("%s was restored as a %s, not a file", f.Path, st.Mode().Type())
		case st.Size() != f.Size:
			return res, fmt.Errorf("%s was restored with %d bytes; the snapshot recorded %d", f.Path, st.Size(), f.Size)
		}
		res.Files++
		res.Bytes += st.Size()
		same, compared, err := sameAsLive(restored, f)
		if err != nil {
			return res, err
		}
		if compared {
			if !same {
				return res, fmt.Errorf("%s was restored with other contents than the live file, which has not changed since the snapshot", f.Path)
			}
			res.Compared++
		}
	}
	return res, nil
}

// sameAsLive compares a restored file with the live one at the snapshot's path, when
// the live one still has the size and modification time the snapshot recorded.
func sameAsLive(restored string, f Node) (same, compared bool, err error) {
	live := filepath.FromSlash(f.Path)
	st, err := os.Lstat(live)
	if err != nil || !st.Mode().IsRegular() || st.Size() != f.Size || !st.ModTime().Equal(f.MTime) {
		return false, false, nil // changed or gone since: nothing to compare with
	}
	a, err := fileHash(restored)
	if err != nil {
		return false, false, err
	}
	b, err := fileHash(live)
	if err != nil {
		return false, false, nil // unreadable to Steward: not compared
	}
	return bytes.Equal(a, b), true, nil
}

func fileHash(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err = io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// HumanBytes renders n bytes in the largest binary unit (KiB, MiB, …) with one
// decimal, for sizes people read in chat and in the run records.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Scheduler runs each set's integrity checks and restore drills when they are due,
// one at a time (restic is heavy on a small server), and records them.
type Scheduler struct {
	Sets        []*Set
	Tool        Tool
	Runs        Runs
	ScratchRoot string
	Now         func() time.Time
	// Done is told after each run, with the set it was about.
	Done func(set string)
	// Timeout bounds one check or drill (default 6h): a repository that hangs
	// (a stalled sftp connection) fails it, and the others are not held up.
	Timeout time.Duration
}

// Run checks every minute what is due, until ctx ends.
func (sc *Scheduler) Run(ctx context.Context) {
	for {
		for _, s := range sc.Sets {
			if ctx.Err() != nil {
				return
			}
			sc.runIfDue(ctx, s, KindCheck, s.CheckEvery)
			sc.runIfDue(ctx, s, KindDrill, s.DrillEvery)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}

// runIfDue runs kind on s when its last run started every ago or longer (or never).
func (sc *Scheduler) runIfDue(ctx context.Context, s *Set, kind string, every time.Duration) {
	if every <= 0 {
		return
	}
	log := logger(ctx, s.Name)
	last, err := sc.Runs.Latest(ctx, s.Name, kind, "")
	if err != nil {
		log.Err(err).Str("kind", kind).Msg("Failed to read when the set was last looked at")
		return
	}
	// One cut short by a stop runs again now; a run under way is left to end.
	if last != nil && last.Outcome != OutcomeInterrupted && sc.Now().Sub(last.Started) < every {
		return
	}
	if _, err = sc.RunNow(ctx, s, kind); err != nil && ctx.Err() == nil {
		log.Err(err).Str("kind", kind).Msg("Failed to record a backup run")
	}
}

// RunNow runs a check or a drill of s now and records it; it returns the run.
func (sc *Scheduler) RunNow(ctx context.Context, s *Set, kind string) (*state.BackupRun, error) {
	log := logger(ctx, s.Name)
	run := &state.BackupRun{Set: s.Name, Kind: kind, Started: sc.Now()}
	if err := sc.Runs.Start(ctx, run); err != nil {
		return nil, err
	}
	timeout := cmp.Or(sc.Timeout, 6*time.Hour)
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	switch kind {
	case KindCheck:
		err = sc.Tool.Check(runCtx, s.Repo, s.ReadData)
		run.Detail = "restic check, reading " + s.ReadData + " of the data: no errors"
	case KindDrill:
		var res DrillResult
		res, err = Drill(runCtx, sc.Tool, s, sc.ScratchRoot)
		run.Snapshot, run.Detail = res.Snapshot, res.String()
	}
	run.Outcome, run.Finished = OutcomeOK, sc.Now()
	if err != nil && ctx.Err() == nil && runCtx.Err() != nil {
		err = fmt.Errorf("it did not finish within %s; the repository may be unreachable or hanging", render.Duration(timeout))
	}
	if err != nil {
		if ctx.Err() != nil {
			return run, ctx.Err() // stopping: left unfinished, run again next time
		}
		run.Outcome, run.Detail = OutcomeFailed, err.Error()
		log.Warn().Err(err).Str("kind", kind).Msg("Backup run failed")
	} else {
		log.Info().Str("kind", kind).Str("detail", run.Detail).Msg("Backup run passed")
	}
	if err = sc.Runs.Save(ctx, run); err != nil {
		return run, err
	}
	if sc.Done != nil {
		sc.Done(s.Name)
	}
	return run, nil
}
