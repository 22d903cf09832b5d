package testbed

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestImage is the image of the test containers: one static binary that sleeps until
// SIGTERM. It is built here from e2e/testdata/sleeper; no registry is needed.
const TestImage = "steward-test/sleeper:latest"

var testImage struct {
	once sync.Once
	err  error
}

// Docker returns a client for the local Docker Engine, for tests that start and kill
// containers, with the test image imported.
func Docker(ctx context.Context) (*client.Client, error) {
	api, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	testImage.once.Do(func() { testImage.err = importTestImage(ctx, api) })
	if testImage.err != nil {
		_ = api.Close()
		return nil, testImage.err
	}
	return api, nil
}

// importTestImage builds the sleeper and imports it as a one-file image.
func importTestImage(ctx context.Context, api *client.Client) error {
	dir, err := os.MkdirTemp("", "steward-sleeper-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "sleeper")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./e2e/testdata/sleeper")
	build.Dir = RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the test container's binary: %v: %s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	if err = tw.WriteHeader(&tar.Header{Name: "sleeper", Mode: 0o755, Size: int64(len(data))}); err != nil {
		return err
	}
	if _, err = tw.Write(data); err != nil {
		return err
	}
	if err = tw.Close(); err != nil {
		return err
	}
	res, err := api.ImageImport(ctx, client.ImageImportSource{Source: &rootfs, SourceName: "-"}, TestImage,
		client.ImageImportOptions{Changes: []string{`CMD ["/sleeper"]`}})
	if err != nil {
		return fmt.Errorf("import the test image: %w", err)
	}
	defer res.Close()
	_, err = io.Copy(io.Discard, res)
	return err
}

// RunContainer creates and starts a test container named name with labels, and
// removes it when the test is over (through cleanup).
func RunContainer(ctx context.Context, api *client.Client, name string, labels map[string]string, cleanup func(func())) (string, error) {
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   name,
		Config: &container.Config{Image: TestImage, Labels: labels},
	})
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	cleanup(func() {
		_, _ = api.ContainerRemove(context.WithoutCancel(ctx), created.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err = api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return "", fmt.Errorf("start container %s: %w", name, err)
	}
	return created.ID, nil
}
