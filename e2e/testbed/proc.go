package testbed

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ResidentKiB reads a process's resident memory (VmRSS) from /proc.
func ResidentKiB(pid int) (int64, error) {
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

// CPUTime reads a process's user+system time from /proc (fields 14 and 15 of stat, in
// clock ticks of 1/100 s on Linux).
func CPUTime(pid int) (time.Duration, error) {
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

// Usage is a process's resource use over a span, sampled every few seconds.
type Usage struct {
	Span                   time.Duration
	Samples                int
	RSSMin, RSSMax, RSSEnd int64 // KiB
	CPU                    time.Duration
}

// MeasureUsage samples pid's memory every 5 seconds for span (or until done is
// closed) and returns its use.
func MeasureUsage(pid int, span time.Duration, done <-chan struct{}) (Usage, error) {
	startCPU, err := CPUTime(pid)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	start := time.Now()
	for time.Since(start) < span {
		rss, err := ResidentKiB(pid)
		if err != nil {
			return u, err
		}
		if u.Samples == 0 || rss < u.RSSMin {
			u.RSSMin = rss
		}
		u.RSSMax, u.RSSEnd = max(u.RSSMax, rss), rss
		u.Samples++
		select {
		case <-done:
			return u, fmt.Errorf("interrupted")
		case <-time.After(5 * time.Second):
		}
	}
	endCPU, err := CPUTime(pid)
	u.Span, u.CPU = time.Since(start), endCPU-startCPU
	return u, err
}

// String prints the figures for people.
func (u Usage) String() string {
	return fmt.Sprintf("over %s (%d samples): resident memory min %.1f MiB, max %.1f MiB, last %.1f MiB; CPU %.2f s user+system, %.3f%% of one core",
		u.Span.Round(time.Second), u.Samples, float64(u.RSSMin)/1024, float64(u.RSSMax)/1024, float64(u.RSSEnd)/1024,
		u.CPU.Seconds(), 100*u.CPU.Seconds()/u.Span.Seconds())
}

// BenchSpan reads a measurement span from the environment variable name, or def.
func BenchSpan(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// BenchWorld builds a test bed in a new temporary directory for a benchmark command;
// close stops it and removes the directory (call it even after an error).
func BenchWorld(ctx context.Context, name string, logf func(string, ...any)) (w *World, close func(), err error) {
	dir, err := os.MkdirTemp("", "steward-bench-"+name+"-")
	if err != nil {
		return nil, func() {}, err
	}
	w, err = NewWorld(ctx, dir, logf)
	return w, func() { w.Close(); os.RemoveAll(dir) }, err
}
