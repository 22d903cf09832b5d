package commands

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-bot/steward/bot/render"
	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/redact"
)

// ContainerDesk is what commands do with the Docker Engine (dockerctl.Engine).
type ContainerDesk interface {
	Containers(ctx context.Context) ([]dockerctl.Container, error)
	Logs(ctx context.Context, containerID string, lines int) (string, error)
	Start(ctx context.Context, containerID string) error
	Stop(ctx context.Context, containerID string) error
	Restart(ctx context.Context, containerID string) error
	CheckUpdates(ctx context.Context, containers []dockerctl.Container) []dockerctl.Update
	KnownUpdate(ctx context.Context, c dockerctl.Container) (available, known bool)
}

// Limits of !logs: lines by default and at most, and characters at most, so the
// answer stays one readable message.
const (
	logsDefault  = 30
	logsMax      = 200
	logsMaxChars = 12000
)

// containerName is what Docker accepts as a container name (or an ID).
var containerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// findContainer resolves what was typed to one of the engine's containers: its exact
// name, or the start of its ID (at least 6 characters, and only one container's).
// Nothing typed in chat reaches the engine unchecked.
func (p *Processor) findContainer(ctx context.Context, arg string) (dockerctl.Container, error) {
	prefix := p.settings.Prefix
	if !containerName.MatchString(arg) {
		return dockerctl.Container{}, Usagef("%q is not a container name. %scontainers lists them.", arg, prefix)
	}
	list, err := p.containers.Containers(ctx)
	if err != nil {
		return dockerctl.Container{}, err
	}
	var byID []dockerctl.Container
	for _, c := range list {
		if c.Name == arg {
			return c, nil
		}
		if len(arg) >= 6 && strings.HasPrefix(c.ID, strings.ToLower(arg)) {
			byID = append(byID, c)
		}
	}
	switch len(byID) {
	case 1:
		return byID[0], nil
	case 0:
		return dockerctl.Container{}, Usagef("There is no container %q. %scontainers lists them.", arg, prefix)
	default:
		return dockerctl.Container{}, Usagef("%q is the start of %d containers' IDs; give its name.", arg, len(byID))
	}
}

