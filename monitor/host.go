package monitor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/steward-bot/steward/state"
)

// Level is one reading's alert settings.
type Level struct {
	Threshold
	For  time.Duration
	Hint string
}

// HostCheck watches CPU, memory, swap and load. A nil level is not watched.
type HostCheck struct {
	CPU, Memory, Swap, Load *Level
	Every                   time.Duration
}

// Name implements Check.
func (h *HostCheck) Name() string { return "host" }

// Interval implements Check.
func (h *HostCheck) Interval() time.Duration { return h.Every }

// Observe implements Check.
func (h *HostCheck) Observe(ctx context.Context) ([]Observation, error) {
	var obs []Observation
	var errs []error
	if h.CPU != nil {
		// Busy share since the previous round (since boot on the first).
		if pct, err := cpu.PercentWithContext(ctx, 0, false); err != nil || len(pct) == 0 {
			errs = append(errs, fmt.Errorf("read CPU use: %w", err))
		} else {
			obs = append(obs, percentObservation("host:cpu", "CPU", "CPU is %.0f%% busy", pct[0], h.CPU))
		}
	}
	if h.Memory != nil || h.Swap != nil {
		if vm, err := mem.VirtualMemoryWithContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("read memory: %w", err))
		} else if h.Memory != nil {
			o := percentObservation("host:memory", "memory", "Memory is %.0f%% used", vm.UsedPercent, h.Memory)
			o.Value += fmt.Sprintf("; %s of %s available", humanize.IBytes(vm.Available), humanize.IBytes(vm.Total))
			obs = append(obs, o)
		}
	}
	if h.Swap != nil {
		if sw, err := mem.SwapMemoryWithContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("read swap: %w", err))
		} else if sw.Total > 0 {
			obs = append(obs, percentObservation("host:swap", "swap", "Swap is %.0f%% used", sw.UsedPercent, h.Swap))
		}
	}
	if h.Load != nil {
		if avg, err := load.AvgWithContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("read load: %w", err))
		} else {
			cores := float64(runtime.NumCPU())
			perCore := avg.Load5 / cores
			obs = append(obs, Observation{
				Fingerprint: "host:load", Subject: "load",
				Summary: fmt.Sprintf("Load is %.1f per core", perCore),
				Value:   fmt.Sprintf("%.2f over 5 minutes on %d cores (warning at %.1f, critical at %.1f per core)", avg.Load5, int(cores), h.Load.Warning, h.Load.Critical),
				Hint:    h.Load.Hint, For: h.Load.For, Level: measured(h.Load.Threshold, perCore),
			})
		}
	}
	// A reading that failed must not resolve its alert: report the failure, which
	// leaves the check's alerts as they are.
	return obs, errors.Join(errs...)
}

func percentObservation(fingerprint, subject, summary string, pct float64, l *Level) Observation {
	return Observation{
		Fingerprint: fingerprint, Subject: subject,
		Summary: fmt.Sprintf(summary, pct),
		Value:   fmt.Sprintf("%.0f%% (warning at %.0f%%, critical at %.0f%%)", pct, l.Warning, l.Critical),
		Hint:    l.Hint, For: l.For, Level: measured(l.Threshold, pct),
	}
}

// DiskSpec is one watched filesystem.
type DiskSpec struct {
	Path   string
	Space  Level
	Inodes Level
	// Forecast warns when, at the current rate, the disk is full within this span; 0
	// turns it off.
	Forecast time.Duration
}

// DiskCheck watches the space and inodes of filesystems, and forecasts when they fill
// up from how their use changed over the last hours.
type DiskCheck struct {
	Disks []DiskSpec
	Every time.Duration
	// Now is the clock of the forecast's samples.
	Now     func() time.Time
	history map[string]*usageHistory
}

// Name implements Check.
func (d *DiskCheck) Name() string { return "disk" }

// Interval implements Check.
func (d *DiskCheck) Interval() time.Duration { return d.Every }

// Observe implements Check.
func (d *DiskCheck) Observe(ctx context.Context) ([]Observation, error) {
	if d.history == nil {
		d.history = make(map[string]*usageHistory)
	}
	var obs []Observation
	var errs []error
	for _, spec := range d.Disks {
		usage, err := disk.UsageWithContext(ctx, spec.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("read disk use of %s: %w", spec.Path, err))
			continue
		}
		hist := d.history[spec.Path]
		if hist == nil {
			hist = &usageHistory{}
			d.history[spec.Path] = hist
		}
		hist.add(d.Now(), float64(usage.Used))
		o := Observation{
			Fingerprint: "disk:" + spec.Path, Subject: spec.Path,
			Summary: fmt.Sprintf("Disk %s is %.0f%% full", spec.Path, usage.UsedPercent),
			Value: fmt.Sprintf("%.0f%% used, %s free (warning at %.0f%%, critical at %.0f%%)",
				usage.UsedPercent, humanize.IBytes(usage.Free), spec.Space.Warning, spec.Space.Critical),
			Hint: spec.Space.Hint, For: spec.Space.For, Level: measured(spec.Space.Threshold, usage.UsedPercent),
		}
		full, ok := hist.fullIn(float64(usage.Free))
		if ok {
			o.Value += "; full in " + humanForecast(full) + " at the current rate"
		}
		obs = append(obs, o)
		if usage.InodesTotal > 0 {
			obs = append(obs, Observation{
				Fingerprint: "inodes:" + spec.Path, Subject: spec.Path,
				Summary: fmt.Sprintf("Disk %s has used %.0f%% of its inodes", spec.Path, usage.InodesUsedPercent),
				Value: fmt.Sprintf("%.0f%% of %d inodes used (warning at %.0f%%, critical at %.0f%%)",
					usage.InodesUsedPercent, usage.InodesTotal, spec.Inodes.Warning, spec.Inodes.Critical),
				Hint: spec.Inodes.Hint, For: spec.Inodes.For, Level: measured(spec.Inodes.Threshold, usage.InodesUsedPercent),
			})
		}
		if spec.Forecast > 0 && ok && full <= spec.Forecast {
			obs = append(obs, Observation{
				Fingerprint: "forecast:" + spec.Path, Subject: spec.Path,
				Summary:  fmt.Sprintf("Disk %s will be full in %s at the current rate", spec.Path, humanForecast(full)),
				Value:    fmt.Sprintf("%s free, filling by %s an hour", humanize.IBytes(usage.Free), humanize.IBytes(uint64(hist.slope()*3600))),
				Hint:     spec.Space.Hint,
				For:      spec.Space.For,
				Severity: forecastSeverity(full),
			})
		}
	}
	return obs, errors.Join(errs...)
}

// forecastSeverity makes a disk that fills within a day critical.
func forecastSeverity(full time.Duration) state.Severity {
	if full <= 24*time.Hour {
		return state.SeverityCritical
	}
	return state.SeverityWarning
}
