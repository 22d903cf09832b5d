package dockerctl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

var _ Runtime = (*Engine)(nil)

// Runtime is the part of the engine an update uses (Engine).
type Runtime interface {
	InspectContainer(ctx context.Context, nameOrID string) (container.InspectResponse, bool, error)
	ImageConfig(ctx context.Context, imageID string) (*v1.DockerOCIImageConfig, []string, error)
	Pull(ctx context.Context, ref string) (imageID string, err error)
	Rename(ctx context.Context, containerID, newName string) error
	Stop(ctx context.Context, containerID string) error
	Start(ctx context.Context, containerID string) error
	Create(ctx context.Context, plan Plan) (string, error)
	Remove(ctx context.Context, containerID string) error
	Logs(ctx context.Context, containerID string, lines int) (string, error)
}

// Journal keeps the update journal (state.UpdateJobs).
type Journal interface {
	Insert(ctx context.Context, j *state.UpdateJob) error
	Save(ctx context.Context, j *state.UpdateJob) error
	Unfinished(ctx context.Context) ([]*state.UpdateJob, error)
}

// The steps of an update, in order; each is journaled before it is taken.
const (
	// StepWait is not journaled: the update waits for another on the same engine,
	// and has touched nothing yet.
	StepWait    = "wait"
	StepPull    = "pull"
	StepRename  = "rename"
	StepCreate  = "create"
	StepStop    = "stop"
	StepStart   = "start"
	StepCheck   = "check"
	StepCleanup = "cleanup"
)

// The outcomes of an update.
const (
	OutcomeDone       = "done"
	OutcomeUpToDate   = "up_to_date"
	OutcomeRolledBack = "rolled_back"
	OutcomeFailed     = "failed"
)

// errPreviousGone: the old container no longer exists, so there is nothing to go back
// to; the container under the name, if any, stays.
var errPreviousGone = errors.New("the previous container is gone")

// backupSuffix names the old container while the new one is tried.
const backupSuffix = "-steward-previous"

// healthTimeout is how long a new container with a health check has to become
// healthy, beyond its start period.
const healthTimeout = 2 * time.Minute

// Updater replaces containers with their image's newer version: pull, recreate with
// the same configuration, check it runs healthily, and roll back by itself if not.
// Every step is journaled first, so Recover can put things right after a stop.
type Updater struct {
	// Host is the engine's host name (Engine.Name), journaled with each update.
	Host    string
	Runtime Runtime
	Journal Journal
	// Settle is how long a new container without a health check must run without
	// restarting to count as healthy.
	Settle time.Duration
	Now    func() time.Time
	// Poll is how often the new container's state is read while it settles.
	Poll time.Duration
	// Hook, when set, is called after each step is journaled (crash tests use it).
	Hook func(step string)

	// busy lets one update (or recovery) at a time touch the engine's containers:
	// two at once could set aside or restore the same container. It holds a token
	// while one runs.
	busyOnce sync.Once
	busy     chan struct{}
	// updating is the name of the container being updated, "" when none is.
	updating atomic.Pointer[string]
}

// Updating reports whether the container name is being updated right now: a restart
// or stop of it meanwhile would be taken for the new version failing.
func (u *Updater) Updating(name string) bool {
	current := u.updating.Load()
	return current != nil && (*current == name || *current+backupSuffix == name)
}

