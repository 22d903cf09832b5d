package dockerctl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/steward-bot/steward/state"
)

var (
	_ Runtime = (*fakeEngine)(nil)
	_ Journal = (*fakeJournal)(nil)
)

// fakeEngine is an in-memory Docker Engine for the update logic: containers by ID
// with unique names, images with their config and registry digests, the local tags
// and a registry to pull from. Containers age by time.Now, so tests run it under
// testing/synctest. Failures are injected per method, and every call is recorded with
// the step the journal held when it was made.
type fakeEngine struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer // by ID
	images     map[string]*fakeImage     // by ID
	tags       map[string]string         // local reference → image ID
	registry   map[string]string         // reference → the image ID a pull gets
	// fail holds, per method, what its successive calls return (nil: succeed).
	fail map[string][]error
	// crashAfter makes the first call of that method panic with crash{} once it
	// took effect, as if Steward were killed right then.
	crashAfter string
	journal    *fakeJournal
	calls      []fakeCall
	lastID     int
}

// crash is the panic of a simulated stop of Steward.
type crash struct{}

// fakeCall is one call to the engine.
type fakeCall struct {
	Method, Arg string
	// Step is the journal's step for the latest update when the call was made.
	Step string
}

// fakeImage is an image, and how containers made from it behave.
type fakeImage struct {
	Config  *v1.DockerOCIImageConfig
	Digests []string
	Behave  behaviour
}

// behaviour is what a container does once started, by the time since its start.
type behaviour struct {
	Exits     bool
	ExitAfter time.Duration
	ExitCode  int
	// Restarts are the times at which its restart policy restarted it (it runs again
	// right after).
	Restarts []time.Duration
	// Health is the status its health check (if it has one) reaches at HealthAfter;
	// it is starting before, and stays starting when Health is "".
	Health      container.HealthStatus
	HealthAfter time.Duration
	// Logs is what it writes.
	Logs string
}

// fakeContainer is a container as the engine keeps it.
type fakeContainer struct {
	ID, Name   string // Name without Docker's leading slash
	Image      string // image ID
	Config     *container.Config
	HostConfig *container.HostConfig
	Networks   map[string]*network.EndpointSettings
	Started    bool // ever
	Running    bool
	ExitCode   int
	StartedAt  time.Time
}

func newFakeEngine(j *fakeJournal) *fakeEngine {
	return &fakeEngine{
		containers: map[string]*fakeContainer{}, images: map[string]*fakeImage{},
		tags: map[string]string{}, registry: map[string]string{}, fail: map[string][]error{}, journal: j,
	}
}

// begin records a call and returns the error injected for it. The caller holds mu.
func (f *fakeEngine) begin(method, arg string) error {
	step := ""
	if f.journal != nil {
		step = f.journal.latestStep()
	}
	f.calls = append(f.calls, fakeCall{Method: method, Arg: arg, Step: step})
	if q := f.fail[method]; len(q) > 0 {
		f.fail[method] = q[1:]
		return q[0]
	}
	return nil
}

// done simulates Steward's stop after method, when asked to. The caller holds mu,
// released by its deferred Unlock as the panic unwinds.
func (f *fakeEngine) done(method string) {
	if f.crashAfter == method {
		f.crashAfter = ""
		panic(crash{})
	}
}

// find finds a container by ID or name (with or without the slash).
func (f *fakeEngine) find(nameOrID string) *fakeContainer {
	if c, ok := f.containers[nameOrID]; ok {
		return c
	}
	for _, c := range f.containers {
		if c.Name == strings.TrimPrefix(nameOrID, "/") {
			return c
		}
	}
	return nil
}

func (f *fakeEngine) nameTaken(name, exceptID string) bool {
	for _, c := range f.containers {
		if c.Name == name && c.ID != exceptID {
			return true
		}
	}
	return false
}

