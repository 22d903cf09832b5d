// Command backups measures what watching backups costs: a restore drill on a restic
// repository of 10,000 files, and the overview !backups shows for 10 sets, through
// the same code Steward runs (package backup) and Debian's restic. It prints the
// times, Steward's own peak heap and restic's peak resident memory. Run it with
// `make bench-backups`.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/steward-bot/steward/backup"
	"github.com/steward-bot/steward/state"
)

const (
	drillRepoFiles = 10000
	rounds         = 5
	sets           = 10
	setFiles       = 1000
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-backups:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "steward-bench-backups-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tool := &backup.Restic{CacheDir: filepath.Join(dir, "cache")}

	fmt.Printf("Making a repository of %d files...\n", drillRepoFiles)
	big, err := makeRepo(ctx, filepath.Join(dir, "big"), drillRepoFiles)
	if err != nil {
		return err
	}
	for _, files := range []int{20, 200} {
		set := &backup.Set{Name: "big", Repo: big, DrillFiles: files}
		var times []time.Duration
		peak := watchHeap()
		for range rounds {
			start := time.Now()
			res, err := backup.Drill(ctx, tool, set, filepath.Join(dir, "scratch"))
			if err != nil {
				return fmt.Errorf("drill: %w", err)
			}
			times = append(times, time.Since(start))
			if res.Files != files {
				return fmt.Errorf("drill restored %d files, want %d", res.Files, files)
			}
		}
		heap := peak()
		fmt.Printf("Drill of %d files from %d (%d rounds): min %s, median %s, max %s; Steward's heap peak %.1f MiB; restic's peak RSS %.1f MiB\n",
			files, drillRepoFiles, rounds, slices.Min(times).Round(time.Millisecond), median(times).Round(time.Millisecond),
			slices.Max(times).Round(time.Millisecond), mib(heap), mib(childMaxRSS()))
	}

	fmt.Printf("Making %d repositories of %d files...\n", sets, setFiles)
	var all []*backup.Set
	for i := range sets {
		repo, err := makeRepo(ctx, filepath.Join(dir, fmt.Sprintf("set%02d", i)), setFiles)
		if err != nil {
			return err
		}
		all = append(all, &backup.Set{Name: fmt.Sprintf("set%02d", i), Repo: repo, Every: 24 * time.Hour})
	}
	desk := backup.NewManager(all)
	desk.Tool, desk.RunStore, desk.Now = tool, noRuns{}, time.Now
	for _, round := range []string{"first (sizes measured)", "again (sizes known)"} {
		peak := watchHeap()
		start := time.Now()
		overview := desk.Overview(ctx)
		took := time.Since(start)
		for _, o := range overview {
			if o.Err != nil || o.Newest == nil {
				return fmt.Errorf("overview of %s: %v", o.Set.Name, o.Err)
			}
		}
		fmt.Printf("!backups of %d sets, %s: %s; Steward's heap peak %.1f MiB\n", sets, round, took.Round(time.Millisecond), mib(peak()))
	}
	return nil
}

// makeRepo writes files of random sizes (100 B to 8 KiB) in 100 folders and takes a
// snapshot of them.
func makeRepo(ctx context.Context, dir string, files int) (backup.Repo, error) {
	data := filepath.Join(dir, "data")
	buf := make([]byte, 8192)
	for i := range files {
		sub := filepath.Join(data, fmt.Sprintf("d%02d", i%100))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return backup.Repo{}, err
		}
		for j := range buf {
			buf[j] = byte(rand.IntN(256))
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%05d", i)), buf[:100+rand.IntN(8092)], 0o644); err != nil {
			return backup.Repo{}, err
		}
	}
	repo := backup.Repo{Location: filepath.Join(dir, "repo"), PasswordFile: filepath.Join(dir, "password")}
	if err := os.WriteFile(repo.PasswordFile, []byte("bench\n"), 0o600); err != nil {
		return repo, err
	}
	for _, args := range [][]string{{"init"}, {"backup", data}} {
		cmd := exec.CommandContext(ctx, "restic", append([]string{"-r", repo.Location, "--password-file", repo.PasswordFile, "-q", "--no-cache"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return repo, fmt.Errorf("restic %s: %v: %s", args[0], err, out)
		}
	}
	return repo, nil
}

// watchHeap samples the heap in use until the returned function is called, which
// returns the peak.
func watchHeap() func() uint64 {
	runtime.GC()
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// childMaxRSS is the largest resident memory of any restic run so far, in bytes.
func childMaxRSS() uint64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return uint64(ru.Maxrss) * 1024
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// noRuns is an empty record of runs: the overview's check and drill columns.
type noRuns struct{}

func (noRuns) Start(context.Context, *state.BackupRun) error { return nil }
func (noRuns) Save(context.Context, *state.BackupRun) error  { return nil }
func (noRuns) Latest(context.Context, string, string, string) (*state.BackupRun, error) {
	return nil, nil
}
func (noRuns) Get(context.Context, int64) (*state.BackupRun, error) { return nil, nil }
func (noRuns) LatestDone(context.Context, string, string) (*state.BackupRun, error) {
	return nil, nil
}

func (noRuns) LatestInPlace(context.Context, string) (*state.BackupRun, error) { return nil, nil }
