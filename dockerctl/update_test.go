package dockerctl

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/steward-bot/steward/state"
)

const (
	webRef       = "registry.example.org/shop/web:2"
	webOldID     = "5d1c9e7a3b2f4e6d8c0a1b2c3d4e5f60718293a4b5c6d7e8f9012a3b4c5d6e7f"
	webOldImage  = "sha256:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"
	webNewImage  = "sha256:9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
	webOldDigest = "sha256:0aa1bb2cc3dd4ee5ff6a0aa1bb2cc3dd4ee5ff6a0aa1bb2cc3dd4ee5ff6a0aa1"
	webNewDigest = "sha256:7cc8dd9ee0ff1aa2bb37cc8dd9ee0ff1aa2bb37cc8dd9ee0ff1aa2bb37cc8dd9"
	webBackup    = "web" + backupSuffix
)

// allSteps are the steps of an update of a running container, in order.
var allSteps = []string{StepPull, StepRename, StepCreate, StepStop, StepStart, StepCheck, StepCleanup}

var errBoom = errors.New("Error response from daemon: boom")

// shop is an engine with one container, web, created by compose from webRef's
// previous image, running or not; the registry has a newer image for webRef that
// runs fine. Tests change what they need before the update starts.
func shop(running bool) (*fakeEngine, *fakeJournal) {
	j := &fakeJournal{}
	e := newFakeEngine(j)
	imageCfg := func(version string) *v1.DockerOCIImageConfig {
		return &v1.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
			Env:    []string{imagePath, "NODE_ENV=production"},
			Cmd:    []string{"node", "server.js"},
			Labels: map[string]string{"org.opencontainers.image.version": version},
		}}
	}
	e.images[webOldImage] = &fakeImage{Config: imageCfg("1"), Digests: []string{webOldDigest}}
	e.images[webNewImage] = &fakeImage{Config: imageCfg("2"), Digests: []string{webNewDigest}}
	e.tags[webRef] = webOldImage
	e.registry[webRef] = webNewImage
	e.add(&fakeContainer{
		ID: webOldID, Name: "web", Image: webOldImage, Started: true, Running: running, StartedAt: time.Now(),
		Config: &container.Config{
			Hostname: webOldID[:12], Image: webRef, Cmd: []string{"node", "server.js"},
			Env: []string{"SHOP_DB=postgres://db/shop", "TZ=Europe/Berlin"},
			Labels: map[string]string{
				"com.docker.compose.project": "shop", "com.docker.compose.service": "web", "traefik.enable": "true",
			},
		},
		HostConfig: &container.HostConfig{
			Binds:         []string{"shop_uploads:/srv/uploads:rw"},
			NetworkMode:   "shop_default",
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		},
		Networks: map[string]*network.EndpointSettings{"shop_default": {Aliases: []string{"web", webOldID[:12]}}},
	})
	return e, j
}

// updater is how Steward runs updates (bot.go), on the fake engine and clock.
func updater(e *fakeEngine, j *fakeJournal) *Updater {
	return &Updater{Runtime: e, Journal: j, Settle: 10 * time.Second, Now: time.Now, Poll: 500 * time.Millisecond}
}

// healthcheck is a HEALTHCHECK line.
func healthcheck() *v1.HealthcheckConfig {
	return &v1.HealthcheckConfig{
		Test:     []string{"CMD-SHELL", "wget -qO- http://localhost:3000/healthz || exit 1"},
		Interval: 10 * time.Second, Timeout: 3 * time.Second, Retries: 3,
	}
}

// wantOldBack checks web is the old container again, running or not as it was,
// and nothing else is left.
func wantOldBack(t *testing.T, e *fakeEngine, running bool) {
	t.Helper()
	if got := e.names(); !slices.Equal(got, []string{"web"}) {
		t.Errorf("containers %q, want web alone", got)
	}
	c := e.named("web")
	switch {
	case c == nil:
		t.Error("no container named web")
	case c.ID != webOldID || c.Image != webOldImage:
		t.Errorf("web is %.12s on %.19s, want the old container %.12s on %.19s", c.ID, c.Image, webOldID, webOldImage)
	case c.Running != running:
		t.Errorf("web running = %t, want %t", c.Running, running)
	}
}

