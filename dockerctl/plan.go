package dockerctl

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

// Plan is how to create a container again from another image with the configuration
// it was given: its name, environment, mounts (anonymous volumes included, so their
// data stays), ports, labels (compose's included), restart policy, health check,
// resources, and networks with their aliases.
type Plan struct {
	Name       string
	Config     *container.Config
	HostConfig *container.HostConfig
	// Networks are the networks the container is on, with its settings on each.
	Networks map[string]*network.EndpointSettings
}

// PlanRecreate plans old again from the image ref. What the container's inspection
// shows mixes what its owner set with what its old image supplied (the image's Env,
// Cmd, labels...): the image's share is left out, so the new image's own defaults
// apply, as they would to a container created afresh with the same command line.
// oldImage is the config of the image old runs (nil when it is gone: everything is
// then kept).
func PlanRecreate(old container.InspectResponse, oldImage *v1.DockerOCIImageConfig, ref string) Plan {
	// Copies all the way down: the plan is changed, the inspection it came from not.
	cfg := container.Config{}
	if old.Config != nil {
		cfg = *deepCopy(old.Config)
	}
	cfg.Image = ref
	if len(old.ID) >= 12 && cfg.Hostname == old.ID[:12] {
		cfg.Hostname = "" // Docker's default, the container's short ID: the new one gets its own
	}
	if img := oldImage; img != nil {
		cfg.Env = slices.DeleteFunc(slices.Clone(cfg.Env), func(kv string) bool { return slices.Contains(img.Env, kv) })
		if slices.Equal(cfg.Cmd, img.Cmd) {
			cfg.Cmd = nil
		}
		if slices.Equal(cfg.Entrypoint, img.Entrypoint) {
			cfg.Entrypoint = nil
		}
		if slices.Equal(cfg.Shell, img.Shell) {
			cfg.Shell = nil
		}
		cfg.WorkingDir = unlessEqual(cfg.WorkingDir, img.WorkingDir)
		cfg.User = unlessEqual(cfg.User, img.User)
		cfg.StopSignal = unlessEqual(cfg.StopSignal, img.StopSignal)
		if cfg.Healthcheck != nil && img.Healthcheck != nil {
			// Docker merges a container's health check into its image's field by
			// field (zero means "the image's"): keep only what the owner changed.
			hc, ih := *cfg.Healthcheck, img.Healthcheck
			if slices.Equal(hc.Test, ih.Test) {
				hc.Test = nil
			}
			hc.Interval = unlessEqual(hc.Interval, ih.Interval)
			hc.Timeout = unlessEqual(hc.Timeout, ih.Timeout)
			hc.StartPeriod = unlessEqual(hc.StartPeriod, ih.StartPeriod)
			hc.StartInterval = unlessEqual(hc.StartInterval, ih.StartInterval)
			hc.Retries = unlessEqual(hc.Retries, ih.Retries)
			if reflect.ValueOf(hc).IsZero() {
				cfg.Healthcheck = nil
			} else {
				cfg.Healthcheck = &hc
			}
		}
		cfg.Labels = withoutEntries(cfg.Labels, img.Labels)
		cfg.Volumes = withoutKeys(cfg.Volumes, img.Volumes)
		if len(cfg.ExposedPorts) > 0 {
			ports := make(network.PortSet, len(cfg.ExposedPorts))
			for p := range cfg.ExposedPorts {
				if _, fromImage := img.ExposedPorts[p.String()]; !fromImage {
					ports[p] = struct{}{}
				}
			}
			cfg.ExposedPorts = ports
		}
	}
	plan := Plan{Name: strings.TrimPrefix(old.Name, "/"), Config: &cfg, HostConfig: deepCopy(old.HostConfig)}
	plan.HostConfig = keepVolumes(plan.HostConfig, old.Mounts)
	if old.NetworkSettings == nil {
		return plan
	}
	mode := ""
	if old.HostConfig != nil {
		mode = string(old.HostConfig.NetworkMode)
	}
	if strings.HasPrefix(mode, "container:") {
		// The hostname shown is the joined container's, and Docker refuses one
		// given with this mode.
		cfg.Hostname, cfg.Domainname = "", ""
	}
	if mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:") {
		return plan // the network comes with the mode, not with endpoints
	}
	plan.Networks = make(map[string]*network.EndpointSettings, len(old.NetworkSettings.Networks))
	for name, ep := range old.NetworkSettings.Networks {
		if ep == nil {
			continue
		}
		ep = deepCopy(ep)
		plan.Networks[name] = &network.EndpointSettings{
			IPAMConfig: ep.IPAMConfig,
			Links:      ep.Links,
			// Docker adds the container's short ID as an alias by itself; the
			// old container's would point nowhere.
			Aliases:    slices.DeleteFunc(ep.Aliases, func(a string) bool { return len(old.ID) >= 12 && a == old.ID[:12] }),
			DriverOpts: ep.DriverOpts,
			GwPriority: ep.GwPriority,
		}
	}
	return plan
}

// keepVolumes mounts again the volumes the old container had that its host config
// does not name: the anonymous volumes Docker made for its image's VOLUME lines (and
// named ones given that way). The new container would otherwise get new, empty ones,
// and the data in them would be left behind, as docker compose avoids too.
func keepVolumes(hc *container.HostConfig, mounts []container.MountPoint) *container.HostConfig {
	if hc == nil {
		hc = &container.HostConfig{}
	}
	covered := make(map[string]bool)
	for _, bind := range hc.Binds {
		if parts := strings.Split(bind, ":"); len(parts) >= 2 {
			covered[parts[1]] = true
		}
	}
	for _, m := range hc.Mounts {
		covered[m.Target] = true
	}
	for _, m := range mounts {
		if m.Type != mount.TypeVolume || m.Name == "" || covered[m.Destination] {
			continue
		}
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Name, Target: m.Destination, ReadOnly: !m.RW})
		covered[m.Destination] = true
	}
	return hc
}

// deepCopy copies v through JSON, which the Engine API types are made for; nil stays
// nil.
func deepCopy[T any](v *T) *T {
	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("copy %T: %v", v, err)) // the API's own types always encode
	}
	out := new(T)
	if err = json.Unmarshal(data, out); err != nil {
		panic(fmt.Sprintf("copy %T: %v", v, err))
	}
	return out
}

// unlessEqual is value, or its zero value when it is the image's.
func unlessEqual[T comparable](value, imageValue T) T {
	var zero T
	if value == imageValue {
		return zero
	}
	return value
}

// withoutEntries drops from m the entries image has with the same value.
func withoutEntries(m, image map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := maps.Clone(m)
	for k, v := range image {
		if out[k] == v {
			delete(out, k)
		}
	}
	return out
}

// withoutKeys drops from m the keys image has.
func withoutKeys[V any](m, image map[string]V) map[string]V {
	if len(m) == 0 {
		return m
	}
	out := maps.Clone(m)
	for k := range image {
		delete(out, k)
	}
	return out
}
