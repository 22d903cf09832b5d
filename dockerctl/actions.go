package dockerctl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/moby/moby/api/pkg/stdcopy"
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

// Start starts a stopped container.
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

// Restart stops and starts a container.
func (e *Engine) Restart(ctx context.Context, containerID string) error {
	if _, err := e.api.ContainerRestart(ctx, containerID, client.ContainerRestartOptions{}); err != nil {
		return fmt.Errorf("restart %s: %w", containerID, err)
	}
	return nil
}