// wantNewKept checks web is a new container of the new image, running, and alone.
func wantNewKept(t *testing.T, e *fakeEngine) *fakeContainer {
	t.Helper()
	if got := e.names(); !slices.Equal(got, []string{"web"}) {
		t.Errorf("containers %q, want web alone", got)
	}
	c := e.named("web")
	switch {
	case c == nil:
		t.Error("no container named web")
	case c.ID == webOldID || c.Image != webNewImage:
		t.Errorf("web is %.12s on %.19s, want a new container on %.19s", c.ID, c.Image, webNewImage)
	case !c.Running:
		t.Error("the new web container does not run")
	}
	return c
}

// wantFinished checks the journal holds no update under way, the last one ended
// with outcome.
func wantFinished(t *testing.T, j *fakeJournal, outcome string) {
	t.Helper()
	if left, _ := j.Unfinished(t.Context()); len(left) > 0 {
		t.Errorf("%d update(s) left unfinished in the journal (step %q)", len(left), left[0].Step)
	}
	if job, err := j.latest(); err != nil || job.Outcome != outcome {
		t.Errorf("journal says %q (%s), want %q", job.Outcome, job.Detail, outcome)
	}
}

func TestUpdate(t *testing.T) {
	cases := []struct {
		name    string
		stopped bool
		setup   func(e *fakeEngine)
		steps   []string
	}{
		{name: "no health check: it runs the settle time without restarting"},
		{
			name:  "it restarts only after the settle time",
			setup: func(e *fakeEngine) { e.images[webNewImage].Behave.Restarts = []time.Duration{11 * time.Second} },
		},
		{
			name: "the image's health check passes",
			setup: func(e *fakeEngine) {
				e.images[webNewImage].Config.Healthcheck = healthcheck()
				e.images[webNewImage].Behave = behaviour{Health: container.Healthy, HealthAfter: 40 * time.Second}
			},
		},
		{
			// A slow starter: its image asks for 3 minutes before its check counts,
			// and it is healthy after 4, beyond the usual 2-minute wait.
			name: "an image's start period adds to the wait",
			setup: func(e *fakeEngine) {
				hc := healthcheck()
				hc.StartPeriod = 3 * time.Minute
				e.images[webNewImage].Config.Healthcheck = hc
				e.images[webNewImage].Behave = behaviour{Health: container.Healthy, HealthAfter: 4 * time.Minute}
			},
		},
		{
			name: "the container's own health check passes",
			setup: func(e *fakeEngine) {
				e.containers[webOldID].Config.Healthcheck = healthcheck()
				e.images[webNewImage].Behave = behaviour{Health: container.Healthy, HealthAfter: 25 * time.Second}
			},
		},
		{
			// compose's healthcheck: disable: true. Docker then runs no check and
			// shows no health status, so there is nothing to wait for.
			name: "a health check the container disables (NONE) is not waited for",
			setup: func(e *fakeEngine) {
				e.images[webOldImage].Config.Healthcheck = healthcheck()
				e.images[webNewImage].Config.Healthcheck = healthcheck()
				disabled := healthcheck() // Docker fills the rest in from the image
				disabled.Test = []string{"NONE"}
				e.containers[webOldID].Config.Healthcheck = disabled
			},
		},
		{
			// The code starts the new container even though the old one was
			// stopped; asserted as it is (see the report).
			name:    "a stopped container is updated, and its new container started",
			stopped: true,
			steps:   []string{StepPull, StepRename, StepCreate, StepStart, StepCheck, StepCleanup},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, j := shop(!tc.stopped)
				if tc.setup != nil {
					tc.setup(e)
				}
				var steps []string
				res, err := updater(e, j).Update(t.Context(), "web", "", func(step string) { steps = append(steps, step) })
				if err != nil {
					t.Fatalf("Update: %v", err)
				}
				if res.Job.Outcome != OutcomeDone {
					t.Fatalf("outcome %q (%s), want done", res.Job.Outcome, res.Job.Detail)
				}
				want := tc.steps
				if want == nil {
					want = allSteps
				}
				if !slices.Equal(steps, want) {
					t.Errorf("progress told %q, want %q", steps, want)
				}

				// Each action is taken after its step was journaled.
				wantStep := map[string]string{
					"Pull": StepPull, "Rename": StepRename, "Stop": StepStop, "Create": StepCreate,
					"Start": StepStart, "Remove": StepCleanup,
				}
				var methods []string
				for _, c := range e.changes(0) {
					methods = append(methods, c.Method)
					if c.Step != wantStep[c.Method] {
						t.Errorf("%s(%.12s) called with the journal at step %q, want %q", c.Method, c.Arg, c.Step, wantStep[c.Method])
					}
				}
				for _, c := range e.calls {
					if c.Method == "InspectContainer" && c.Arg == res.Job.NewID && c.Step != StepCheck {
						t.Errorf("the new container checked with the journal at step %q, want check", c.Step)
					}
				}
				wantMethods := []string{"Pull", "Rename", "Create", "Stop", "Start", "Remove"}
				if tc.stopped {
					wantMethods = slices.DeleteFunc(wantMethods, func(m string) bool { return m == "Stop" })
				}
				if !slices.Equal(methods, wantMethods) {
					t.Errorf("engine changes %q, want %q", methods, wantMethods)
				}

				c := wantNewKept(t, e)
				if c == nil {
					return
				}
				if c.ID != res.Job.NewID {
					t.Errorf("web is %.12s, the job says the new container is %.12s", c.ID, res.Job.NewID)
				}
				for _, kv := range []string{"SHOP_DB=postgres://db/shop", "TZ=Europe/Berlin"} {
					if !slices.Contains(c.Config.Env, kv) {
						t.Errorf("new container's env %q lacks %s", c.Config.Env, kv)
					}
				}
				if c.Config.Labels["com.docker.compose.service"] != "web" || c.Config.Labels["traefik.enable"] != "true" {
					t.Errorf("new container's labels %v lost compose's or traefik's", c.Config.Labels)
				}
				if c.Config.Labels["org.opencontainers.image.version"] != "2" {
					t.Errorf("new container's image label version %q, want the new image's 2", c.Config.Labels["org.opencontainers.image.version"])
				}
				if c.HostConfig.RestartPolicy.Name != container.RestartPolicyUnlessStopped {
					t.Errorf("new container's restart policy %q, want unless-stopped", c.HostConfig.RestartPolicy.Name)
				}
				if !slices.Equal(c.HostConfig.Binds, []string{"shop_uploads:/srv/uploads:rw"}) {
					t.Errorf("new container's binds %q, want the uploads volume", c.HostConfig.Binds)
				}
				if ep := c.Networks["shop_default"]; ep == nil || !slices.Equal(ep.Aliases, []string{"web"}) {
					t.Errorf("new container's networks %v, want shop_default with alias web", c.Networks)
				}
				if res.Job.OldDigest != webOldDigest || res.Job.NewDigest != webNewDigest {
					t.Errorf("digests %s → %s, want %s → %s", res.Job.OldDigest, res.Job.NewDigest, webOldDigest, webNewDigest)
				}
				wantFinished(t, j, OutcomeDone)
			})
		})
	}
}

