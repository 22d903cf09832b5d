package monitor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/redact"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// ContainerEngine is the part of the Docker Engine the container check uses
// (dockerctl.Engine).
type ContainerEngine interface {
	Containers(ctx context.Context) ([]dockerctl.Container, error)
	Events(ctx context.Context, fn func(dockerctl.Event)) error
}

// Labels a container can carry for Steward.
const (
	// LabelMonitor "false" opts a container out of monitoring.
	LabelMonitor = "steward.monitor"
	// LabelPublic "true" marks a container members use: when it is down, they are told.
	LabelPublic = "steward.public"
)

// dieSettle is how long after a container's death its check runs, so the stop event
// that follows a docker stop's die event is seen first.
const dieSettle = 500 * time.Millisecond

// stoppedKeyPrefix marks, in the KV table, a container stopped on purpose (docker
// stop), so its exit is no alert, even after Steward restarts.
const stoppedKeyPrefix = "container_stopped:"

// ContainerCheck watches the engine's containers: stopped or exited unexpectedly,
// unhealthy, restarting in a loop, killed for lack of memory. It inspects them every
// round and listens to the engine's events, so a container dying starts a round at
// once.
type ContainerCheck struct {
	// Host is the engine's host name, empty when Steward manages one engine; alerts
	// name containers as HOST/NAME when it is set.
	Host   string
	Engine ContainerEngine
	// KV remembers containers stopped on purpose.
	KV            KV
	Every         time.Duration
	RestartLoop   int
	RestartWindow time.Duration
	For           time.Duration
	Hint          string
	Now           func() time.Time

	mu sync.Mutex
	// restarts holds, by container, recent (time, restart count) readings.
	restarts map[string][]restartReading
	// ooms holds when containers were last killed for lack of memory.
	ooms map[string]time.Time
}

type restartReading struct {
	at    time.Time
	count int
}

// Name implements Check.
func (c *ContainerCheck) Name() string {
	if c.Host == "" {
		return "containers"
	}
	return "containers:" + c.Host
}

// Interval implements Check.
func (c *ContainerCheck) Interval() time.Duration { return c.Every }

// Watch follows the engine's events until ctx ends, calling wake after each one that
// may change an alert, and reconnecting when the stream breaks.
func (c *ContainerCheck) Watch(ctx context.Context, wake func()) {
	log := zerolog.Ctx(ctx).With().Str("check", c.Name()).Logger()
	backoff := time.Second
	for {
		err := c.Engine.Events(ctx, func(ev dockerctl.Event) {
			backoff = time.Second
			switch {
			case ev.Action == "die":
				// The engine reports the death before the stop that caused it: look
				// a moment later, once a docker stop has been noted.
				time.AfterFunc(dieSettle, wake)
			case c.note(ctx, ev):
				wake()
			}
		})
		if ctx.Err() != nil {
			return
		}
		log.Warn().Err(err).Dur("retry_in", backoff).Msg("Lost the Docker Engine's event stream")
		if !service.Sleep(ctx, backoff, nil) {
			return
		}
		backoff = min(backoff*2, time.Minute)
	}
}

// note records what an event tells, and reports whether a round should run now.
func (c *ContainerCheck) note(ctx context.Context, ev dockerctl.Event) bool {
	switch ev.Action {
	case "stop":
		c.setStopped(ctx, ev.ContainerID, true)
	case "start", "destroy":
		c.setStopped(ctx, ev.ContainerID, false)
	case "oom":
		c.mu.Lock()
		if c.ooms == nil {
			c.ooms = make(map[string]time.Time)
		}
		c.ooms[ev.ContainerID] = c.Now()
		c.mu.Unlock()
	case "health_status", "restart":
	default:
		return false
	}
	return true
}

func (c *ContainerCheck) setStopped(ctx context.Context, containerID string, stopped bool) {
	value := ""
	if stopped {
		value = c.Now().UTC().Format(time.RFC3339)
	}
	if err := c.KV.Set(ctx, stoppedKeyPrefix+containerID, value); err != nil {
		zerolog.Ctx(ctx).Err(err).Str("container", containerID).Msg("Failed to remember a container stopped on purpose")
	}
}

