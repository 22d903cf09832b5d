package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/redact"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Updater replaces a container by one from its image's newer version
// (dockerctl.Updaters, one per host).
type Updater interface {
	Update(ctx context.Context, host, name, expect string, progress dockerctl.Progress) (*dockerctl.Result, error)
	// Updating reports whether the container name on host is being updated now.
	Updating(host, name string) bool
}

// stepText says what an update step does, for the progress message.
var stepText = map[string]string{
	dockerctl.StepWait:    "waiting for another update on this host to finish",
	dockerctl.StepPull:    "pulling the new image",
	dockerctl.StepRename:  "setting the old container aside",
	dockerctl.StepCreate:  "creating the new container with the same configuration",
	dockerctl.StepStop:    "stopping the old container",
	dockerctl.StepStart:   "starting the new container",
	dockerctl.StepCheck:   "waiting until it runs healthily",
	dockerctl.StepCleanup: "removing the old container",
}

// update updates a container (or every container with an update) to its
// image's newer version, after approval: pull, recreate with the same configuration,
// check it is healthy, and roll back by itself when it is not. Progress is shown by
// editing one message per container.
func (f *containerFamily) update() *Command {
	return &Command{
		Name:        "update",
		Section:     SectionContainers,
		Help:        "Update a container (or all, or all of a host) to the newer image under its tag; rolled back by itself if the new one is not healthy",
		Args:        "[HOST/]CONTAINER|all|HOST/all",
		Role:        RoleAdmin,
		Effect:      Changes,
		Destructive: true,
		Long:        true,
		Describe: func(ctx context.Context, ce *Event) (string, error) {
			if host, all, err := f.allArg(ce); all || err != nil {
				if err != nil {
					return "", err
				}
				updates, err := f.allUpdatable(ctx, ce, host)
				if err != nil {
					return "", err
				}
				parts := make([]string, 0, len(updates))
				pins := make([]string, 0, len(updates))
				for _, u := range updates {
					parts = append(parts, fmt.Sprintf("%s (%s: %s → %s)", u.Ref(), u.Image, dockerctl.ShortDigest(u.Running), dockerctl.ShortDigest(u.Latest)))
					pins = append(pins, u.Ref()+" "+u.Latest)
				}
				// These containers, to these versions, and nothing else.
				ce.Pin = strings.Join(pins, "\n")
				return fmt.Sprintf("updates %d containers one after another: %s; each is recreated with the same configuration, checked, and rolled back by itself if it does not run healthily",
					len(updates), strings.Join(parts, ", ")), nil
			}
			c, u, err := f.updatable(ctx, ce)
			if err != nil {
				return "", err
			}
			ce.Pin = c.ID + " " + u.Latest
			return fmt.Sprintf("updates %s: pulls %s (%s → %s), recreates the container with the same configuration, waits until it runs healthily, and rolls back to the current one by itself if it does not",
				c.Ref(), u.Image, dockerctl.ShortDigest(u.Running), dockerctl.ShortDigest(u.Latest)), nil
		},
		Func: func(ctx context.Context, ce *Event) error {
			if host, all, err := f.allArg(ce); all || err != nil {
				if err != nil {
					return err
				}
				// What was approved: these containers to these versions.
				var targets [][2]string
				for line := range strings.SplitSeq(ce.Pin, "\n") {
					if ref, digest, ok := strings.Cut(line, " "); ok {
						targets = append(targets, [2]string{ref, digest})
					}
				}
				if ce.Pin == "" {
					updates, err := f.allUpdatable(ctx, ce, host)
					if err != nil {
						return err
					}
					for _, u := range updates {
						targets = append(targets, [2]string{u.Ref(), ""})
					}
				}
				outcome := state.OutcomeOK
				var details []string
				for _, target := range targets {
					rec, err := f.updateOne(ctx, ce, target[0], target[1])
					if err != nil {
						// One that could not even start (its host down) does not
						// keep the others from being updated.
						zerolog.Ctx(ctx).Err(err).Str("container", target[0]).Msg("Couldn't update a container of !update all")
						rec = AnsweredError{Outcome: state.OutcomeError, Detail: "not updated: " + err.Error()}
					}
					details = append(details, target[0]+": "+rec.Detail)
					if rec.Outcome != state.OutcomeOK && outcome != state.OutcomeError {
						outcome = rec.Outcome
					}
				}
				return AnsweredError{Outcome: outcome, Detail: strings.Join(details, "; ")}
			}
			c, _, err := f.updatable(ctx, ce)
			if err != nil {
				return err
			}
			approvedID, expect, _ := strings.Cut(ce.Pin, " ")
			if ce.Pin != "" && approvedID != c.ID {
				return UserErrorf("%s is another container than the one the request was about (it was replaced meanwhile); ask again.", c.Ref())
			}
			rec, err := f.updateOne(ctx, ce, c.Ref(), expect)
			if err != nil {
				return err
			}
			return rec
		},
	}
}