func TestUpdateChangesNothing(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(e *fakeEngine)
		outcome string
		detail  string
	}{
		{
			name:    "already up to date",
			setup:   func(e *fakeEngine) { e.registry[webRef] = webOldImage },
			outcome: OutcomeUpToDate,
		},
		{
			name:    "the pull fails",
			setup:   func(e *fakeEngine) { e.fail["Pull"] = []error{errors.New("registry.example.org: connection refused")} },
			outcome: OutcomeFailed, detail: "connection refused",
		},
		{
			name:    "the registry no longer has the tag",
			setup:   func(e *fakeEngine) { delete(e.registry, webRef) },
			outcome: OutcomeFailed, detail: "manifest unknown",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, j := shop(true)
				tc.setup(e)
				var steps []string
				res, err := updater(e, j).Update(t.Context(), "web", "", func(step string) { steps = append(steps, step) })
				if err != nil {
					t.Fatalf("Update: %v", err)
				}
				if res.Job.Outcome != tc.outcome || !strings.Contains(res.Job.Detail, tc.detail) {
					t.Errorf("outcome %q (%s), want %q mentioning %q", res.Job.Outcome, res.Job.Detail, tc.outcome, tc.detail)
				}
				if !slices.Equal(steps, []string{StepPull}) {
					t.Errorf("progress told %q, want only pull", steps)
				}
				for _, c := range e.changes(0) {
					if c.Method != "Pull" {
						t.Errorf("the engine was changed: %s(%.12s)", c.Method, c.Arg)
					}
				}
				wantOldBack(t, e, true)
				wantFinished(t, j, tc.outcome)
			})
		})
	}
}