// Observe implements Check.
func (c *ContainerCheck) Observe(ctx context.Context) ([]Observation, error) {
	containers, err := c.Engine.Containers(ctx)
	if err != nil {
		// The alert says it plainly; the engine's own words (for ssh, its whole
		// command line) go to the log only.
		zerolog.Ctx(ctx).Warn().Err(err).Str("host", c.Host).Msg("Can't reach the Docker Engine")
		if c.Host != "" {
			return nil, fmt.Errorf("can't reach the Docker Engine of %s; the details are in Steward's log", c.Host)
		}
		return nil, errors.New("can't reach the Docker Engine; the details are in Steward's log")
	}
	now := c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.restarts == nil {
		c.restarts = make(map[string][]restartReading)
	}
	seen := make(map[string]bool, len(containers))
	var obs []Observation
	for _, ct := range containers {
		seen[ct.ID] = true
		if strings.EqualFold(ct.Labels[LabelMonitor], "false") {
			continue
		}
		ref := ct.Ref()
		base := Observation{
			Subject: ref, Severity: state.SeverityCritical, Hint: c.Hint, For: c.For,
			Public: strings.EqualFold(ct.Labels[LabelPublic], "true"),
		}
		fingerprint := "container:" + ref + ":"
		if o, ok := c.down(ctx, ct, base); ok {
			o.Fingerprint = fingerprint + "down"
			obs = append(obs, o)
		}
		if ct.State == "running" && ct.Health == "unhealthy" {
			o := base
			o.Fingerprint, o.Summary = fingerprint+"unhealthy", fmt.Sprintf("Container %s is unhealthy", ref)
			o.Value = "health check says: " + render.Shorten(redact.Secrets(ct.HealthLog), 200)
			obs = append(obs, o)
		}
		if n := c.recentRestarts(ct, now); n >= c.RestartLoop {
			o := base
			o.Fingerprint, o.Summary = fingerprint+"restarting", fmt.Sprintf("Container %s keeps restarting", ref)
			o.Value = fmt.Sprintf("%d restarts in the last %s", n, render.Duration(c.RestartWindow))
			obs = append(obs, o)
		}
		if at, ok := c.ooms[ct.ID]; ok && now.Sub(at) < c.RestartWindow {
			o := base
			o.Fingerprint, o.Severity = fingerprint+"oom", state.SeverityWarning
			o.Summary = fmt.Sprintf("Container %s ran out of memory", ref)
			o.Value = "the kernel killed a process in it at " + clock(at)
			obs = append(obs, o)
		}
	}
	for id := range c.restarts {
		if !seen[id] {
			delete(c.restarts, id)
			delete(c.ooms, id)
		}
	}
	return obs, nil
}

// down reports a container that is not running when it should be: it exited with an
// error or was killed, unless it was stopped on purpose.
func (c *ContainerCheck) down(ctx context.Context, ct dockerctl.Container, o Observation) (Observation, bool) {
	switch ct.State {
	case "exited", "dead":
	default:
		return o, false
	}
	if ct.State == "exited" && ct.ExitCode == 0 && !ct.OOMKilled {
		return o, false // it finished cleanly
	}
	if stopped, err := c.KV.Get(ctx, stoppedKeyPrefix+ct.ID); err == nil && stopped != "" {
		// docker stop: someone meant it, unless the container was started again
		// since (an event Steward missed while it was down).
		at, err := time.Parse(time.RFC3339, stopped)
		if err != nil || !ct.StartedAt.After(at) {
			return o, false
		}
	}
	o.Summary = fmt.Sprintf("Container %s is down", ct.Ref())
	switch {
	case ct.OOMKilled:
		o.Value = "killed for lack of memory"
	case ct.State == "dead":
		o.Value = "dead (the engine could not stop or remove it)"
	case ct.ExitCode == 137:
		o.Value = "killed (exit code 137)"
	default:
		o.Value = fmt.Sprintf("exited with code %d", ct.ExitCode)
	}
	if !ct.FinishedAt.IsZero() {
		o.Value += " at " + clock(ct.FinishedAt)
	}
	return o, true
}

// recentRestarts counts ct's restarts within the restart window, from the restart
// counts seen over time.
func (c *ContainerCheck) recentRestarts(ct dockerctl.Container, now time.Time) int {
	readings := append(c.restarts[ct.ID], restartReading{now, ct.RestartCount})
	cut := 0
	for cut < len(readings)-1 && now.Sub(readings[cut].at) > c.RestartWindow {
		cut++
	}
	readings = readings[cut:]
	c.restarts[ct.ID] = readings
	return ct.RestartCount - readings[0].count
}
