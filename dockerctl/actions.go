package dockerctl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// maxLogBytes bounds what Logs reads, whatever the lines' length.
const maxLogBytes = 1 << 20

// Logs returns the last lines of a container's output, standard output and error
// interleaved as the engine keeps them.
func (e *Engine) Logs(ctx context.Context, containerID string, lines int) (string, error) {
	info, err := e.api.ContainerInspect(ctx, containerID, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect container %s: %w", containerID, err)
	}
	rc, err := e.api.ContainerLogs(ctx, containerID, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(lines),
	})
	if err != nil {
		return "", fmt.Errorf("read logs of %s: %w", containerID, err)
	}
	defer rc.Close()
	src := io.LimitReader(rc, maxLogBytes)
	var out bytes.Buffer
	if info.Container.Config != nil && info.Container.Config.Tty {
		_, err = io.Copy(&out, src) // a TTY's output is not multiplexed
	} else {
		_, err = stdcopy.StdCopy(&out, &out, src)
	}
	if err != nil {
		return "", fmt.Errorf("read logs of %s: %w", containerID, err)
	}
	return strings.TrimRight(out.String(), "\n"), nil
}

// Start starts a stopped container by ID; an update uses it to start the new
// container, or the old one again when it rolls back.
func (e *Engine) Start(ctx context.Context, containerID string) error {
	if _, err := e.api.ContainerStart(ctx, containerID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", containerID, err)
	}
	return nil
}

// Stop stops a container the way docker stop does: SIGTERM (or its configured stop
// signal), then SIGKILL after its stop timeout.
func (e *Engine) Stop(ctx context.Context, containerID string) error {
	if _, err := e.api.ContainerStop(ctx, containerID, client.ContainerStopOptions{}); err != nil {
		return fmt.Errorf("stop %s: %w", containerID, err)
	}
	return nil
}

// Restart stops a container as Stop does (stop signal, then SIGKILL after its stop
// timeout) and starts it again, in one call to the engine.
func (e *Engine) Restart(ctx context.Context, containerID string) error {
	if _, err := e.api.ContainerRestart(ctx, containerID, client.ContainerRestartOptions{}); err != nil {
		return fmt.Errorf("restart %s: %w", containerID, err)
	}
	return nil
}

// InspectContainer returns a container's full configuration and state; found is false
// when there is no such container.
func (e *Engine) InspectContainer(ctx context.Context, nameOrID string) (container.InspectResponse, bool, error) {
	res, err := e.api.ContainerInspect(ctx, nameOrID, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return container.InspectResponse{}, false, nil
	}
	if err != nil {
		return container.InspectResponse{}, false, fmt.Errorf("inspect container %s: %w", nameOrID, err)
	}
	return res.Container, true, nil
}

// ImageConfig returns an image's configuration (the defaults it gives containers) and
// its registry digests.
func (e *Engine) ImageConfig(ctx context.Context, imageID string) (*v1.DockerOCIImageConfig, []string, error) {
	res, err := e.api.ImageInspect(ctx, imageID)
	if err != nil {
		return nil, nil, fmt.Errorf("inspect image %s: %w", imageID, err)
	}
	var digests []string
	for _, rd := range res.RepoDigests {
		if _, digest, ok := strings.Cut(rd, "@"); ok {
			digests = append(digests, digest)
		}
	}
	return res.Config, digests, nil
}

// Pull fetches ref from its registry and returns the ID of the image it now names.
func (e *Engine) Pull(ctx context.Context, ref string) (string, error) {
	resp, err := e.api.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", ref, err)
	}
	defer resp.Close()
	if err = resp.Wait(ctx); err != nil {
		return "", fmt.Errorf("pull %s: %w", ref, err)
	}
	res, err := e.api.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("inspect pulled image %s: %w", ref, err)
	}
	return res.ID, nil
}

// Rename gives a container another name: an update moves the old container aside
// under a backup name, and gives the name back when it rolls back.
func (e *Engine) Rename(ctx context.Context, containerID, newName string) error {
	if _, err := e.api.ContainerRename(ctx, containerID, client.ContainerRenameOptions{NewName: newName}); err != nil {
		return fmt.Errorf("rename %s to %s: %w", containerID, newName, err)
	}
	return nil
}

// Create creates (without starting) the container plan describes, on all its
// networks: engines before API 1.44 take one network at creation, so the others are
// connected after.
func (e *Engine) Create(ctx context.Context, plan Plan) (string, error) {
	var first string
	var endpoints map[string]*network.EndpointSettings
	for name := range plan.Networks {
		if first == "" || name < first {
			first = name
		}
	}
	if first != "" {
		endpoints = map[string]*network.EndpointSettings{first: plan.Networks[first]}
	}
	created, err := e.api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: plan.Name, Config: plan.Config, HostConfig: plan.HostConfig,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: endpoints},
	})
	if err != nil {
		return "", fmt.Errorf("create %s: %w", plan.Name, err)
	}
	for name, ep := range plan.Networks {
		if name == first {
			continue
		}
		if _, err = e.api.NetworkConnect(ctx, name, client.NetworkConnectOptions{Container: created.ID, EndpointConfig: ep}); err != nil {
			return created.ID, fmt.Errorf("connect %s to network %s: %w", plan.Name, name, err)
		}
	}
	return created.ID, nil
}

// Remove removes a container, stopping it first if it runs; its volumes stay.
func (e *Engine) Remove(ctx context.Context, containerID string) error {
	if _, err := e.api.ContainerRemove(ctx, containerID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", containerID, err)
	}
	return nil
}