// exitsAtOnce is a new image whose container fails at start.
func exitsAtOnce(e *fakeEngine) {
	e.images[webNewImage].Behave = behaviour{Exits: true, ExitCode: 1, Logs: "listening on :3000\nError: SHOP_DB: unsupported scheme \"postgres\""}
}

func TestUpdateRollsBack(t *testing.T) {
	const logs = "listening on :3000\nError: SHOP_DB: unsupported scheme \"postgres\""
	cases := []struct {
		name   string
		setup  func(e *fakeEngine)
		detail string
		logs   string
	}{
		{
			name:   "renaming the old container fails",
			setup:  func(e *fakeEngine) { e.fail["Rename"] = []error{errBoom} },
			detail: "rename the old container",
		},
		{
			name:   "stopping the old container fails",
			setup:  func(e *fakeEngine) { e.fail["Stop"] = []error{errBoom} },
			detail: "stop the old container",
		},
		{
			name:   "creating the new container fails",
			setup:  func(e *fakeEngine) { e.fail["Create"] = []error{errBoom} },
			detail: "create the new container",
		},
		{
			name:   "starting the new container fails",
			setup:  func(e *fakeEngine) { e.fail["Start"] = []error{errBoom} },
			detail: "start the new container",
		},
		{
			name:   "the new container exits at once",
			setup:  exitsAtOnce,
			detail: "stopped (exit code 1)", logs: logs,
		},
		{
			name: "the new container exits while settling",
			setup: func(e *fakeEngine) {
				e.images[webNewImage].Behave = behaviour{Exits: true, ExitAfter: 6 * time.Second, ExitCode: 137, Logs: logs}
			},
			detail: "stopped (exit code 137)", logs: logs,
		},
		{
			name: "the new container restarts while settling",
			setup: func(e *fakeEngine) {
				e.images[webNewImage].Behave = behaviour{Restarts: []time.Duration{9 * time.Second}, Logs: logs}
			},
			detail: "restarted", logs: logs,
		},
		{
			// RestartCount is 1 at the first look; a new container starts at 0.
			name: "the new container restarted before it was first looked at",
			setup: func(e *fakeEngine) {
				e.images[webNewImage].Behave = behaviour{Restarts: []time.Duration{0}, Logs: logs}
			},
			detail: "restarted", logs: logs,
		},
		{
			name: "the new container becomes unhealthy",
			setup: func(e *fakeEngine) {
				e.images[webNewImage].Config.Healthcheck = healthcheck()
				e.images[webNewImage].Behave = behaviour{Health: container.Unhealthy, HealthAfter: 30 * time.Second, Logs: logs}
			},
			detail: "unhealthy", logs: logs,
		},
		{
			name: "the new container is never healthy within the timeout",
			setup: func(e *fakeEngine) {
				e.images[webNewImage].Config.Healthcheck = healthcheck()
				e.images[webNewImage].Behave = behaviour{Logs: logs}
			},
			detail: "not healthy within 2 minutes", logs: logs,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, j := shop(true)
				tc.setup(e)
				res, err := updater(e, j).Update(t.Context(), "web", "", func(string) {})
				if err != nil {
					t.Fatalf("Update: %v", err)
				}
				if res.Job.Outcome != OutcomeRolledBack || !strings.Contains(res.Job.Detail, tc.detail) {
					t.Errorf("outcome %q (%s), want rolled_back mentioning %q", res.Job.Outcome, res.Job.Detail, tc.detail)
				}
				if res.Logs != tc.logs {
					t.Errorf("logs %q, want %q", res.Logs, tc.logs)
				}
				wantOldBack(t, e, true)
				wantFinished(t, j, OutcomeRolledBack)
			})
		})
	}
}

