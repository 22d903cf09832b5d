package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/steward-bot/steward/render"
)

// statusCommand shows the host at a glance: real figures from the kernel, not a summary
// of past alerts, with the use of disks, the paths config names.
func statusCommand(disks []string) *Command {
	return &Command{
		Name:    "status",
		Section: SectionHost,
		Help:    "Show the host's uptime, load, memory and disk use",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			info, err := host.InfoWithContext(ctx)
			if err != nil {
				return fmt.Errorf("read host info: %w", err)
			}
			avg, err := load.AvgWithContext(ctx)
			if err != nil {
				return fmt.Errorf("read load: %w", err)
			}
			vm, err := mem.VirtualMemoryWithContext(ctx)
			if err != nil {
				return fmt.Errorf("read memory: %w", err)
			}
			msg := render.New("").Bold(info.Hostname).Text(fmt.Sprintf(" — up %s, load %.2f %.2f %.2f", humanUptime(time.Duration(info.Uptime)*time.Second), avg.Load1, avg.Load5, avg.Load15)).Line().
				Text(fmt.Sprintf("Memory: %s of %s used (%.0f%%)", humanize.IBytes(vm.Used), humanize.IBytes(vm.Total), vm.UsedPercent))
			if swap, err := mem.SwapMemoryWithContext(ctx); err == nil && swap.Total > 0 {
				msg.Text(fmt.Sprintf(", swap %s of %s", humanize.IBytes(swap.Used), humanize.IBytes(swap.Total)))
			}
			rows := make([][]string, 0, len(disks))
			for _, path := range disks {
				usage, err := disk.UsageWithContext(ctx, path)
				if err != nil {
					rows = append(rows, []string{path, "unreadable", "", ""})
					continue
				}
				rows = append(rows, []string{path, fmt.Sprintf("%.0f%%", usage.UsedPercent),
					humanize.IBytes(usage.Free) + " free of " + humanize.IBytes(usage.Total), fmt.Sprintf("%.0f%%", usage.InodesUsedPercent)})
			}
			msg.Line().Table([]string{"Disk", "Used", "Space", "Inodes used"}, rows)
			return ce.Reply(ctx, msg)
		},
	}
}

func humanUptime(d time.Duration) string {
	days := int(d.Hours()) / 24
	hours := int(d.Hours()) % 24
	if days > 0 {
		return fmt.Sprintf("%d days %d h", days, hours)
	}
	return fmt.Sprintf("%d h %d min", hours, int(d.Minutes())%60)
}
