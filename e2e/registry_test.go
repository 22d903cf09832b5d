package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/steward-bot/steward/e2e/testbed"
)

// imageRepo is one repository of a local registry started for a test, holding
// versions of the test image under one tag.
type imageRepo struct {
	t   testing.TB
	api *client.Client
	// Ref is the tagged reference containers are created from.
	Ref string
}

// newImageRepo starts a registry for the test (stopped when it ends) and names the
// repository repo:tag in it.
func newImageRepo(t testing.TB, api *client.Client, repo string) *imageRepo {
	t.Helper()
	registry, err := testbed.StartRegistry(t.Context(), filepath.Join(w.Dir, "registry-"+filepath.Base(t.Name())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(registry.Stop)
	return repoIn(t, api, registry.Host, repo)
}

// repoIn names the repository repo:tag in the registry at host, and removes its local
// images when the test ends.
func repoIn(t testing.TB, api *client.Client, host, repo string) *imageRepo {
	t.Helper()
	name, _, _ := strings.Cut(repo, ":")
	name = host + "/steward-test/" + name
	// Registered before the test creates containers from the images, so it runs after
	// they are removed: every tag pushed or pulled, and the untagged images a new
	// version left, go with the test.
	t.Cleanup(func() {
		if err := testbed.RemoveRepoImages(context.WithoutCancel(t.Context()), api, name); err != nil {
			t.Errorf("remove the images of %s: %v", name, err)
		}
	})
	return &imageRepo{t: t, api: api, Ref: host + "/steward-test/" + repo}
}

// push makes version the image under the tag, in the registry and locally, and
// returns its image ID.
func (r *imageRepo) push(version string) string {
	r.t.Helper()
	ctx := r.t.Context()
	if err := testbed.ImportImage(ctx, r.api, r.Ref, version); err != nil {
		r.t.Fatal(err)
	}
	if err := testbed.PushImage(ctx, r.api, r.Ref); err != nil {
		r.t.Fatal(err)
	}
	img, err := r.api.ImageInspect(ctx, r.Ref)
	if err != nil {
		r.t.Fatal(err)
	}
	return img.ID
}
