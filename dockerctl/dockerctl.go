// Package dockerctl is Steward's only door to the Docker Engine: a small adapter over
// the Engine API (github.com/moby/moby/client) that says what Steward needs to know
// about containers in its own terms. The rest of Steward talks to the interfaces it
// declares over this, never to the API.
package dockerctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/cli/cli/connhelper"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Container is a container as Steward sees it.
type Container struct {
	// Host is the name of the engine it runs on; empty when Steward manages one
	// engine.
	Host string
	ID   string
	Name string
	// Image is the reference the container was created from ("nginx:1.27");
	// ImageID the image it runs ("sha256:...").
	Image   string
	ImageID string
	// State is created, running, paused, restarting, removing, exited or dead.
	State string
	// Health is "" (no health check), starting, healthy or unhealthy.
	Health string
	// HealthLog is the output of the latest health check, when there is one.
	HealthLog     string
	ExitCode      int
	OOMKilled     bool
	RestartCount  int
	RestartPolicy string
	Labels        map[string]string
	StartedAt     time.Time
	FinishedAt    time.Time
}

// Ref is how commands and alerts name the container: HOST/NAME, or NAME alone when
// Steward manages one engine.
func (c Container) Ref() string { return JoinRef(c.Host, c.Name) }

// JoinRef names a container on a host: HOST/NAME, or NAME when host is empty.
func JoinRef(host, name string) string {
	if host == "" {
		return name
	}
	return host + "/" + name
}

// SplitRef splits HOST/NAME; host is empty for a bare NAME.
func SplitRef(ref string) (host, name string) {
	if h, n, ok := strings.Cut(ref, "/"); ok {
		return h, n
	}
	return "", ref
}

// Event is something that happened to a container: start, die, stop, kill, oom,
// health_status, destroy...
type Event struct {
	ContainerID string
	Name        string
	// Action is the event's action, with any detail after ": " dropped
	// ("health_status: unhealthy" is health_status).
	Action string
	Time   time.Time
}

// Engine is a connection to one Docker Engine.
type Engine struct {
	api *client.Client
	// name is the host's name, empty when Steward manages one engine.
	name string
	// label, when set, is the only containers Steward sees: "key" or "key=value".
	label string

	// latest remembers, by image reference, the digest its tag pointed to at the
	// last update check, so listings can tell of updates without asking the
	// registries again.
	latestMu sync.Mutex
	latest   map[string]string
}

// Endpoint is where an engine is reached, and what Steward sees of it.
type Endpoint struct {
	// Name is the host's name in commands; empty when there is one engine.
	Name string
	// Address is unix:///path, tcp://host:port or ssh://user@host; empty means
	// $DOCKER_HOST, else the local socket.
	Address string
	// TLSCA, TLSCert and TLSKey are the files of a TLS connection (tcp://).
	TLSCA, TLSCert, TLSKey string
	// SSHIdentity and SSHKnownHosts are files for ssh (ssh://); with a
	// known_hosts file, an unknown host key is refused.
	SSHIdentity, SSHKnownHosts string
	// OnlyLabel limits Steward to the containers with this label.
	OnlyLabel string
}

