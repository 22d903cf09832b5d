package health

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/shirou/gopsutil/v4/disk"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/redact"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// UndecryptableRun is a run of messages from one device that Steward gave up
// decrypting, none readable since (bot.UndecryptableRun).
type UndecryptableRun struct {
	Sender      id.UserID
	Device      id.DeviceID
	Count       int
	First, Last time.Time
}

// Transport is what the self-check reads of the Matrix side.
type Transport interface {
	SyncSource
	Undecryptable() []UndecryptableRun
}

// SelfOutbox is what the self-check reads of the outbox (state.Outbox).
type SelfOutbox interface {
	Outbox
	MessagesSince(ctx context.Context, t time.Time) (int, error)
}

// The self-check's limits.
const (
	// undecryptableRun is how many messages in a row from one admin device Steward
	// must fail to decrypt before it says so: one can be a key that came late.
	undecryptableRun = 3
	// undecryptableForget is how long after its last message a run is let go: an
	// admin who stopped using the device has nothing to mend.
	undecryptableForget = 24 * time.Hour
	// syncBehind is how long the sync may fail while the homeserver answers.
	syncBehind = 2 * time.Minute
)

// DataDirFull are the thresholds for data_dir's disk, in percent used: Steward stops
// when its database can't be written, so they are fixed, not the configured disks'.
var DataDirFull = monitor.Threshold{Warning: 90, Critical: 95}

// SelfCheck is the alert engine's check of Steward itself, named "steward": messages
// from an admin's device it can't decrypt, the homeserver unreachable, the sync
// falling behind, the outbox stuck, data_dir's disk almost full. A database that
// does not take writes can't hold an alert about itself: that is logged, and /readyz
// and the heartbeat carry it.
type SelfCheck struct {
	Transport Transport
	Outbox    SelfOutbox
	Ready     Ready
	Admins    []id.UserID
	DataDir   string
	Every     time.Duration
	// Unreachable is how long the homeserver must be unreachable to alert
	// (http.ready_sync_age).
	Unreachable time.Duration
	// DiskFull are data_dir's disk's thresholds (DataDirFull with monitor.hysteresis
	// as its margin).
	DiskFull monitor.Threshold
	Now      func() time.Time
}

var _ monitor.Check = (*SelfCheck)(nil)

// Name implements monitor.Check.
func (c *SelfCheck) Name() string { return "steward" }

// Interval implements monitor.Check.
func (c *SelfCheck) Interval() time.Duration { return c.Every }

// Observe implements monitor.Check.
func (c *SelfCheck) Observe(ctx context.Context) ([]monitor.Observation, error) {
	now := c.Now()
	obs := c.undecryptable(now)
	s := c.Transport.Sync()
	n, oldest, err := c.Outbox.Backlog(ctx)
	if err != nil {
		return obs, err
	}
	switch {
	case !s.UnreachableSince.IsZero():
		o, err := c.unreachable(ctx, s, now)
		if err != nil {
			return obs, err
		}
		obs = append(obs, o)
	case s.Done && now.Sub(s.CurrentAt(now)) > syncBehind:
		o := monitor.Observation{
			Fingerprint: "steward:sync", Subject: "Steward's sync", Severity: state.SeverityWarning,
			Summary: "Steward's sync with the homeserver has fallen behind",
			Value:   "no sync succeeded since " + render.Clock(s.LastSuccess, now),
			Hint:    "the homeserver answers, but not with what Steward asked: look at Steward's log and the homeserver's",
		}
		if s.LastError != "" {
			o.Value += "; the homeserver answered: " + render.Shorten(redact.Secrets(s.LastError), 200)
		}
		obs = append(obs, o)
	}
	// While the homeserver can't be reached, the outbox waits for it: that is the
	// outage's alarm, not another.
	if s.UnreachableSince.IsZero() && !oldest.IsZero() && now.Sub(oldest) >= OutboxLimit {
		obs = append(obs, monitor.Observation{
			Fingerprint: "steward:outbox", Subject: "Steward's outbox", Severity: state.SeverityWarning,
			Summary: "Steward's messages are not being sent",
			Value:   fmt.Sprintf("the oldest of %d has waited %s", n, render.Duration(now.Sub(oldest))),
			Hint:    "look at Steward's log for what the homeserver answers when Steward sends (a rate limit, a room it was removed from)",
		})
	}
	if rep := c.Ready.Check(ctx); !rep.Database.OK {
		zerolog.Ctx(ctx).Error().Str("problem", rep.Database.Problem).
			Msg("Steward's database does not take writes: nothing Steward is told can be recorded, and /readyz and the heartbeat say it is not ready")
	}
	o, err := c.dataDir(ctx)
	if err != nil {
		return obs, err
	}
	return append(obs, o), nil
}