// sortedContainers lists the engine's containers by name; none is a plain answer.
func (p *Processor) sortedContainers(ctx context.Context) ([]dockerctl.Container, error) {
	list, err := p.containers.Containers(ctx)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, Usagef("There are no containers.")
	}
	slices.SortFunc(list, func(a, b dockerctl.Container) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

func oneContainerArg(ce *Event) (string, error) {
	if len(ce.Args) != 1 {
		return "", Usagef("Usage: %s%s CONTAINER. %scontainers lists them.", ce.proc.settings.Prefix, ce.Command.Name, ce.proc.settings.Prefix)
	}
	return ce.Args[0], nil
}

// CommandContainers lists the engine's containers at a glance.
var CommandContainers = &Command{
	Name:    "containers",
	Section: SectionContainers,
	Help:    "List the containers: image, state, health, uptime, restarts and known updates",
	Role:    RoleAdmin,
	Func: func(ctx context.Context, ce *Event) error {
		list, err := ce.proc.sortedContainers(ctx)
		if err != nil {
			return err
		}
		now := ce.proc.now()
		rows := make([][]string, 0, len(list))
		for _, c := range list {
			health, up := c.Health, ""
			if health == "" {
				health = "–"
			}
			switch {
			case c.State == "running" && !c.StartedAt.IsZero():
				up = "up " + roundDuration(now.Sub(c.StartedAt))
			case !c.FinishedAt.IsZero():
				up = fmt.Sprintf("exited %d, %s ago", c.ExitCode, roundDuration(now.Sub(c.FinishedAt)))
			}
			update := "?"
			if available, known := ce.proc.containers.KnownUpdate(ctx, c); known && available {
				update = "available"
			} else if known {
				update = "–"
			}
			rows = append(rows, []string{c.Name, shorten(c.Image, 40), c.State, health, up, strconv.Itoa(c.RestartCount), update})
		}
		return ce.Reply(ctx, render.New(fmt.Sprintf("%d containers (update: from the last check; ? = not checked since Steward started, see ", len(list))).
			Code(ce.proc.settings.Prefix+"updates").Text("):").Line().
			Table([]string{"Name", "Image", "State", "Health", "Since", "Restarts", "Update"}, rows))
	},
}

// CommandLogs shows a container's last lines, with what looks like secrets masked.
var CommandLogs = &Command{
	Name:    "logs",
	Section: SectionContainers,
	Help:    "Show a container's last log lines (secrets masked)",
	Args:    fmt.Sprintf("CONTAINER [N, default %d, at most %d]", logsDefault, logsMax),
	Role:    RoleAdmin,
	Func: func(ctx context.Context, ce *Event) error {
		p := ce.proc
		if len(ce.Args) == 0 || len(ce.Args) > 2 {
			return Usagef("Usage: %slogs CONTAINER [N]", p.settings.Prefix)
		}
		lines := logsDefault
		if len(ce.Args) == 2 {
			n, err := strconv.Atoi(ce.Args[1])
			if err != nil || n < 1 {
				return Usagef("%q is not a number of lines.", ce.Args[1])
			}
			lines = min(n, logsMax)
		}
		c, err := p.findContainer(ctx, ce.Args[0])
		if err != nil {
			return err
		}
		text, err := p.containers.Logs(ctx, c.ID, lines)
		if err != nil {
			return err
		}
		if text == "" {
			return ce.Reply(ctx, render.New("").Code(c.Name).Text(" has written nothing to its log."))
		}
		text = redact.Secrets(text)
		cut := false
		for len(text) > logsMaxChars {
			cut = true
			if _, rest, found := strings.Cut(text, "\n"); found {
				text = rest
				continue
			}
			// One line longer than a message: keep its end, cut at a character.
			runes := []rune(text)
			text = "…" + string(runes[len(runes)-logsMaxChars/4:])
			break
		}
		msg := render.New(fmt.Sprintf("Last %d lines of ", strings.Count(text, "\n")+1)).Code(c.Name).Text(" (what looks like secrets is masked):")
		if cut {
			msg.Text(" (cut to fit one message)")
		}
		return ce.Reply(ctx, msg.CodeBlock(text))
	},
}

// containerAction declares !start, !stop and !restart: they change what people use, so
// they go through approval (second_admin by default).
func containerAction(name, help, verb, done string, wantRunning bool, do func(ContainerDesk) func(context.Context, string) error) *Command {
	return &Command{
		Name:        name,
		Section:     SectionContainers,
		Help:        help,
		Args:        "CONTAINER",
		Role:        RoleAdmin,
		Destructive: true,
		Describe: func(ctx context.Context, ce *Event) (string, error) {
			arg, err := oneContainerArg(ce)
			if err != nil {
				return "", err
			}
			c, err := ce.proc.findContainer(ctx, arg)
			if err != nil {
				return "", err
			}
			if running := c.State == "running"; running != wantRunning {
				return "", Usagef("%s is %s; there is nothing to %s.", c.Name, c.State, name)
			}
			return fmt.Sprintf("%s the container %s (image %s, %s)", verb, c.Name, c.Image, c.State), nil
		},
		Func: func(ctx context.Context, ce *Event) error {
			arg, err := oneContainerArg(ce)
			if err != nil {
				return err
			}
			// Found again: it may have changed while the request waited.
			c, err := ce.proc.findContainer(ctx, arg)
			if err != nil {
				return err
			}
			started := ce.proc.now()
			if err = do(ce.proc.containers)(ctx, c.ID); err != nil {
				return err
			}
			return ce.Reply(ctx, render.New(done+" ").Code(c.Name).Text(fmt.Sprintf(" in %s.", ce.proc.now().Sub(started).Round(100*time.Millisecond))))
		},
	}
}

// The container actions.
var (
	CommandRestart = containerAction("restart", "Restart a container", "restarts", "Restarted", true,
		func(d ContainerDesk) func(context.Context, string) error { return d.Restart })
	CommandStop = containerAction("stop", "Stop a container (it will not alert as down)", "stops", "Stopped", true,
		func(d ContainerDesk) func(context.Context, string) error { return d.Stop })
	CommandStart = containerAction("start", "Start a stopped container", "starts", "Started", false,
		func(d ContainerDesk) func(context.Context, string) error { return d.Start })
)

// CommandUpdates tells, for each container, whether its image has a newer version
// under the same tag, without pulling anything.
var CommandUpdates = &Command{
	Name:    "updates",
	Section: SectionContainers,
	Help:    "Check which containers' images have newer versions in their registries",
	Role:    RoleAdmin,
	Func: func(ctx context.Context, ce *Event) error {
		list, err := ce.proc.sortedContainers(ctx)
		if err != nil {
			return err
		}
		updates := ce.proc.containers.CheckUpdates(ctx, list)
		rows := make([][]string, 0, len(updates))
		available := 0
		for _, u := range updates {
			status := string(u.State)
			switch u.State {
			case dockerctl.UpdateAvailable:
				available++
				status += ": " + dockerctl.ShortDigest(u.Running) + " → " + dockerctl.ShortDigest(u.Latest)
			case dockerctl.UpdateUnknown, dockerctl.UpdateNotChecked:
				status += " (" + shorten(u.Reason, 60) + ")"
			}
			rows = append(rows, []string{u.Container, shorten(u.Image, 40), status})
		}
		summary := "All checked images are up to date."
		if available > 0 {
			summary = fmt.Sprintf("%d container(s) can be updated:", available)
		}
		return ce.Reply(ctx, render.New(summary).Line().Table([]string{"Container", "Image", "Status"}, rows))
	},
}