// claim waits until no other update or recovery runs on the engine, telling
// progress when it has to wait; release ends the claim.
func (u *Updater) claim(ctx context.Context, progress Progress) error {
	u.busyOnce.Do(func() { u.busy = make(chan struct{}, 1) })
	select {
	case u.busy <- struct{}{}:
		return nil
	default:
	}
	progress(StepWait)
	select {
	case u.busy <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (u *Updater) release() { <-u.busy }

// Result is what an update came to.
type Result struct {
	Job *state.UpdateJob
	// Logs are the new container's last lines, when it was rolled back.
	Logs     string
	Duration time.Duration
}

// Progress is told each step as it begins.
type Progress func(step string)

// Update replaces the container name by a new one from its image's current version.
// When anything fails after the old container was touched, the old one is put back as
// it was, and the result says so.
//
// expect, when set, is the digest that was approved: if the tag points elsewhere by
// the time it is pulled, nothing is changed and the update fails, so what runs is
// what the admins saw.
func (u *Updater) Update(ctx context.Context, name, expect string, progress Progress) (*Result, error) {
	if err := u.claim(ctx, progress); err != nil {
		return nil, err
	}
	defer u.release()
	u.updating.Store(&name)
	defer u.updating.Store(nil)
	old, found, err := u.Runtime.InspectContainer(ctx, name)
	if err != nil {
		return nil, err
	}
	if !found || old.Config == nil || old.State == nil {
		return nil, fmt.Errorf("no container %q", name)
	}
	imageCfg, oldDigests, err := u.Runtime.ImageConfig(ctx, old.Image)
	if err != nil {
		return nil, err
	}
	now := u.Now()
	job := &state.UpdateJob{
		Host: u.Host, Container: strings.TrimPrefix(old.Name, "/"), OldID: old.ID, Image: old.Config.Image, OldImage: old.Image,
		OldDigest: first(oldDigests), WasRunning: old.State.Running, BackupName: strings.TrimPrefix(old.Name, "/") + backupSuffix,
		Step: StepPull, StartedAt: now, UpdatedAt: now,
	}
	if err = u.Journal.Insert(ctx, job); err != nil {
		return nil, err
	}
	res := &Result{Job: job}
	defer func() { res.Duration = u.Now().Sub(job.StartedAt) }()
	u.hook(StepPull)
	progress(StepPull)
	if job.NewImage, err = u.Runtime.Pull(ctx, job.Image); err != nil {
		return res, u.finish(ctx, job, OutcomeFailed, "pull: "+err.Error())
	}
	var newDigests []string
	if _, newDigests, err = u.Runtime.ImageConfig(ctx, job.NewImage); err == nil {
		job.NewDigest = first(newDigests)
	}
	if expect != "" && slices.Contains(newDigests, expect) {
		job.NewDigest = expect
	} else if expect != "" {
		return res, u.finish(ctx, job, OutcomeFailed, fmt.Sprintf("the tag now points to %s, not to the approved %s; nothing was changed, ask again to update to it", ShortDigest(job.NewDigest), ShortDigest(expect)))
	}
	if job.NewImage == job.OldImage {
		return res, u.finish(ctx, job, OutcomeUpToDate, "")
	}
	plan := PlanRecreate(old, imageCfg, job.Image)

	if err = u.step(ctx, job, StepRename, progress); err != nil {
		return res, err
	}
	if err = u.Runtime.Rename(ctx, job.OldID, job.BackupName); err != nil {
		return res, u.rollback(ctx, job, res, "rename the old container: "+err.Error())
	}
	// The new container is created while the old one still serves (under its
	// set-aside name): the service is down only from the stop to the start.
	if err = u.step(ctx, job, StepCreate, progress); err != nil {
		return res, err
	}
	newID, err := u.Runtime.Create(ctx, plan)
	if err != nil {
		return res, u.rollback(ctx, job, res, "create the new container: "+err.Error())
	}
	job.NewID = newID
	job.UpdatedAt = u.Now()
	if err = u.Journal.Save(ctx, job); err != nil {
		return res, u.failStep(ctx, job, err)
	}
	if job.WasRunning {
		if err = u.step(ctx, job, StepStop, progress); err != nil {
			return res, err
		}
		if err = u.Runtime.Stop(ctx, job.OldID); err != nil {
			return res, u.rollback(ctx, job, res, "stop the old container: "+err.Error())
		}
	}
	if err = u.step(ctx, job, StepStart, progress); err != nil {
		return res, err
	}
	if err = u.Runtime.Start(ctx, newID); err != nil {
		return res, u.rollback(ctx, job, res, "start the new container: "+err.Error())
	}
	if err = u.step(ctx, job, StepCheck, progress); err != nil {
		return res, err
	}
	if err = u.waitHealthy(ctx, newID, effectiveHealthcheck(ctx, u.Runtime, plan.Config.Healthcheck, job.NewImage)); err != nil {
		return res, u.rollback(ctx, job, res, err.Error())
	}
	if err = u.step(ctx, job, StepCleanup, progress); err != nil {
		return res, err
	}
	if err = u.Runtime.Remove(ctx, job.OldID); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("container", job.BackupName).Msg("Failed to remove the previous container after an update")
	}
	return res, u.finish(ctx, job, OutcomeDone, "")
}

// effectiveHealthcheck returns the health check the new container runs: its own where
// it sets one (Docker fills what it leaves unset from the image), else its image's;
// nil when there is none or it is disabled ("NONE").
func effectiveHealthcheck(ctx context.Context, rt Runtime, own *container.HealthConfig, imageID string) *container.HealthConfig {
	var hc container.HealthConfig
	if own != nil {
		hc = *own
	}
	if cfg, _, err := rt.ImageConfig(ctx, imageID); err == nil && cfg != nil && cfg.Healthcheck != nil {
		img := cfg.Healthcheck
		if len(hc.Test) == 0 {
			hc.Test = img.Test
		}
		if hc.StartPeriod == 0 {
			hc.StartPeriod = img.StartPeriod
		}
	}
	if len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return nil
	}
	return &hc
}