func TestUpdateRollsBackStoppedContainer(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *fakeEngine)
	}{
		{"creating the new container fails", func(e *fakeEngine) { e.fail["Create"] = []error{errBoom} }},
		{"starting the new container fails", func(e *fakeEngine) { e.fail["Start"] = []error{errBoom} }},
		{"the new container exits at once", exitsAtOnce},
		{"the new container becomes unhealthy", func(e *fakeEngine) {
			e.images[webNewImage].Config.Healthcheck = healthcheck()
			e.images[webNewImage].Behave = behaviour{Health: container.Unhealthy, HealthAfter: 30 * time.Second}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, j := shop(false)
				tc.setup(e)
				res, err := updater(e, j).Update(t.Context(), "web", "", func(string) {})
				if err != nil {
					t.Fatalf("Update: %v", err)
				}
				if res.Job.Outcome != OutcomeRolledBack {
					t.Errorf("outcome %q (%s), want rolled_back", res.Job.Outcome, res.Job.Detail)
				}
				wantOldBack(t, e, false)
				wantFinished(t, j, OutcomeRolledBack)
			})
		})
	}
}

func TestUpdateRollbackFails(t *testing.T) {
	cases := []struct {
		name  string
		fail  map[string][]error
		error string
	}{
		{"renaming the old container back fails", map[string][]error{"Rename": {nil, errBoom}}, "rename the previous container back"},
		{"starting the old container again fails", map[string][]error{"Start": {nil, errBoom}}, "start the previous container"},
		{"removing the new container fails", map[string][]error{"Remove": {errBoom}}, "remove the new container"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, j := shop(true)
				exitsAtOnce(e)
				e.fail = tc.fail
				res, err := updater(e, j).Update(t.Context(), "web", "", func(string) {})
				if err == nil || !strings.Contains(err.Error(), "roll back web") || !strings.Contains(err.Error(), tc.error) {
					t.Errorf("error %v, want it to say rolling back web failed to %s", err, tc.error)
				}
				if res == nil {
					t.Fatal("no result")
				}
				if res.Job.Outcome != OutcomeFailed || !strings.Contains(res.Job.Detail, "the rollback failed too") {
					t.Errorf("outcome %q (%s), want failed saying the rollback failed", res.Job.Outcome, res.Job.Detail)
				}
				wantFinished(t, j, OutcomeFailed)
			})
		})
	}
}

// A journal that cannot be written stops the update; the containers must not be
// left as they were mid-way (web missing, or the old one renamed and stopped).
func TestUpdateJournalFailureLeavesWebRunning(t *testing.T) {
	for _, step := range []string{StepRename, StepStop, StepCreate, StepCheck} {
		t.Run("a journal write fails at "+step, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, j := shop(true)
				j.failSave = map[string]error{step: errors.New("disk I/O error")}
				if _, err := updater(e, j).Update(t.Context(), "web", "", func(string) {}); err == nil {
					t.Error("Update succeeded with a journal that cannot be written")
				}
				if got := e.names(); !slices.Equal(got, []string{"web"}) {
					t.Errorf("containers %q, want web alone", got)
				}
				if c := e.named("web"); c == nil || !c.Running {
					t.Error("web is not running")
				}
			})
		})
	}
}

// describe shows what Recover did.
func describe(jobs []*state.UpdateJob) string {
	var out []string
	for _, j := range jobs {
		out = append(out, fmt.Sprintf("%s at %s → %q (%s)", j.Container, j.Step, j.Outcome, j.Detail))
	}
	return "[" + strings.Join(out, "; ") + "]"
}

// interrupt runs an update that Steward is stopped in the middle of.
func interrupt(t *testing.T, u *Updater) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
		}
	}()
	res, err := u.Update(t.Context(), "web", "", func(string) {})
	t.Fatalf("the update ran to its end: %v (%v)", res.Job.Outcome, err)
}