// undecryptable reports each admin device whose last messages Steward could not
// decrypt, several in a row.
func (c *SelfCheck) undecryptable(now time.Time) []monitor.Observation {
	var obs []monitor.Observation
	for _, run := range c.Transport.Undecryptable() {
		if run.Count < undecryptableRun || !slices.Contains(c.Admins, run.Sender) || now.Sub(run.Last) > undecryptableForget {
			continue
		}
		device := "device " + string(run.Device)
		if run.Device == "" {
			device = "a device that does not say which"
		}
		obs = append(obs, monitor.Observation{
			Fingerprint: "steward:undecryptable:" + string(run.Sender) + ":" + string(run.Device),
			Subject:     string(run.Sender) + " " + device,
			Severity:    state.SeverityWarning,
			Summary:     fmt.Sprintf("Steward can't decrypt the messages from %s's %s", run.Sender, device),
			Value:       fmt.Sprintf("%d in a row since %s, the latest at %s", run.Count, render.Clock(run.First, now), render.Clock(run.Last, now)),
			Hint: "on that device, verify it from another of your sessions, or share its keys again (request the room keys), " +
				"or restart the client; then send the command again",
		})
	}
	return obs
}

// unreachable is the outage's alarm: it fires while the homeserver is down, and its
// message reaches the room (through the outbox) when the homeserver is back, followed
// by its resolution.
func (c *SelfCheck) unreachable(ctx context.Context, s Sync, now time.Time) (monitor.Observation, error) {
	queued, err := c.Outbox.MessagesSince(ctx, s.UnreachableSince)
	if err != nil {
		return monitor.Observation{}, err
	}
	summary := "Steward can't reach the homeserver since " + render.Clock(s.UnreachableSince, now)
	switch queued {
	case 0:
	case 1:
		summary += "; 1 message queued meanwhile"
	default:
		summary += fmt.Sprintf("; %d messages queued meanwhile", queued)
	}
	return monitor.Observation{
		Fingerprint: "steward:homeserver", Subject: "the homeserver", Severity: state.SeverityWarning,
		Summary: summary, For: c.Unreachable,
		Value: "nothing reached the room meanwhile; what was queued is sent now, in order",
		Hint:  "if the outage was not planned, look at the homeserver (its process, its disk, the proxy in front of it)",
	}, nil
}

// dataDir reports data_dir's disk filling up.
func (c *SelfCheck) dataDir(ctx context.Context) (monitor.Observation, error) {
	usage, err := disk.UsageWithContext(ctx, c.DataDir)
	if err != nil {
		return monitor.Observation{}, fmt.Errorf("read the disk use of data_dir %s: %w", c.DataDir, err)
	}
	t := c.DiskFull
	pct := usage.UsedPercent
	return monitor.Observation{
		Fingerprint: "steward:data_dir", Subject: c.DataDir,
		Summary: fmt.Sprintf("Steward's data_dir %s is %.0f%% full", c.DataDir, pct),
		Value:   fmt.Sprintf("%.0f%% used (warning at %.0f%%, critical at %.0f%%)", pct, t.Warning, t.Critical),
		Hint:    "free space on that disk: when Steward's database can't be written, Steward takes no commands and sends no alerts",
		Level:   func(prev state.Severity) state.Severity { return t.Level(pct, prev) },
	}, nil
}
