package bot

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/backup"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// backups is Steward's side of the backup sets: the desk commands use, the checks the
// alert engine runs, and the scheduler of integrity checks and drills.
type backups struct {
	desk      *backup.Manager
	scheduler *backup.Scheduler
	every     time.Duration

	mu     sync.Mutex
	checks map[string]*backup.Check // the checks running now, by set
}

// newBackups builds the backup side from the config.
func (b *Bot) newBackups() *backups {
	cfg := b.cfg.Backups
	sets := make([]*backup.Set, 0, len(cfg.Sets))
	for _, s := range cfg.Sets {
		sets = append(sets, setFrom(s))
	}
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
	tool := &backup.Restic{CacheDir: filepath.Join(b.cfg.DataDir, "restic-cache")}
	bk := &backups{desk: backup.NewManager(sets), every: cfg.Interval.D(), checks: make(map[string]*backup.Check)}
	bk.scheduler = &backup.Scheduler{
		Sets: sets, Tool: tool, Runs: b.db.BackupRuns, ScratchRoot: cfg.StagingDir, Now: time.Now, Done: bk.wake,
	}
	bk.desk.Tool, bk.desk.RunStore, bk.desk.Scheduler, bk.desk.Now = tool, b.db.BackupRuns, bk.scheduler, time.Now
	bk.desk.Restorer = &backup.Restorer{
		Tool: tool, Runs: b.db.BackupRuns, StagingDir: cfg.StagingDir, Now: time.Now,
		Containers: restoreContainers{b},
		Hook:       func(step string) { crashPoint("restore-" + step) },
	}
	return bk
}

func setFrom(s config.BackupSet) *backup.Set {
	return &backup.Set{
		Name: s.Name, Repo: backup.Repo{Location: s.Repository, PasswordFile: s.PasswordFile, Host: s.Host, Paths: s.Paths},
		Every: s.Every.D(), Grace: s.Grace.D(), Offsite: s.Offsite, OffsiteCopy: s.OffsiteCopy, Run: s.Run,
		RestoreTargets: s.RestoreTargets, Containers: s.Containers,
		CheckEvery: s.Check.Every.D(), ReadData: s.Check.ReadData, DrillEvery: s.Drill.Every.D(), DrillFiles: s.Drill.Files,
	}
}

// checks makes the alert engine's checks, one per set, and keeps them to wake.
func (bk *backups) newChecks() []monitor.Check {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	clear(bk.checks)
	var checks []monitor.Check
	for _, s := range bk.desk.Sets() {
		c := &backup.Check{Set: s, Tool: bk.desk.Tool, Runs: bk.desk.RunStore, Every: bk.every, Now: time.Now}
		if s.OffsiteCopy != "" {
			c.Copy, _ = bk.desk.Set(s.OffsiteCopy)
		}
		bk.checks[s.Name] = c
		checks = append(checks, c)
	}
	return checks
}

// wake has set's check look again now (a check, drill or backup just ended).
func (bk *backups) wake(set string) {
	bk.mu.Lock()
	c := bk.checks[set]
	bk.mu.Unlock()
	if c != nil {
		c.Wake()
	}
}

// restoreContainers stops and starts the containers of an in-place restore.
type restoreContainers struct{ b *Bot }

func (r restoreContainers) Stop(ctx context.Context, ref string) (bool, error) {
	return r.b.docker.StopByRef(ctx, ref)
}

func (r restoreContainers) Start(ctx context.Context, ref string) error {
	return r.b.docker.StartByRef(ctx, ref)
}

// recoverBackupRuns settles the backup runs a stop cut short: checks and drills run
// again when due; a restore is put right (the live files back, its containers
// started) and reported, with what was and was not restored.
func (b *Bot) recoverBackupRuns(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	unfinished, err := b.db.BackupRuns.Unfinished(ctx)
	if err != nil {
		log.Err(err).Msg("Failed to read the backup runs a stop cut short")
		return
	}
	for _, run := range b.backups.desk.Restorer.Recover(ctx, unfinished) {
		log.Warn().Str("backup_set", run.Set).Int64("run", run.ID).Str("detail", run.Detail).Msg("Recovered an interrupted restore")
		msg := render.New("Steward stopped during restore " + strconv.FormatInt(run.ID, 10) + " of " + run.Set + ". " + run.Detail + ".")
		err := b.db.DoTxn(ctx, func(ctx context.Context) error {
			if _, err := b.db.Audit.Append(ctx, &state.AuditEntry{
				Actor: b.client.UserID, Action: "restore.interrupted", Arguments: run.Set + " " + run.Snapshot,
				Outcome: state.OutcomeInterrupted, Detail: run.Detail,
			}); err != nil {
				return err
			}
			return b.Send(ctx, b.adminRoom, msg.Notice())
		})
		if err != nil {
			log.Err(err).Msg("Failed to report an interrupted restore")
		}
	}
}