// healthcheck tells whether c has a health check: its own test, else its image's
// (Docker merges them so), unless it is NONE.
func (f *fakeEngine) healthcheck(c *fakeContainer) bool {
	var test []string
	if c.Config.Healthcheck != nil {
		test = c.Config.Healthcheck.Test
	}
	if img := f.images[c.Image]; len(test) == 0 && img != nil && img.Config.Healthcheck != nil {
		test = img.Config.Healthcheck.Test
	}
	return len(test) > 0 && test[0] != "NONE"
}

func (f *fakeEngine) InspectContainer(_ context.Context, nameOrID string) (container.InspectResponse, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("InspectContainer", nameOrID); err != nil {
		return container.InspectResponse{}, false, err
	}
	c := f.find(nameOrID)
	if c == nil {
		return container.InspectResponse{}, false, nil
	}
	b := f.images[c.Image].Behave
	elapsed := time.Since(c.StartedAt)
	if c.Running && b.Exits && elapsed >= b.ExitAfter {
		c.Running, c.ExitCode = false, b.ExitCode
	}
	st := &container.State{Status: container.StateCreated, Running: c.Running, ExitCode: c.ExitCode}
	restarts := 0
	switch {
	case c.Running:
		st.Status = container.StateRunning
		for _, at := range b.Restarts {
			if elapsed >= at {
				restarts++
			}
		}
		if f.healthcheck(c) {
			st.Health = &container.Health{Status: container.Starting}
			if b.Health != "" && elapsed >= b.HealthAfter {
				st.Health.Status = b.Health
			}
		}
	case c.Started:
		st.Status = container.StateExited
	}
	f.done("InspectContainer")
	return container.InspectResponse{
		ID: c.ID, Name: "/" + c.Name, Image: c.Image, State: st, RestartCount: restarts,
		Config: deepCopy(c.Config), HostConfig: deepCopy(c.HostConfig),
		NetworkSettings: &container.NetworkSettings{Networks: maps.Clone(c.Networks)},
	}, true, nil
}

func (f *fakeEngine) ImageConfig(_ context.Context, imageID string) (*v1.DockerOCIImageConfig, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ImageConfig", imageID); err != nil {
		return nil, nil, err
	}
	img, ok := f.images[imageID]
	if !ok {
		return nil, nil, fmt.Errorf("inspect image %s: No such image", imageID)
	}
	return deepCopy(img.Config), slices.Clone(img.Digests), nil
}

func (f *fakeEngine) Pull(_ context.Context, ref string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Pull", ref); err != nil {
		return "", err
	}
	id, ok := f.registry[ref]
	if !ok {
		return "", fmt.Errorf("pull %s: manifest unknown", ref)
	}
	f.tags[ref] = id
	f.done("Pull")
	return id, nil
}

func (f *fakeEngine) Rename(_ context.Context, containerID, newName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Rename", containerID+" "+newName); err != nil {
		return err
	}
	c := f.find(containerID)
	if c == nil {
		return fmt.Errorf("rename %s: No such container", containerID)
	}
	if f.nameTaken(newName, c.ID) {
		return fmt.Errorf("rename %s to %s: Conflict. The container name %q is already in use", containerID, newName, "/"+newName)
	}
	c.Name = newName
	f.done("Rename")
	return nil
}

func (f *fakeEngine) Stop(_ context.Context, containerID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Stop", containerID); err != nil {
		return err
	}
	c := f.find(containerID)
	if c == nil {
		return fmt.Errorf("stop %s: No such container", containerID)
	}
	c.Running, c.ExitCode = false, 0
	f.done("Stop")
	return nil
}

func (f *fakeEngine) Start(_ context.Context, containerID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Start", containerID); err != nil {
		return err
	}
	c := f.find(containerID)
	if c == nil {
		return fmt.Errorf("start %s: No such container", containerID)
	}
	if !c.Running {
		c.Started, c.Running, c.ExitCode, c.StartedAt = true, true, 0, time.Now()
	}
	f.done("Start")
	return nil
}

