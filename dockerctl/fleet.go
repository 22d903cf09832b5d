package dockerctl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Fleet is the engines Steward manages: one, unnamed, or several by host name. It
// answers for all of them at once, and sends what concerns one container to the
// engine it runs on.
type Fleet struct {
	engines []*Engine // in name order
}

// ConnectFleet prepares clients for the engines at endpoints, sorted by host name;
// if one client can't be made, those made are closed and none is returned.
func ConnectFleet(endpoints []Endpoint) (*Fleet, error) {
	f := &Fleet{}
	for _, ep := range endpoints {
		e, err := Connect(ep)
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		f.engines = append(f.engines, e)
	}
	slices.SortFunc(f.engines, func(a, b *Engine) int { return strings.Compare(a.name, b.name) })
	return f, nil
}

// Close releases every engine's connections, going on past a failure; the errors
// are joined.
func (f *Fleet) Close() error {
	var errs []error
	for _, e := range f.engines {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

// Engines lists the engines in name order, for the checks that run on each
// engine; the slice is the fleet's own, not a copy.
func (f *Fleet) Engines() []*Engine { return f.engines }

// Hosts lists the engines' host names in order; one empty name when Steward manages
// one engine.
func (f *Fleet) Hosts() []string {
	names := make([]string, len(f.engines))
	for i, e := range f.engines {
		names[i] = e.name
	}
	return names
}

// Engine returns the engine of host (the empty name when one engine is
// managed); a host not configured is an error, never a fall back to another.
func (f *Fleet) Engine(host string) (*Engine, error) {
	for _, e := range f.engines {
		if e.name == host {
			return e, nil
		}
	}
	return nil, fmt.Errorf("no Docker host %q", host)
}

// UnreachableError lists the hosts whose engines could not be asked; what the
// others answered is still returned beside it.
type UnreachableError struct {
	// Hosts maps each host's name to what went wrong.
	Hosts map[string]error
}

// Error names every unreachable host with its error, in host order, so a log line
// reads the same each time.
func (e *UnreachableError) Error() string {
	parts := make([]string, 0, len(e.Hosts))
	for _, h := range slices.Sorted(maps.Keys(e.Hosts)) {
		parts = append(parts, fmt.Sprintf("%s: %v", h, e.Hosts[h]))
	}
	return "can't reach the Docker Engine of " + strings.Join(parts, "; ")
}

// Unwrap lets errors.Is and errors.As look at each host's error.
func (e *UnreachableError) Unwrap() []error {
	errs := make([]error, 0, len(e.Hosts))
	for _, err := range e.Hosts {
		errs = append(errs, err)
	}
	return errs
}

// Names lists the unreachable hosts sorted, for a listing to say which hosts it
// leaves out.
func (e *UnreachableError) Names() []string { return slices.Sorted(maps.Keys(e.Hosts)) }

// Containers lists the containers of host's engine, or of every engine when host is
// empty, each with its host. The engines are asked at once, so one that is slow to
// answer (a machine down behind ssh) costs its own timeout, not the sum. When some
// engines can't be reached, the others' containers come with an *UnreachableError.
func (f *Fleet) Containers(ctx context.Context, host string) ([]Container, error) {
	engines := f.engines
	if host != "" {
		e, err := f.Engine(host)
		if err != nil {
			return nil, err
		}
		engines = []*Engine{e}
	}
	lists := make([][]Container, len(engines))
	errs := make([]error, len(engines))
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Go(func() { lists[i], errs[i] = e.Containers(ctx) })
	}
	wg.Wait()
	if len(engines) == 1 && len(f.engines) == 1 {
		return lists[0], errs[0]
	}
	var all []Container
	unreachable := make(map[string]error)
	for i, e := range engines {
		if errs[i] != nil {
			unreachable[e.name] = errs[i]
		}
		all = append(all, lists[i]...)
	}
	if len(unreachable) > 0 {
		return all, &UnreachableError{Hosts: unreachable}
	}
	return all, nil
}

// Logs returns the last lines of c's output from c's own engine (see Start); at
// most maxLogBytes are read, however long the lines.
func (f *Fleet) Logs(ctx context.Context, c Container, lines int) (logs string, err error) {
	err = f.on(c, func(e *Engine) error {
		logs, err = e.Logs(ctx, c.ID, lines)
		return err
	})
	return logs, err
}

// Start starts c on the engine it was listed from: a container is addressed by its
// host and ID, never by a name that another engine may also have.
func (f *Fleet) Start(ctx context.Context, c Container) error {
	return f.on(c, func(e *Engine) error { return e.Start(ctx, c.ID) })
}

// Stop stops c on its own engine (see Start), giving it the engine's default grace
// period before it is killed.
func (f *Fleet) Stop(ctx context.Context, c Container) error {
	return f.on(c, func(e *Engine) error { return e.Stop(ctx, c.ID) })
}

// Restart restarts c on its own engine (see Start), for !restart; the engine gives
// c its stop timeout before killing it.
func (f *Fleet) Restart(ctx context.Context, c Container) error {
	return f.on(c, func(e *Engine) error { return e.Restart(ctx, c.ID) })
}

// on runs do on the engine of c's host; a host no longer configured is an error, not
// a fall back to another engine.
func (f *Fleet) on(c Container, do func(*Engine) error) error {
	e, err := f.Engine(c.Host)
	if err != nil {
		return err
	}
	return do(e)
}

// CheckUpdates is Engine.CheckUpdates over the containers' own engines, in the
// order of containers.
func (f *Fleet) CheckUpdates(ctx context.Context, containers []Container) []Update {
	byHost := make(map[string][]int)
	for i, c := range containers {
		byHost[c.Host] = append(byHost[c.Host], i)
	}
	updates := make([]Update, len(containers))
	for host, idx := range byHost {
		e, err := f.Engine(host)
		subset := make([]Container, len(idx))
		for j, i := range idx {
			subset[j] = containers[i]
		}
		if err != nil {
			for j, i := range idx {
				updates[i] = Update{Host: host, Container: subset[j].Name, Image: subset[j].Image, State: UpdateUnknown, Reason: err.Error()}
			}
			continue
		}
		for j, u := range e.CheckUpdates(ctx, subset) {
			updates[idx[j]] = u
		}
	}
	return updates
}

// KnownUpdate is Engine.KnownUpdate on c's engine.
func (f *Fleet) KnownUpdate(ctx context.Context, c Container) (available, known bool) {
	e, err := f.Engine(c.Host)
	if err != nil {
		return false, false
	}
	return e.KnownUpdate(ctx, c)
}

// byRef finds the container named ref (HOST/NAME, or NAME with one engine) by its
// exact name.
func (f *Fleet) byRef(ctx context.Context, ref string) (*Engine, Container, error) {
	host, name := SplitRef(ref)
	e, err := f.Engine(host)
	if err != nil {
		return nil, Container{}, err
	}
	list, err := e.Containers(ctx)
	if err != nil {
		return nil, Container{}, err
	}
	for _, c := range list {
		if c.Name == name {
			return e, c, nil
		}
	}
	return nil, Container{}, fmt.Errorf("no container %q", ref)
}

// RunningByRef reports whether the container named ref runs now.
func (f *Fleet) RunningByRef(ctx context.Context, ref string) (bool, error) {
	_, c, err := f.byRef(ctx, ref)
	return err == nil && c.State == "running", err
}

// StopByRef stops the container named ref, if it runs, and reports whether it did.
func (f *Fleet) StopByRef(ctx context.Context, ref string) (wasRunning bool, err error) {
	e, c, err := f.byRef(ctx, ref)
	if err != nil || c.State != "running" {
		return false, err
	}
	return true, e.Stop(ctx, c.ID)
}

// StartByRef starts the container named ref (HOST/NAME, or NAME with one engine),
// matched by exact name; an in-place restore uses it to start what it stopped.
func (f *Fleet) StartByRef(ctx context.Context, ref string) error {
	e, c, err := f.byRef(ctx, ref)
	if err != nil {
		return err
	}
	return e.Start(ctx, c.ID)
}
