package testbed

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestImage is the image of the test containers: one static binary that sleeps until
// SIGTERM. It is built here from e2e/testdata/sleeper; no registry is needed. Its tag
// is the run's: a second test run on the machine imports and removes its own, and so
// never takes the tag from under the first run's containers.
var TestImage = "steward-test/sleeper:" + RunID

var testImage struct {
	once sync.Once
	err  error
	used atomic.Bool
}

// dockerUsed reports whether a test of this run reached the engine (through Docker),
// so the teardown has something to check.
func dockerUsed() bool { return testImage.used.Load() }

// Docker returns a client for the local Docker Engine, for tests that start and kill
// containers, with the test image imported.
func Docker(ctx context.Context) (*client.Client, error) {
	api, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	testImage.used.Store(true)
	testImage.once.Do(func() { testImage.err = importTestImage(ctx, api) })
	if testImage.err != nil {
		_ = api.Close()
		return nil, testImage.err
	}
	return api, nil
}

var sleeperBinary []byte

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
	if sleeperBinary, err = os.ReadFile(bin); err != nil {
		return err
	}
	return ImportImage(ctx, api, TestImage, "")
}

// ImportImage imports the sleeper as ref; version, when set, is written to /version
// in the image, so each version is an image of its own (another digest). The image
// carries the test label, and so do its copies pushed to and pulled from a registry
// and the containers made from it (Docker copies an image's labels into them).
func ImportImage(ctx context.Context, api *client.Client, ref, version string) error {
	return importImage(ctx, api, ref, version, `CMD ["/sleeper"]`)
}

func importImage(ctx context.Context, api *client.Client, ref, version string, changes ...string) error {
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	type file struct {
		name string
		mode int64
		data []byte
	}
	files := []file{{"sleeper", 0o755, sleeperBinary}}
	if version != "" {
		files = append(files, file{"version", 0o644, []byte(version + "\n")})
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	changes = append(changes, fmt.Sprintf("LABEL %s=%s", TestLabel, RunID))
	res, err := api.ImageImport(ctx, client.ImageImportSource{Source: &rootfs, SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("import image %s: %w", ref, err)
	}
	defer res.Close()
	_, err = io.Copy(io.Discard, res)
	return err
}

// PushImage pushes ref to its registry (a local one, without credentials).
func PushImage(ctx context.Context, api *client.Client, ref string) error {
	res, err := api.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: base64.URLEncoding.EncodeToString([]byte("{}"))})
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	defer res.Close()
	out, err := io.ReadAll(res)
	if err != nil {
		return err
	}
	if bytes.Contains(out, []byte(`"error"`)) {
		return fmt.Errorf("push %s: %s", ref, out)
	}
	return nil
}

// WriteFile puts a file into a running container (as docker cp does), for tests that
// change what a container's health check sees.
func WriteFile(ctx context.Context, api *client.Client, containerID, name, content string) error {
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
		return err
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := api.CopyToContainer(ctx, containerID, client.CopyToContainerOptions{DestinationPath: "/", Content: &archive})
	return err
}

// Registry is a local image registry (Debian's docker-registry) on loopback.
type Registry struct {
	// Host is "127.0.0.1:port", the start of the references of its images.
	Host   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartRegistry runs a registry storing its images under dir. The Docker Engine
// trusts plain-HTTP registries on 127.0.0.0/8, so nothing needs configuring.
func StartRegistry(ctx context.Context, dir string) (*Registry, error) {
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		return nil, errors.New("docker-registry is not installed (apt-get install docker-registry; .ci/run does)")
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "storage"), host)
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	configPath := filepath.Join(dir, "config.yml")
	if err = os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err = cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	r := &Registry{Host: host, cmd: cmd, exited: exited}
	if err = waitHTTP(ctx, "http://"+host+"/v2/", 30*time.Second, exited); err != nil {
		r.Stop()
		return nil, fmt.Errorf("registry did not start: %w (see %s)", err, logFile.Name())
	}
	return r, nil
}

// Stop ends the registry and waits until it has exited, so no registry outlives its
// test.
func (r *Registry) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// RunContainer creates and starts a test container named name with labels (and the
// test label), and removes it when the test is over (through cleanup).
func RunContainer(ctx context.Context, api *client.Client, name string, labels map[string]string, cleanup func(func())) (string, error) {
	return RunContainerFrom(ctx, api, TestImage, name, labels, cleanup)
}

// RunContainerFrom is RunContainer with the image ref.
func RunContainerFrom(ctx context.Context, api *client.Client, ref, name string, labels map[string]string, cleanup func(func())) (string, error) {
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   name,
		Config: &container.Config{Image: ref, Labels: Labelled(labels)},
	})
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	// By name, not ID: an !update in the test recreates the container under a new ID
	// with the same name, and may leave the old one under the set-aside name.
	cleanup(func() {
		bg := context.WithoutCancel(ctx)
		for _, n := range []string{name, name + "-steward-previous"} {
			_, _ = api.ContainerRemove(bg, n, client.ContainerRemoveOptions{Force: true})
		}
	})
	if _, err = api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return "", fmt.Errorf("start container %s: %w", name, err)
	}
	return created.ID, nil
}
