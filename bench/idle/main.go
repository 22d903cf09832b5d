// Command idle measures what an idle Steward costs: it starts the test bed (Dendrite,
// the group, Steward in both rooms), lets Steward sit idle for BENCH_IDLE (default 5m),
// and prints its resident memory and CPU use, sampled from /proc every 5 seconds.
// Run it with `make bench-idle`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-idle:", err)
		os.Exit(1)
	}
}

func run() error {
	duration := 5 * time.Minute
	if v := os.Getenv("BENCH_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("BENCH_IDLE: %w", err)
		}
		duration = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "steward-bench-idle-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	w, err := testbed.NewWorld(ctx, dir, func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	defer w.Close()
	if err != nil {
		return err
	}
	// One command first, so the idle figures are those of a bot that has done work.
	if _, err = w.Command(ctx, w.Alice, w.AdminRoom, "!ping"); err != nil {
		return err
	}
	pid := w.Steward.PID()
	startCPU, err := cpuTime(pid)
	if err != nil {
		return err
	}
	start := time.Now()
	var rssMin, rssMax, rssLast int64
	samples := 0
	for time.Since(start) < duration {
		rss, err := residentKiB(pid)
		if err != nil {
			return err
		}
		if samples == 0 || rss < rssMin {
			rssMin = rss
		}
		rssMax, rssLast = max(rssMax, rss), rss
		samples++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	endCPU, err := cpuTime(pid)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	cpu := endCPU - startCPU
	fmt.Printf("idle Steward over %s (%d samples)\n", elapsed.Round(time.Second), samples)
	fmt.Printf("resident memory: min %.1f MiB, max %.1f MiB, last %.1f MiB\n",
		float64(rssMin)/1024, float64(rssMax)/1024, float64(rssLast)/1024)
	fmt.Printf("CPU: %.2f s user+system, %.3f%% of one core\n", cpu.Seconds(), 100*cpu.Seconds()/elapsed.Seconds())
	return nil
}

// residentKiB reads VmRSS from /proc/PID/status.
func residentKiB(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// cpuTime reads user+system time from /proc/PID/stat (fields 14 and 15, in clock ticks
// of 1/100 s on Linux).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it follow the last ')'.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