// Connect prepares a client for the engine at ep. The API version is negotiated
// with the engine on first use, so older engines (API 1.40 and up) work. An ssh://
// engine is reached by running ssh, which runs "docker system dial-stdio" there, as
// the docker command does.
func Connect(ep Endpoint) (*Engine, error) {
	var opts []client.Opt
	if ep.Address == "" {
		// $DOCKER_HOST and its TLS settings are for the one engine without an
		// address; a configured engine takes only what its config says.
		opts = append(opts, client.FromEnv)
	} else {
		opts = append(opts, client.WithHost(ep.Address))
	}
	if ep.TLSCA != "" || ep.TLSCert != "" || ep.TLSKey != "" {
		opts = append(opts, client.WithTLSClientConfig(ep.TLSCA, ep.TLSCert, ep.TLSKey))
	}
	if strings.HasPrefix(ep.Address, "ssh://") {
		// BatchMode: a daemon has nobody to type a password or accept a key. A
		// machine that is down or half-gone is given up on within seconds, not
		// left to hang a command or an update.
		flags := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"}
		if ep.SSHIdentity != "" {
			flags = append(flags, "-i", ep.SSHIdentity, "-o", "IdentitiesOnly=yes")
		}
		if ep.SSHKnownHosts != "" {
			flags = append(flags, "-o", "UserKnownHostsFile="+ep.SSHKnownHosts, "-o", "StrictHostKeyChecking=yes")
		}
		helper, err := connhelper.GetConnectionHelperWithSSHOpts(ep.Address, flags)
		if err != nil {
			return nil, fmt.Errorf("docker over ssh to %s: %w", ep.Address, err)
		}
		opts = append(opts, client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
	}
	api, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client for %q: %w", ep.Address, err)
	}
	return &Engine{api: api, name: ep.Name, label: ep.OnlyLabel}, nil
}

// Name is the engine's host name, empty when Steward manages one engine.
func (e *Engine) Name() string { return e.name }

// filters narrows a listing or event stream to the containers Steward sees.
func (e *Engine) filters() client.Filters {
	f := make(client.Filters)
	if e.label != "" {
		f.Add("label", e.label)
	}
	return f
}

// Close releases the client's connections; Fleet.Close calls it for every engine
// when Steward stops.
func (e *Engine) Close() error {
	return e.api.Close()
}

// Containers lists every container, running or not, with its state inspected.
func (e *Engine) Containers(ctx context.Context) ([]Container, error) {
	list, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: e.filters()})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]Container, 0, len(list.Items))
	for _, summary := range list.Items {
		res, err := e.api.ContainerInspect(ctx, summary.ID, client.ContainerInspectOptions{})
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				continue // removed meanwhile
			}
			return nil, fmt.Errorf("inspect container %s: %w", summary.ID, err)
		}
		info := res.Container
		c := Container{
			Host: e.name, ID: info.ID, Name: strings.TrimPrefix(info.Name, "/"), ImageID: info.Image, RestartCount: info.RestartCount,
		}
		if info.Config != nil {
			c.Image, c.Labels = info.Config.Image, info.Config.Labels
		}
		if info.HostConfig != nil {
			c.RestartPolicy = string(info.HostConfig.RestartPolicy.Name)
		}
		if st := info.State; st != nil {
			c.State, c.ExitCode, c.OOMKilled = string(st.Status), st.ExitCode, st.OOMKilled
			c.StartedAt, c.FinishedAt = parseTime(st.StartedAt), parseTime(st.FinishedAt)
			if st.Health != nil {
				c.Health = string(st.Health.Status)
				if n := len(st.Health.Log); n > 0 && st.Health.Log[n-1] != nil {
					c.HealthLog = strings.TrimSpace(st.Health.Log[n-1].Output)
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Events calls fn for each container event until ctx ends or the stream breaks, and
// returns why it stopped.
func (e *Engine) Events(ctx context.Context, fn func(Event)) error {
	stream := e.api.Events(ctx, client.EventsListOptions{Filters: e.filters().Add("type", string(events.ContainerEventType))})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-stream.Err:
			if errors.Is(err, io.EOF) {
				return errors.New("the engine closed the event stream")
			}
			return fmt.Errorf("container events: %w", err)
		case msg := <-stream.Messages:
			action, _, _ := strings.Cut(string(msg.Action), ":")
			fn(Event{
				ContainerID: msg.Actor.ID, Name: msg.Actor.Attributes["name"], Action: strings.TrimSpace(action),
				Time: time.Unix(0, msg.TimeNano),
			})
		}
	}
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 2000 {
		return time.Time{} // "0001-01-01T00:00:00Z" for never
	}
	return t
}