// updateOne runs the update of one container (HOST/NAME, or NAME), showing its
// progress by editing one message, and returns what to record.
func (f *containerFamily) updateOne(ctx context.Context, ce *Event, ref, expect string) (AnsweredError, error) {
	host, name := dockerctl.SplitRef(ref)
	progressMsg := func(text string) *render.Message {
		return render.New("Updating ").Code(ref).Text(": " + text + "…")
	}
	msgID, err := ce.proc.deps.Messenger.Post(ctx, ce.RoomID, ce.EventID, ce.ThreadRoot, progressMsg("starting"))
	if err != nil {
		return AnsweredError{}, err
	}
	edit := func(msg *render.Message) {
		if err := ce.proc.deps.Messenger.Edit(ctx, ce.RoomID, msgID, msg); err != nil {
			zerolog.Ctx(ctx).Err(err).Msg("Failed to queue update progress")
		}
	}
	// The name is exact here: it came from the engine's own list.
	res, err := f.updater.Update(ctx, host, name, expect, func(step string) { edit(progressMsg(stepText[step])) })
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Str("container", ref).Msg("Container update hit an error")
	}
	if res == nil {
		edit(render.New("Couldn't update ").Code(ref).Text("; the details are in Steward's log. Nothing was changed."))
		return AnsweredError{}, err
	}
	job := res.Job
	took := res.Duration.Round(100 * time.Millisecond)
	detail := fmt.Sprintf("%s %s → %s in %s", job.Image, dockerctl.ShortDigest(job.OldDigest), dockerctl.ShortDigest(job.NewDigest), took)
	switch job.Outcome {
	case dockerctl.OutcomeDone:
		edit(render.New("✅ Updated ").Code(ref).Text(fmt.Sprintf(" to %s (%s → %s) in %s; it runs healthily.", job.Image, dockerctl.ShortDigest(job.OldDigest), dockerctl.ShortDigest(job.NewDigest), took)))
		return AnsweredError{Outcome: state.OutcomeOK, Detail: detail}, nil
	case dockerctl.OutcomeUpToDate:
		edit(render.New("").Code(ref).Text(" already runs the newest " + job.Image + "; nothing to do."))
		return AnsweredError{Outcome: state.OutcomeOK, Detail: "already up to date"}, nil
	case dockerctl.OutcomeRolledBack:
		msg := render.New("↩️ Rolled back ").Code(ref).Text(": " + job.Detail + ". The previous container runs again, unchanged.")
		if res.Logs != "" {
			msg.Line().Text("The new container's last lines (secrets masked):").CodeBlock(redact.Secrets(res.Logs))
		}
		edit(msg)
		return AnsweredError{Outcome: "rolled_back", Detail: detail + "; " + job.Detail}, nil
	default:
		edit(render.New("❌ The update of ").Code(ref).Text(" failed: " + job.Detail + ". Check the container with ").Code(ce.proc.settings.Prefix + "containers").Text("."))
		return AnsweredError{Outcome: state.OutcomeError, Detail: detail + "; " + job.Detail}, nil
	}
}

// allArg reads "all" or "HOST/all": all is false for anything else.
func (f *containerFamily) allArg(ce *Event) (host string, all bool, err error) {
	if len(ce.Args) != 1 {
		return "", false, nil
	}
	host, what := dockerctl.SplitRef(ce.Args[0])
	if !strings.EqualFold(what, "all") {
		return "", false, nil
	}
	if strings.Contains(ce.Args[0], "/") && (!hostName.MatchString(host) || !slices.Contains(f.containers.Hosts(), host)) {
		return "", true, f.unknownHost(host)
	}
	return host, true, nil
}

// allUpdatable lists the running containers (of host, when set) with an update
// Steward may apply.
func (f *containerFamily) allUpdatable(ctx context.Context, ce *Event, host string) ([]dockerctl.Update, error) {
	list, unreachable, err := f.listContainers(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(unreachable) > 0 {
		// An update of "all" must not quietly leave a host out.
		return nil, UserErrorf("I can't reach the Docker Engine of %s right now, so I can't tell what all would update there. Update host by host (%supdate HOST/all), or try again later.",
			strings.Join(unreachable, ", "), ce.proc.settings.Prefix)
	}
	var candidates []dockerctl.Container
	for _, c := range list {
		if label := strings.ToLower(c.Labels[dockerctl.LabelUpdate]); label != "never" && label != "notify" && c.State == "running" {
			candidates = append(candidates, c)
		}
	}
	var updates []dockerctl.Update
	for _, u := range f.containers.CheckUpdates(ctx, candidates) {
		if u.State == dockerctl.UpdateAvailable {
			updates = append(updates, u)
		}
	}
	if len(updates) == 0 {
		return nil, UserErrorf("No running container has an update Steward may apply. %supdates shows why for each.", ce.proc.settings.Prefix)
	}
	return updates, nil
}

// updatable finds the container ce names and checks that it has an update to apply.
func (f *containerFamily) updatable(ctx context.Context, ce *Event) (dockerctl.Container, dockerctl.Update, error) {
	arg, err := oneContainerArg(ce)
	if err != nil {
		return dockerctl.Container{}, dockerctl.Update{}, err
	}
	c, err := f.findContainer(ctx, ce, arg)
	if err != nil {
		return c, dockerctl.Update{}, err
	}
	switch label := strings.ToLower(c.Labels[dockerctl.LabelUpdate]); label {
	case "never", "notify":
		return c, dockerctl.Update{}, UserErrorf("%s is labelled %s=%s: Steward does not update it.", c.Ref(), dockerctl.LabelUpdate, label)
	}
	if c.State != "running" {
		// A new version can only be checked by running it.
		return c, dockerctl.Update{}, UserErrorf("%s is %s, not running: start it first, so the new version can be checked when it replaces it.", c.Ref(), c.State)
	}
	u := f.containers.CheckUpdates(ctx, []dockerctl.Container{c})[0]
	switch u.State {
	case dockerctl.UpToDate:
		return c, u, UserErrorf("%s already runs the newest %s (%s).", c.Ref(), u.Image, dockerctl.ShortDigest(u.Running))
	case dockerctl.UpdateAvailable:
		return c, u, nil
	default:
		return c, u, UserErrorf("I can't update %s: %s.", c.Ref(), u.Reason)
	}
}