func (f *fakeEngine) Create(_ context.Context, plan Plan) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Create", plan.Name); err != nil {
		return "", err
	}
	imageID, ok := f.tags[plan.Config.Image]
	if !ok {
		return "", fmt.Errorf("create %s: No such image: %s", plan.Name, plan.Config.Image)
	}
	if f.nameTaken(plan.Name, "") {
		return "", fmt.Errorf("create %s: Conflict. The container name %q is already in use", plan.Name, "/"+plan.Name)
	}
	f.lastID++
	id := fmt.Sprintf("c0ffee%058d", f.lastID)
	f.add(&fakeContainer{
		ID: id, Name: plan.Name, Image: imageID, Config: deepCopy(plan.Config),
		HostConfig: deepCopy(plan.HostConfig), Networks: maps.Clone(plan.Networks),
	})
	f.done("Create")
	return id, nil
}

// add puts c in the engine, its configuration completed by its image's defaults as
// Docker shows it.
func (f *fakeEngine) add(c *fakeContainer) {
	img := f.images[c.Image].Config
	env := slices.Clone(img.Env)
	for _, kv := range c.Config.Env {
		key, _, _ := strings.Cut(kv, "=")
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
		env = append(env, kv)
	}
	labels := maps.Clone(img.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, c.Config.Labels)
	c.Config.Env, c.Config.Labels = env, labels
	if c.Config.Hostname == "" {
		c.Config.Hostname = c.ID[:12]
	}
	if c.HostConfig == nil {
		c.HostConfig = &container.HostConfig{}
	}
	f.containers[c.ID] = c
}

func (f *fakeEngine) Remove(_ context.Context, containerID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Remove", containerID); err != nil {
		return err
	}
	if c := f.find(containerID); c != nil {
		delete(f.containers, c.ID)
	}
	f.done("Remove")
	return nil
}

func (f *fakeEngine) Logs(_ context.Context, containerID string, lines int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Logs", containerID); err != nil {
		return "", err
	}
	c := f.find(containerID)
	if c == nil {
		return "", fmt.Errorf("inspect container %s: No such container", containerID)
	}
	if !c.Started {
		return "", nil
	}
	all := strings.Split(strings.TrimRight(f.images[c.Image].Behave.Logs, "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n"), nil
}

// named returns the container called name, or nil.
func (f *fakeEngine) named(name string) *fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.find("/" + name)
}

// names lists the containers' names, sorted.
func (f *fakeEngine) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, c := range f.containers {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// changes returns the calls from the from-th on that change something.
func (f *fakeEngine) changes(from int) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls[from:] {
		switch c.Method {
		case "Pull", "Rename", "Stop", "Start", "Create", "Remove":
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeEngine) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// fakeJournal keeps update jobs in memory, as saved: copies, so a change not yet
// saved does not show.
type fakeJournal struct {
	mu   sync.Mutex
	jobs []state.UpdateJob // jobs[i] has ID i+1
	// failSave makes a Save of an update under way at that step fail.
	failSave map[string]error
}

func (j *fakeJournal) Insert(_ context.Context, job *state.UpdateJob) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	job.ID = int64(len(j.jobs) + 1)
	j.jobs = append(j.jobs, *job)
	return nil
}

func (j *fakeJournal) Save(_ context.Context, job *state.UpdateJob) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if job.ID < 1 || int(job.ID) > len(j.jobs) {
		return fmt.Errorf("journal update of %s: no job %d", job.Container, job.ID)
	}
	if err := j.failSave[job.Step]; err != nil && job.Outcome == "" {
		return fmt.Errorf("journal update of %s: %w", job.Container, err)
	}
	j.jobs[job.ID-1] = *job
	return nil
}

func (j *fakeJournal) Unfinished(context.Context) ([]*state.UpdateJob, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*state.UpdateJob
	for _, job := range j.jobs {
		if job.Outcome == "" {
			out = append(out, &job)
		}
	}
	return out, nil
}

// latestStep is the saved step of the latest update.
func (j *fakeJournal) latestStep() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.jobs) == 0 {
		return ""
	}
	return j.jobs[len(j.jobs)-1].Step
}

// latest returns the latest update as saved.
func (j *fakeJournal) latest() (state.UpdateJob, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.jobs) == 0 {
		return state.UpdateJob{}, errors.New("no update journaled")
	}
	return j.jobs[len(j.jobs)-1], nil
}
