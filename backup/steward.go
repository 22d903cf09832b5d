package backup

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// LinkOffsite gives each offsite set the data paths of the sets it copies, so a drill
// of the offsite copy knows which live files its snapshots hold.
func LinkOffsite(sets []*Set) {
	for _, s := range sets {
		if !s.Offsite {
			continue
		}
		s.DataPaths = slices.Clone(s.Repo.Paths)
		for _, other := range sets {
			if other.OffsiteCopy == s.Name {
				s.DataPaths = append(s.DataPaths, other.Repo.Paths...)
			}
		}
	}
}

// Checks makes the alert engine's checks of the sets, one per set, and keeps them so
// that the end of a check, drill or backup can have the set's check look again at
// once.
type Checks struct {
	Manager *Manager
	Every   time.Duration

	mu     sync.Mutex
	checks map[string]*Check // the checks running now, by set
}

// New makes the checks afresh (at each start of the monitor).
func (c *Checks) New() []monitor.Check {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks = make(map[string]*Check)
	var checks []monitor.Check
	for _, s := range c.Manager.Sets() {
		check := &Check{Set: s, Tool: c.Manager.Tool, Runs: c.Manager.RunStore, Every: c.Every, Now: time.Now}
		if c.Manager.Restorer != nil && c.Manager.Restorer.Containers != nil {
			check.Containers = c.Manager.Restorer.Containers
		}
		if s.OffsiteCopy != "" {
			check.Copy, _ = c.Manager.Set(s.OffsiteCopy)
		}
		c.checks[s.Name] = check
		checks = append(checks, check)
	}
	return checks
}

// Newest returns, by set, the time of the newest snapshot as its check last read
// it (zero when the repository holds none); a set whose check has not read it yet is
// left out. It runs no restic: the checks already read the snapshots each round.
func (c *Checks) Newest() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	newest := make(map[string]time.Time, len(c.checks))
	for name, check := range c.checks {
		if t, ok := check.Newest(); ok {
			newest[name] = t
		}
	}
	return newest
}

// Wake has set's check look again now (a check, drill or backup just ended).
func (c *Checks) Wake(set string) {
	c.mu.Lock()
	check := c.checks[set]
	c.mu.Unlock()
	if check != nil {
		check.Wake()
	}
}

// Recovery settles the backup runs a stop cut short, at start.
type Recovery struct {
	Manager *Manager
	Runs    interface {
		Unfinished(ctx context.Context) ([]*state.BackupRun, error)
	}
	Audit interface {
		Append(ctx context.Context, e *state.AuditEntry) (int64, error)
	}
	Txn       func(ctx context.Context, fn func(ctx context.Context) error) error
	Notifier  monitor.Notifier
	AdminRoom id.RoomID
	// Actor is Steward's own ID, for the decision log.
	Actor id.UserID
}

// Recover settles the runs: checks and drills run again when due; a restore is put
// right (the live files back, its containers started) and reported, with what was and
// was not restored.
func (r *Recovery) Recover(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	unfinished, err := r.Runs.Unfinished(ctx)
	if err != nil {
		log.Err(err).Msg("Failed to read the backup runs a stop cut short")
		return
	}
	for _, run := range r.Manager.Restorer.Recover(ctx, unfinished) {
		log.Warn().Str("backup_set", run.Set).Int64("run", run.ID).Str("detail", run.Detail).Msg("Recovered an interrupted restore")
		msg := render.New("Steward stopped during restore " + strconv.FormatInt(run.ID, 10) + " of " + run.Set + ". " + run.Detail + ".")
		err := r.Txn(ctx, func(ctx context.Context) error {
			if _, err := r.Audit.Append(ctx, &state.AuditEntry{
				Actor: r.Actor, Action: "restore.interrupted", Arguments: run.Set + " " + run.Snapshot,
				Outcome: state.OutcomeInterrupted, Detail: run.Detail,
			}); err != nil {
				return err
			}
			return r.Notifier.Notice(ctx, r.AdminRoom, msg)
		})
		if err != nil {
			log.Err(err).Msg("Failed to report an interrupted restore")
		}
	}
}