func TestRecover(t *testing.T) {
	cases := []struct {
		name    string
		stopped bool
		// Steward stops once before is journaled, before it is taken, or right
		// after the engine call after took effect.
		before, after string
		outcome       string
		// untouched: the update had changed nothing, so Recover must not either.
		untouched bool
		newKept   bool
	}{
		{name: "pull journaled", before: StepPull, outcome: OutcomeRolledBack, untouched: true},
		{name: "pulled", after: "Pull", outcome: OutcomeRolledBack, untouched: true},
		{name: "rename journaled, not taken", before: StepRename, outcome: OutcomeRolledBack, untouched: true},
		{name: "old container renamed", after: "Rename", outcome: OutcomeRolledBack},
		{name: "stop journaled, old container renamed", before: StepStop, outcome: OutcomeRolledBack},
		{name: "old container renamed and stopped", after: "Stop", outcome: OutcomeRolledBack},
		{name: "create journaled", before: StepCreate, outcome: OutcomeRolledBack},
		{name: "new container created under the name", after: "Create", outcome: OutcomeRolledBack},
		{name: "start journaled", before: StepStart, outcome: OutcomeRolledBack},
		{name: "new container started", after: "Start", outcome: OutcomeRolledBack},
		{name: "new container being checked", before: StepCheck, outcome: OutcomeRolledBack},
		{name: "cleanup journaled, new container healthy", before: StepCleanup, outcome: OutcomeDone, newKept: true},
		{name: "old container removed, job not yet closed", after: "Remove", outcome: OutcomeDone, newKept: true},
		{name: "stopped container, pull journaled", stopped: true, before: StepPull, outcome: OutcomeRolledBack, untouched: true},
		{name: "stopped container renamed", stopped: true, after: "Rename", outcome: OutcomeRolledBack},
		{name: "stopped container, new one created", stopped: true, after: "Create", outcome: OutcomeRolledBack},
		{name: "stopped container, new one started", stopped: true, after: "Start", outcome: OutcomeRolledBack},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, j := shop(!tc.stopped)
				u := updater(e, j)
				u.Hook = func(step string) {
					if step == tc.before {
						panic(crash{})
					}
				}
				e.crashAfter = tc.after
				interrupt(t, u)

				mark := e.callCount()
				jobs, err := updater(e, j).Recover(t.Context())
				if err != nil {
					t.Fatalf("Recover: %v", err)
				}
				if len(jobs) != 1 || jobs[0].Outcome != tc.outcome {
					t.Fatalf("Recover did %s, want one job %s", describe(jobs), tc.outcome)
				}
				if tc.newKept {
					wantNewKept(t, e)
				} else {
					wantOldBack(t, e, !tc.stopped)
				}
				if changes := e.changes(mark); tc.untouched && len(changes) > 0 {
					t.Errorf("Recover changed an untouched container: %v", changes)
				}
				wantFinished(t, j, tc.outcome)

				mark = e.callCount()
				if jobs, err := updater(e, j).Recover(t.Context()); err != nil || len(jobs) > 0 {
					t.Errorf("a second Recover did %s (%v), want nothing", describe(jobs), err)
				}
				if e.callCount() != mark {
					t.Errorf("a second Recover called the engine: %v", e.calls[mark:])
				}
			})
		})
	}
}

// The old container is gone when Steward restarts (someone removed
// web-steward-previous by hand): nothing can be rolled back to.
func TestRecoverOldContainerGone(t *testing.T) {
	cases := []struct {
		name          string
		before, after string
		// left is what must be left: the new container when there is one, since
		// removing it would leave the service with no container at all.
		left []string
	}{
		{name: "the new container runs and is kept", before: StepCheck, left: []string{"web"}},
		{name: "no new container yet", after: "Rename"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, j := shop(true)
				u := updater(e, j)
				u.Hook = func(step string) {
					if step == tc.before {
						panic(crash{})
					}
				}
				e.crashAfter = tc.after
				interrupt(t, u)
				delete(e.containers, webOldID)

				jobs, err := updater(e, j).Recover(t.Context())
				if err != nil {
					t.Fatalf("Recover: %v", err)
				}
				if len(jobs) != 1 || jobs[0].Outcome != OutcomeFailed || !strings.Contains(jobs[0].Detail, "previous container is gone") {
					t.Fatalf("Recover did %s, want one job failed because the previous container is gone", describe(jobs))
				}
				wantFinished(t, j, OutcomeFailed)
				if got := e.names(); !slices.Equal(got, tc.left) {
					t.Errorf("containers %q, want %q", got, tc.left)
				}
				if len(tc.left) > 0 {
					wantNewKept(t, e)
				}
			})
		})
	}
}

