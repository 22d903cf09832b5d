package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// TestLabel marks every container, image, network and volume the tests create, with
// RunID as its value. The check at the end of a run (Leftovers) removes only what
// carries this run's value: the machine's other containers serve real people, and a
// second test run on the same machine must not lose its own.
const TestLabel = "org.steward.test"

// RunID tells this test binary's Docker objects from another run's.
var RunID = func() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// Labelled returns labels with the test label added, for a container a test creates.
func Labelled(labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[TestLabel] = RunID
	return out
}

func runFilter() client.Filters { return labelFilter(RunID) }

func labelFilter(runID string) client.Filters {
	return client.Filters{}.Add("label", TestLabel+"="+runID)
}

// RemoveRepoImages removes every local image of repo (all its tags, e.g. what a test
// pushed to a loopback registry and Steward pulled back) and the untagged images of
// this run that a re-tag left behind. Containers made from them must be gone first.
func RemoveRepoImages(ctx context.Context, api *client.Client, repo string) error {
	list, err := api.ImageList(ctx, client.ImageListOptions{Filters: runFilter().Add("reference", repo)})
	if err != nil {
		return err
	}
	var errs []error
	for _, img := range list.Items {
		for _, tag := range img.RepoTags {
			if strings.HasPrefix(tag, repo+":") {
				if _, err := api.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
					errs = append(errs, err)
				}
			}
		}
	}
	dangling, err := api.ImageList(ctx, client.ImageListOptions{Filters: runFilter().Add("dangling", "true")})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, img := range dangling.Items {
		// Without force: an untagged image still used by a container is left alone
		// here and found by the check at the end of the run.
		if _, err := api.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveTestImage removes the shared test image the first Docker call imported; the
// suite's teardown calls it once every test is over.
func RemoveTestImage(ctx context.Context) error {
	if !dockerUsed() {
		return nil
	}
	api, err := client.New(client.FromEnv)
	if err != nil {
		return err
	}
	defer api.Close()
	_, err = api.ImageRemove(ctx, TestImage, client.ImageRemoveOptions{PruneChildren: true})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// Leftovers lists what carries the test label with runID as its value (containers,
// stopped ones too, images, networks and volumes), removes it, and returns one line
// naming each. After the last test and the teardown it must return nothing for
// RunID: anything it finds is a leak of a test, and the run fails.
func Leftovers(ctx context.Context, runID string) ([]string, error) {
	if !dockerUsed() {
		return nil, nil
	}
	api, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	defer api.Close()
	var found []string
	var errs []error
	containers, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: labelFilter(runID)})
	if err != nil {
		return nil, err
	}
	for _, c := range containers.Items {
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		found = append(found, fmt.Sprintf("container %s (%s, image %s)", name, c.State, c.Image))
		if _, err := api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	images, err := api.ImageList(ctx, client.ImageListOptions{All: true, Filters: labelFilter(runID)})
	if err != nil {
		return found, errors.Join(append(errs, err)...)
	}
	for _, img := range images.Items {
		tags := slices.DeleteFunc(slices.Clone(img.RepoTags), func(t string) bool { return t == "<none>:<none>" })
		what := "<none> " + strings.TrimPrefix(img.ID, "sha256:")[:12]
		if len(tags) > 0 {
			what = strings.Join(tags, ", ")
		}
		found = append(found, "image "+what)
		if _, err := api.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	networks, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: labelFilter(runID)})
	if err != nil {
		return found, errors.Join(append(errs, err)...)
	}
	for _, n := range networks.Items {
		found = append(found, "network "+n.Name)
		if _, err := api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	volumes, err := api.VolumeList(ctx, client.VolumeListOptions{Filters: labelFilter(runID)})
	if err != nil {
		return found, errors.Join(append(errs, err)...)
	}
	for _, v := range volumes.Items {
		found = append(found, "volume "+v.Name)
		if _, err := api.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}
