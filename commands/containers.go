package commands

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/redact"
	"github.com/steward-bot/steward/render"
)

// Containers are the Docker Engines as the container commands use them
// (dockerctl.Fleet); a fake stands in for them in tests.
type Containers interface {
	// Hosts names the engines, in order: one empty name when there is one.
	Hosts() []string
	// Containers lists host's containers, or every engine's when host is empty;
	// with a *dockerctl.UnreachableError when some engines can't be asked.
	Containers(ctx context.Context, host string) ([]dockerctl.Container, error)
	Logs(ctx context.Context, c dockerctl.Container, lines int) (string, error)
	Start(ctx context.Context, c dockerctl.Container) error
	Stop(ctx context.Context, c dockerctl.Container) error
	Restart(ctx context.Context, c dockerctl.Container) error
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

// containerFamily is the commands that look at and act on containers: they need the
// Docker Engines, and the updater to stay off a container it is replacing.
type containerFamily struct {
	containers Containers
	updater    Updater
}

// containerCommands registers the container family with the engines and the updater it
// works with (nil for a config check, which runs nothing).
func containerCommands(containers Containers, updater Updater) []*Command {
	f := &containerFamily{containers: containers, updater: updater}
	return []*Command{
		f.list(), f.logs(), f.updates(), f.update(),
		f.containerAction("restart", "Restart a container", "restarts", "Restarted", true,
			func(d Containers) func(context.Context, dockerctl.Container) error { return d.Restart }),
		f.containerAction("stop", "Stop a container (it will not alert as down)", "stops", "Stopped", true,
			func(d Containers) func(context.Context, dockerctl.Container) error { return d.Stop }),
		f.containerAction("start", "Start a stopped container", "starts", "Started", false,
			func(d Containers) func(context.Context, dockerctl.Container) error { return d.Start }),
	}
}

// containerName is what Docker accepts as a container name (or an ID).
var containerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// hostName is what a host's name may be, as docker.hosts takes it.
var hostName = config.HostName

// findContainer resolves what was typed to one of the engines' containers:
// [HOST/]NAME, where NAME is the exact name or the start of the ID (at least 6
// characters, and only one container's). Without HOST/, the name must be on one
// host only. Nothing typed in chat reaches an engine unchecked.
func (f *containerFamily) findContainer(ctx context.Context, ce *Event, arg string) (dockerctl.Container, error) {
	prefix := ce.proc.settings.Prefix
	host, name := dockerctl.SplitRef(arg)
	hasHost := strings.Contains(arg, "/")
	if !containerName.MatchString(name) || (hasHost && !hostName.MatchString(host)) {
		return dockerctl.Container{}, UserErrorf("%q is not a container name. %scontainers lists them.", arg, prefix)
	}
	if hasHost && !slices.Contains(f.containers.Hosts(), host) {
		return dockerctl.Container{}, f.unknownHost(host)
	}
	list, unreachable, err := f.listContainers(ctx, host)
	if err != nil {
		return dockerctl.Container{}, err
	}
	var byName, byID []dockerctl.Container
	for _, c := range list {
		if c.Name == name {
			byName = append(byName, c)
		}
		if len(name) >= 6 && strings.HasPrefix(c.ID, strings.ToLower(name)) {
			byID = append(byID, c)
		}
	}
	if len(byName) == 0 {
		byName = byID
	}
	switch len(byName) {
	case 1:
		if len(unreachable) > 0 {
			// The same name may run on a host that did not answer.
			return dockerctl.Container{}, UserErrorf("I can't reach %s right now, so %q may also be there: say which, as %s.", strings.Join(unreachable, ", "), arg, byName[0].Ref())
		}
		return byName[0], nil
	case 0:
		if len(unreachable) > 0 {
			return dockerctl.Container{}, UserErrorf("There is no container %q on the hosts I can reach; I can't reach %s right now.", arg, strings.Join(unreachable, ", "))
		}
		return dockerctl.Container{}, UserErrorf("There is no container %q. %scontainers lists them.", arg, prefix)
	}
	if byName[0].Name == name && byName[1].Name == name {
		refs := make([]string, len(byName))
		for i, c := range byName {
			refs[i] = c.Ref()
		}
		return dockerctl.Container{}, UserErrorf("%s runs on more than one host: say which, as %s.", name, strings.Join(refs, " or "))
	}
	return dockerctl.Container{}, UserErrorf("%q is the start of %d containers' IDs; give its name.", arg, len(byName))
}

// unknownHost refuses a host that is not configured.
func (f *containerFamily) unknownHost(host string) error {
	hosts := f.containers.Hosts()
	if len(hosts) == 1 && hosts[0] == "" {
		return UserErrorf("Steward manages one Docker host, so containers are named without a host: %q is not needed.", host+"/")
	}
	return UserErrorf("There is no Docker host %q; the hosts are %s.", host, strings.Join(hosts, ", "))
}

// listContainers lists the containers of every host, or of host alone when set;
// unreachable names the hosts that could not be asked. An unreachable engine is a
// plain answer when nothing is left to work with: host's own, or every one.
func (f *containerFamily) listContainers(ctx context.Context, host string) (list []dockerctl.Container, unreachable []string, err error) {
	list, err = f.containers.Containers(ctx, host)
	var down *dockerctl.UnreachableError
	if errors.As(err, &down) {
		if host != "" || len(down.Hosts) == len(f.containers.Hosts()) {
			return nil, nil, UserErrorf("I can't reach the Docker Engine of %s right now; the details are in Steward's log.", cmp.Or(host, strings.Join(down.Names(), ", ")))
		}
		return list, down.Names(), nil
	}
	return list, nil, err
}

// sortedContainers is listContainers by host and name; none is a plain answer.
func (f *containerFamily) sortedContainers(ctx context.Context, host string) ([]dockerctl.Container, []string, error) {
	list, unreachable, err := f.listContainers(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	if len(list) == 0 && len(unreachable) == 0 {
		return nil, nil, UserErrorf("There are no containers.")
	}
	slices.SortFunc(list, func(a, b dockerctl.Container) int { return strings.Compare(a.Ref(), b.Ref()) })
	return list, unreachable, nil
}

// listing lists the containers of the host a listing names, or of every host, sorted.
func (f *containerFamily) listing(ctx context.Context, ce *Event) ([]dockerctl.Container, []string, error) {
	host, err := f.hostArg(ce)
	if err != nil {
		return nil, nil, err
	}
	return f.sortedContainers(ctx, host)
}

// hostArg reads the optional HOST argument of a listing.
func (f *containerFamily) hostArg(ce *Event) (string, error) {
	switch len(ce.Args) {
	case 0:
		return "", nil
	case 1:
		if hosts := f.containers.Hosts(); len(hosts) == 1 && hosts[0] == "" {
			return "", UserErrorf("Steward manages one Docker host: %s%s takes no host.", ce.proc.settings.Prefix, ce.Command.Name)
		}
		if !slices.Contains(f.containers.Hosts(), ce.Args[0]) {
			return "", f.unknownHost(ce.Args[0])
		}
		return ce.Args[0], nil
	default:
		return "", UserErrorf("Usage: %s%s [HOST]", ce.proc.settings.Prefix, ce.Command.Name)
	}
}

// listHint is how to see what a container listing too long for one message left
// out: one host's containers at a time, when it listed them all.
func listHint(ce *Event) string {
	if len(ce.Args) == 0 {
		return "use " + ce.proc.settings.Prefix + ce.Command.Name + " HOST to list one host's"
	}
	return ""
}

// unreachableNote says which hosts a listing leaves out.
func unreachableNote(msg *render.Message, hosts []string) {
	if len(hosts) > 0 {
		msg.Line().Text("⚠️ I can't reach the Docker Engine of " + strings.Join(hosts, ", ") + " right now, so its containers are missing here.")
	}
}

func oneContainerArg(ce *Event) (string, error) {
	if len(ce.Args) != 1 {
		return "", UserErrorf("Usage: %s%s [HOST/]CONTAINER. %scontainers lists them.", ce.proc.settings.Prefix, ce.Command.Name, ce.proc.settings.Prefix)
	}
	return ce.Args[0], nil
}

// list is !containers: every engine's containers (or one host's) at a glance; while
// some engines answer, the ones that can't be reached are named under the table.
func (f *containerFamily) list() *Command {
	return &Command{
		Name:    "containers",
		Section: SectionContainers,
		Help:    "List the containers (all, or one host's): image, state, health, uptime, restarts and known updates",
		Args:    "[HOST]",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			list, unreachable, err := f.listing(ctx, ce)
			if err != nil {
				return err
			}
			now := ce.proc.deps.Now()
			rows := make([][]string, 0, len(list))
			for _, c := range list {
				health, up := c.Health, ""
				if health == "" {
					health = "–"
				}
				switch {
				case c.State == "running" && !c.StartedAt.IsZero():
					up = "up " + render.Duration(now.Sub(c.StartedAt))
				case !c.FinishedAt.IsZero():
					up = fmt.Sprintf("exited %d, %s ago", c.ExitCode, render.Duration(now.Sub(c.FinishedAt)))
				}
				update := "?"
				if available, known := f.containers.KnownUpdate(ctx, c); known && available {
					update = "available"
				} else if known {
					update = "–"
				}
				rows = append(rows, []string{c.Ref(), render.Shorten(c.Image, 40), c.State, health, up, strconv.Itoa(c.RestartCount), update})
			}
			msg := fitRows(rows, listHint(ce), func(rows [][]string) *render.Message {
				msg := render.New(fmt.Sprintf("%d containers (update: from the last check; ? = not checked since Steward started, see ", len(list))).
					Code(ce.proc.settings.Prefix+"updates").Text("):").Line().
					Table([]string{"Name", "Image", "State", "Health", "Since", "Restarts", "Update"}, rows)
				unreachableNote(msg, unreachable)
				return msg
			})
			return ce.Reply(ctx, msg)
		},
	}
}

// logs shows a container's last lines, with what looks like secrets masked.
func (f *containerFamily) logs() *Command {
	return &Command{
		Name:    "logs",
		Section: SectionContainers,
		Help:    "Show a container's last log lines (secrets masked)",
		Args:    fmt.Sprintf("[HOST/]CONTAINER [N, default %d, at most %d]", logsDefault, logsMax),
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			if len(ce.Args) == 0 || len(ce.Args) > 2 {
				return UserErrorf("Usage: %slogs [HOST/]CONTAINER [N]", ce.proc.settings.Prefix)
			}
			lines := logsDefault
			if len(ce.Args) == 2 {
				n, err := strconv.Atoi(ce.Args[1])
				if err != nil || n < 1 {
					return UserErrorf("%q is not a number of lines.", ce.Args[1])
				}
				lines = min(n, logsMax)
			}
			c, err := f.findContainer(ctx, ce, ce.Args[0])
			if err != nil {
				return err
			}
			text, err := f.containers.Logs(ctx, c, lines)
			if err != nil {
				return err
			}
			if text == "" {
				return ce.Reply(ctx, render.New("").Code(c.Ref()).Text(" has written nothing to its log."))
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
			msg := render.New(fmt.Sprintf("Last %d lines of ", strings.Count(text, "\n")+1)).Code(c.Ref()).Text(" (what looks like secrets is masked):")
			if cut {
				msg.Text(" (cut to fit one message)")
			}
			return ce.Reply(ctx, msg.CodeBlock(text))
		},
	}
}

// containerAction declares !start, !stop and !restart: they change what people use, so
// they go through approval (second_admin by default).
func (f *containerFamily) containerAction(name, help, verb, done string, wantRunning bool, do func(Containers) func(context.Context, dockerctl.Container) error) *Command {
	return &Command{
		Name:        name,
		Section:     SectionContainers,
		Help:        help,
		Args:        "[HOST/]CONTAINER",
		Role:        RoleAdmin,
		Effect:      Changes,
		Destructive: true,
		Describe: func(ctx context.Context, ce *Event) (string, error) {
			arg, err := oneContainerArg(ce)
			if err != nil {
				return "", err
			}
			c, err := f.findContainer(ctx, ce, arg)
			if err != nil {
				return "", err
			}
			if running := c.State == "running"; running != wantRunning {
				return "", UserErrorf("%s is %s; there is nothing to %s.", c.Ref(), c.State, name)
			}
			if err = f.notUpdating(c); err != nil {
				return "", err
			}
			// This container, and no other that takes its name meanwhile.
			ce.Pin = c.ID
			return fmt.Sprintf("%s the container %s (image %s, %s)", verb, c.Ref(), c.Image, c.State), nil
		},
		Func: func(ctx context.Context, ce *Event) error {
			arg, err := oneContainerArg(ce)
			if err != nil {
				return err
			}
			// Found again: it may have changed while the request waited.
			c, err := f.findContainer(ctx, ce, arg)
			if err != nil {
				return err
			}
			if ce.Pin != "" && c.ID != ce.Pin {
				return UserErrorf("%s is another container than the one the request was about (it was replaced meanwhile); ask again.", c.Ref())
			}
			if err = f.notUpdating(c); err != nil {
				return err
			}
			started := ce.proc.deps.Now()
			if err = do(f.containers)(ctx, c); err != nil {
				return err
			}
			return ce.Reply(ctx, render.New(done+" ").Code(c.Ref()).Text(fmt.Sprintf(" in %s.", ce.proc.deps.Now().Sub(started).Round(100*time.Millisecond))))
		},
	}
}

// notUpdating refuses to touch a container while it is being updated: the update
// would take a restart or stop for its new version failing, and undo it.
func (f *containerFamily) notUpdating(c dockerctl.Container) error {
	if f.updater != nil && f.updater.Updating(c.Host, c.Name) {
		return UserErrorf("%s is being updated right now; try again when the update is done.", c.Ref())
	}
	return nil
}

// updates tells, for each container, whether its image has a newer version
// under the same tag, without pulling anything.
func (f *containerFamily) updates() *Command {
	return &Command{
		Name:    "updates",
		Section: SectionContainers,
		Help:    "Check which containers' images (all, or one host's) have newer versions in their registries",
		Args:    "[HOST]",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			list, unreachable, err := f.listing(ctx, ce)
			if err != nil {
				return err
			}
			updates := f.containers.CheckUpdates(ctx, list)
			rows := make([][]string, 0, len(updates))
			available := 0
			for _, u := range updates {
				status := string(u.State)
				switch u.State {
				case dockerctl.UpdateAvailable:
					available++
					status += ": " + dockerctl.ShortDigest(u.Running) + " → " + dockerctl.ShortDigest(u.Latest)
				case dockerctl.UpdateUnknown, dockerctl.UpdateNotChecked:
					status += " (" + render.Shorten(u.Reason, 60) + ")"
				}
				rows = append(rows, []string{u.Ref(), render.Shorten(u.Image, 40), status})
			}
			summary := "All checked images are up to date."
			if available > 0 {
				summary = fmt.Sprintf("%d container(s) can be updated:", available)
			}
			msg := fitRows(rows, listHint(ce), func(rows [][]string) *render.Message {
				msg := render.New(summary).Line().Table([]string{"Container", "Image", "Status"}, rows)
				unreachableNote(msg, unreachable)
				return msg
			})
			return ce.Reply(ctx, msg)
		},
	}
}