// An approved update deploys the approved version or nothing: if the tag moved on
// while the request waited, the engine is left as it was.
func TestUpdatePinnedDigest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, j := shop(true)
		res, err := updater(e, j).Update(t.Context(), "web", "sha256:"+strings.Repeat("0", 64), func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		if res.Job.Outcome != OutcomeFailed || !strings.Contains(res.Job.Detail, "not to the approved") {
			t.Errorf("outcome %s (%s), want failed because the tag moved", res.Job.Outcome, res.Job.Detail)
		}
		if c, found, _ := e.InspectContainer(t.Context(), "web"); !found || c.ID != webOldID || !c.State.Running {
			t.Error("the old container was touched")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		e, j := shop(true)
		res, err := updater(e, j).Update(t.Context(), "web", webNewDigest, func(string) {})
		if err != nil || res.Job.Outcome != OutcomeDone {
			t.Errorf("the approved digest was not deployed: %v, %+v", err, res.Job)
		}
	})
}

// TestRecoverPerHost checks that with several engines each job is put right on its
// own host: an update cut short on host a is rolled back there, and host b's engine
// is not touched.
func TestRecoverPerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		engineA, j := shop(true)
		engineB := newFakeEngine(j)
		ua := updater(engineA, j)
		ua.Host = "a"
		engineA.crashAfter = "Rename"
		interrupt(t, ua)
		if job, _ := j.latest(); job.Host != "a" {
			t.Fatalf("journaled host %q, want a", job.Host)
		}

		ub := updater(engineB, j)
		ub.Host = "b"
		if jobs, err := ub.Recover(t.Context()); err != nil || len(jobs) > 0 {
			t.Fatalf("host b recovered %s (%v), want nothing: the job is host a's", describe(jobs), err)
		}
		ua = updater(engineA, j)
		ua.Host = "a"
		jobs, err := Updaters{"a": ua, "b": ub}.Recover(t.Context())
		if err != nil || len(jobs) != 1 || jobs[0].Outcome != OutcomeRolledBack {
			t.Fatalf("Updaters.Recover did %s (%v), want host a's job rolled back", describe(jobs), err)
		}
		wantOldBack(t, engineA, true)
		if engineB.callCount() != 0 {
			t.Errorf("host b's engine was called: %v", engineB.calls)
		}
	})
}

// TestUpdatesOnOneEngineWait checks that a second update on the same engine waits
// for the first, saying so, instead of working on the containers beside it.
func TestUpdatesOnOneEngineWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, j := shop(true)
		u := updater(e, j)
		first := make(chan struct{})
		go func() {
			defer close(first)
			if _, err := u.Update(t.Context(), "web", "", func(string) {}); err != nil {
				t.Errorf("first update: %v", err)
			}
		}()
		synctest.Wait() // the first update settles for 10 s of fake time
		if step := j.latestStep(); step != StepCheck {
			t.Fatalf("first update at %q, want %q", step, StepCheck)
		}
		var mu sync.Mutex
		var steps []string
		second := make(chan struct{})
		go func() {
			defer close(second)
			res, err := u.Update(t.Context(), "web", "", func(step string) {
				mu.Lock()
				defer mu.Unlock()
				steps = append(steps, step)
			})
			if err != nil || res.Job.Outcome != OutcomeUpToDate {
				t.Errorf("second update: %v, %v; want up to date after the first", res, err)
			}
		}()
		synctest.Wait()
		mu.Lock()
		if !slices.Equal(steps, []string{StepWait}) {
			t.Errorf("while the first update runs, the second told %q, want only %q", steps, StepWait)
		}
		mu.Unlock()
		<-first
		<-second
	})
}

// TestRecoverOnAHostNoLongerConfigured checks that an update cut short on a host that
// is not configured any more is closed as failed, saying where the previous
// container may be, instead of waiting unfinished forever.
func TestRecoverOnAHostNoLongerConfigured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, j := shop(true)
		u := updater(e, j) // host "": docker.host, before docker.hosts replaced it
		e.crashAfter = "Rename"
		interrupt(t, u)

		other := updater(newFakeEngine(j), j)
		other.Host = "a"
		jobs, err := Updaters{"a": other}.Recover(t.Context())
		if err != nil || len(jobs) != 1 || jobs[0].Outcome != OutcomeFailed {
			t.Fatalf("Recover did %s (%v), want the orphaned job failed", describe(jobs), err)
		}
		if !strings.Contains(jobs[0].Detail, "no longer configured") || !strings.Contains(jobs[0].Detail, webBackup) {
			t.Errorf("detail %q does not say the host is gone and where the old container is", jobs[0].Detail)
		}
		wantFinished(t, j, OutcomeFailed)
	})
}
