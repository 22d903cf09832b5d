package dockerctl

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/client"
)

// LabelUpdate says how a container takes updates: manual (the default), notify (told
// about, never updated by Steward) or never (not even checked).
const LabelUpdate = "steward.update"

// UpdateState is what a check found out about a container's image.
type UpdateState string

// The update states.
const (
	UpToDate        UpdateState = "up to date"
	UpdateAvailable UpdateState = "update available"
	// UpdateUnknown: the image came from no registry (built or imported here), or
	// the registry could not be asked; Reason says which.
	UpdateUnknown UpdateState = "unknown"
	// UpdateNotChecked: the container is labelled steward.update=never.
	UpdateNotChecked UpdateState = "not checked"
)

// Update is whether a container's image has a newer version under its tag.
type Update struct {
	// Host is the container's engine, empty when Steward manages one.
	Host      string
	Container string
	// Image is the reference the container was created from: "nginx:1.27".
	Image string
	// Running is the digest of the image the container runs; Latest the digest the
	// tag points to in the registry now.
	Running, Latest string
	State           UpdateState
	Reason          string
}

// Ref names the container as Container.Ref does.
func (u Update) Ref() string { return JoinRef(u.Host, u.Container) }

// CheckUpdates asks the registry, for each container, which digest its image's tag
// points to now, and compares it with the image the container runs. Nothing is
// pulled. Containers that share an image ask the registry once.
func (e *Engine) CheckUpdates(ctx context.Context, containers []Container) []Update {
	latest := make(map[string]string)
	failed := make(map[string]error)
	updates := make([]Update, 0, len(containers))
	for _, c := range containers {
		u := Update{Host: e.name, Container: c.Name, Image: c.Image}
		if strings.EqualFold(c.Labels[LabelUpdate], "never") {
			u.State, u.Reason = UpdateNotChecked, "labelled "+LabelUpdate+"=never"
			updates = append(updates, u)
			continue
		}
		running, err := e.runningDigests(ctx, c.ImageID)
		if err != nil {
			u.State, u.Reason = UpdateUnknown, err.Error()
			updates = append(updates, u)
			continue
		}
		if len(running) == 0 {
			u.State, u.Reason = UpdateUnknown, "the image was built or imported here, not pulled from a registry"
			updates = append(updates, u)
			continue
		}
		if _, asked := latest[c.Image]; !asked && failed[c.Image] == nil {
			res, err := e.api.DistributionInspect(ctx, c.Image, client.DistributionInspectOptions{})
			if err != nil {
				failed[c.Image] = err
			} else {
				latest[c.Image] = string(res.Descriptor.Digest)
				e.remember(c.Image, latest[c.Image])
			}
		}
		if err := failed[c.Image]; err != nil {
			u.State, u.Reason = UpdateUnknown, "couldn't ask the registry: "+err.Error()
			updates = append(updates, u)
			continue
		}
		u.Latest, u.Running = latest[c.Image], running[0]
		u.State = UpdateAvailable
		for _, d := range running {
			if d == u.Latest {
				u.Running, u.State = d, UpToDate
				break
			}
		}
		updates = append(updates, u)
	}
	return updates
}

// runningDigests returns the registry digests of an image ("sha256:..."), from its
// RepoDigests; none for an image that was never pulled or pushed.
func (e *Engine) runningDigests(ctx context.Context, imageID string) ([]string, error) {
	res, err := e.api.ImageInspect(ctx, imageID)
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", imageID, err)
	}
	var digests []string
	for _, rd := range res.RepoDigests {
		if _, digest, ok := strings.Cut(rd, "@"); ok {
			digests = append(digests, digest)
		}
	}
	return digests, nil
}

func (e *Engine) remember(image, digest string) {
	e.latestMu.Lock()
	defer e.latestMu.Unlock()
	if e.latest == nil {
		e.latest = make(map[string]string)
	}
	e.latest[image] = digest
}

// KnownUpdate tells, from the last update check alone (no registry is asked), whether
// c's image has a newer version: known is false when its image was not checked since
// Steward started.
func (e *Engine) KnownUpdate(ctx context.Context, c Container) (available, known bool) {
	e.latestMu.Lock()
	latest, ok := e.latest[c.Image]
	e.latestMu.Unlock()
	if !ok {
		return false, false
	}
	running, err := e.runningDigests(ctx, c.ImageID)
	if err != nil || len(running) == 0 {
		return false, false
	}
	return !slices.Contains(running, latest), true
}