// waitHealthy waits until the new container is healthy (with a health check) or has
// run Settle without restarting (without one).
func (u *Updater) waitHealthy(ctx context.Context, containerID string, check *container.HealthConfig) error {
	hasHealthcheck := check != nil
	limit := u.Settle
	if hasHealthcheck {
		// A start period is time the image asks for before its check counts.
		limit = healthTimeout + check.StartPeriod
	}
	deadline := u.Now().Add(limit)
	restarts := 0 // it is new: any restart is one too many
	for {
		c, found, err := u.Runtime.InspectContainer(ctx, containerID)
		if err != nil {
			return err
		}
		if !found || c.State == nil {
			return errors.New("the new container disappeared")
		}
		st := c.State
		if !st.Running || st.Restarting {
			return fmt.Errorf("the new container stopped (exit code %d)", st.ExitCode)
		}
		if c.RestartCount > restarts {
			return errors.New("the new container restarted")
		}
		if hasHealthcheck && st.Health != nil {
			switch st.Health.Status {
			case container.Healthy:
				return nil
			case container.Unhealthy:
				return errors.New("the new container is unhealthy")
			}
		}
		if !u.Now().Before(deadline) {
			if hasHealthcheck {
				return fmt.Errorf("the new container was not healthy within %s", render.Duration(limit))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(u.Poll):
		}
	}
}

func (u *Updater) step(ctx context.Context, job *state.UpdateJob, step string, progress Progress) error {
	job.Step, job.UpdatedAt = step, u.Now()
	if err := u.Journal.Save(ctx, job); err != nil {
		if step == StepRename {
			job.Outcome, job.Detail = OutcomeFailed, "the journal could not be written: "+err.Error()
			return err // nothing was touched yet
		}
		return u.failStep(ctx, job, err)
	}
	u.hook(step)
	progress(step)
	return nil
}

// failStep handles a journal that can't be written mid-way: stop here and put the old
// container back now rather than leave the service down until the next start. The
// outcome is recorded if the journal takes it after all.
func (u *Updater) failStep(ctx context.Context, job *state.UpdateJob, journalErr error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	restoreErr := u.restore(ctx, job)
	job.Outcome, job.Detail = OutcomeRolledBack, "the journal could not be written ("+journalErr.Error()+"); the previous container was put back"
	if restoreErr != nil {
		job.Outcome, job.Detail = OutcomeFailed, "the journal could not be written ("+journalErr.Error()+"), and restoring the previous container failed: "+restoreErr.Error()
	}
	_ = u.Journal.Save(ctx, job)
	return errors.Join(journalErr, restoreErr)
}

func (u *Updater) hook(step string) {
	if u.Hook != nil {
		u.Hook(step)
	}
}

func (u *Updater) finish(ctx context.Context, job *state.UpdateJob, outcome, detail string) error {
	job.Outcome, job.Detail, job.UpdatedAt = outcome, detail, u.Now()
	return u.Journal.Save(ctx, job)
}

// undoTimeout bounds a rollback that runs on after its update's context ended.
const undoTimeout = 2 * time.Minute

// rollback puts the old container back as it was and records why. It runs to its
// end even when ctx ended (a shutdown), so the service is not left set aside.
func (u *Updater) rollback(ctx context.Context, job *state.UpdateJob, res *Result, why string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	if job.NewID != "" {
		if logs, err := u.Runtime.Logs(ctx, job.NewID, 20); err == nil {
			res.Logs = logs
		}
	}
	if err := u.restore(ctx, job); err != nil {
		_ = u.finish(ctx, job, OutcomeFailed, why+"; the rollback failed too: "+err.Error())
		return fmt.Errorf("roll back %s: %w", job.Container, err)
	}
	return u.finish(ctx, job, OutcomeRolledBack, why)
}

// restore makes the engine hold the old container under its name, running if it was,
// whatever step the update reached: it looks at what is there rather than trusting
// the journal's step, which is written before the step is taken.
func (u *Updater) restore(ctx context.Context, job *state.UpdateJob) error {
	// The old container first: if it is gone, the new one is all there is, and it
	// stays.
	old, found, err := u.Runtime.InspectContainer(ctx, job.OldID)
	if err != nil {
		return err
	}
	if !found {
		return errPreviousGone
	}
	// The engine finds a container by ID prefix when no name matches, so the name
	// must match exactly: only the container created under it by this update is
	// removed, never another one whose ID happens to start with the name.
	current, found, err := u.Runtime.InspectContainer(ctx, job.Container)
	if err != nil {
		return err
	}
	if found && current.ID != job.OldID && strings.TrimPrefix(current.Name, "/") == job.Container &&
		(job.NewID == "" || current.ID == job.NewID) {
		if err = u.Runtime.Remove(ctx, current.ID); err != nil {
			return fmt.Errorf("remove the new container: %w", err)
		}
	}
	if strings.TrimPrefix(old.Name, "/") != job.Container {
		if err = u.Runtime.Rename(ctx, job.OldID, job.Container); err != nil {
			return fmt.Errorf("rename the previous container back: %w", err)
		}
	}
	if job.WasRunning && (old.State == nil || !old.State.Running) {
		if err = u.Runtime.Start(ctx, job.OldID); err != nil {
			return fmt.Errorf("start the previous container: %w", err)
		}
	}
	return nil
}

// Recover finishes the updates a stop cut short, so no container is left renamed,
// stopped or missing: one whose new container was already found healthy is completed
// (the old one removed); any other is rolled back to the old container. It returns
// the jobs it looked at. An error (the engine not reachable yet, after a reboot) leaves
// the unfinished jobs as they are, for another try.
func (u *Updater) Recover(ctx context.Context) ([]*state.UpdateJob, error) {
	if err := u.claim(ctx, func(string) {}); err != nil {
		return nil, err
	}
	defer u.release()
	all, err := u.Journal.Unfinished(ctx)
	if err != nil {
		return nil, err
	}
	var jobs []*state.UpdateJob
	for _, job := range all {
		if job.Host == u.Host {
			jobs = append(jobs, job)
		}
	}
	for _, job := range jobs {
		if job.Step == StepCleanup {
			_, found, err := u.Runtime.InspectContainer(ctx, job.OldID)
			if err != nil {
				return jobs, err // the engine is not reachable yet: try again later
			}
			if found {
				if err = u.Runtime.Remove(ctx, job.OldID); err != nil {
					return jobs, err
				}
			}
			if err = u.finish(ctx, job, OutcomeDone, "completed after Steward restarted"); err != nil {
				return jobs, err
			}
			continue
		}
		if err = u.restore(ctx, job); err != nil {
			if !errors.Is(err, errPreviousGone) {
				return jobs, err // the engine is not reachable yet: try again later
			}
			_ = u.finish(ctx, job, OutcomeFailed, "Steward stopped during the update, and restoring the previous container failed: "+err.Error())
			continue
		}
		if err = u.finish(ctx, job, OutcomeRolledBack, "Steward stopped during the update ("+job.Step+"); the previous container was restored"); err != nil {
			return jobs, err
		}
	}
	return jobs, nil
}

// Updaters are the updaters of a fleet's engines, by host name.
type Updaters map[string]*Updater

// Updating reports whether the container name on host is being updated right now.
func (us Updaters) Updating(host, name string) bool {
	u, ok := us[host]
	return ok && u.Updating(name)
}

// Update runs Updater.Update on host's updater; a host without one is an error, so
// an update never lands on another engine.
func (us Updaters) Update(ctx context.Context, host, name, expect string, progress Progress) (*Result, error) {
	u, ok := us[host]
	if !ok {
		return nil, fmt.Errorf("no Docker host %q", host)
	}
	return u.Update(ctx, name, expect, progress)
}

// Recover runs every engine's Recover and returns the jobs they looked at. A host
// that can't be reached yet does not keep the others from being put right; its error
// is returned, for another try.
func (us Updaters) Recover(ctx context.Context) ([]*state.UpdateJob, error) {
	var all []*state.UpdateJob
	var errs []error
	var journal Journal
	for _, host := range slices.Sorted(maps.Keys(us)) {
		jobs, err := us[host].Recover(ctx)
		all = append(all, jobs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("host %q: %w", host, err))
		}
		journal = us[host].Journal
	}
	if journal == nil {
		return all, errors.Join(errs...)
	}
	// An update cut short on a host that is no longer configured (docker.host
	// replaced by docker.hosts, a host renamed) can't be put right from here: it is
	// closed as failed, so the admins hear of it and look.
	unfinished, err := journal.Unfinished(ctx)
	if err != nil {
		return all, errors.Join(append(errs, err)...)
	}
	for _, job := range unfinished {
		if _, ok := us[job.Host]; ok {
			continue
		}
		where := fmt.Sprintf("host %q", job.Host)
		if job.Host == "" {
			where = "the Docker host of docker.host"
		}
		job.Outcome, job.Detail, job.UpdatedAt = OutcomeFailed, fmt.Sprintf("it ran on %s, which is no longer configured; the previous container may still be set aside as %s", where, job.BackupName), time.Now()
		if err = journal.Save(ctx, job); err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, job)
	}
	return all, errors.Join(errs...)
}

// ShortDigest shortens "sha256:4f2a…" to its first 12 hex digits, as docker shows it.
func ShortDigest(digest string) string {
	_, hex, _ := strings.Cut(digest, ":")
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return hex
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
