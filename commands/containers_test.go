package commands_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/dockerctl"
	"github.com/steward-bot/steward/state"
)

// fakeContainers is a fleet of Docker hosts held in memory. Hosts in down can't be reached.
type fakeContainers struct {
	hosts      []string
	containers []dockerctl.Container
	down       map[string]bool
	// updates maps a container's ref to the digest its tag points to now; one
	// that is missing is up to date.
	updates map[string]string

	mu        sync.Mutex
	logs      []string // the refs whose logs were read
	restarted []string // the IDs of the containers restarted
}

var _ commands.Containers = (*fakeContainers)(nil)

func (f *fakeContainers) Hosts() []string { return f.hosts }

func (f *fakeContainers) Containers(_ context.Context, host string) ([]dockerctl.Container, error) {
	var list []dockerctl.Container
	unreachable := make(map[string]error)
	for _, c := range f.containers {
		if host != "" && c.Host != host {
			continue
		}
		if f.down[c.Host] {
			unreachable[c.Host] = errors.New("connection refused")
			continue
		}
		list = append(list, c)
	}
	if len(unreachable) > 0 {
		return list, &dockerctl.UnreachableError{Hosts: unreachable}
	}
	return list, nil
}

func (f *fakeContainers) Logs(_ context.Context, c dockerctl.Container, _ int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, c.Ref())
	return "log line of " + c.Ref(), nil
}

func (f *fakeContainers) Start(context.Context, dockerctl.Container) error { return nil }
func (f *fakeContainers) Stop(context.Context, dockerctl.Container) error  { return nil }
func (f *fakeContainers) Restart(_ context.Context, c dockerctl.Container) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarted = append(f.restarted, c.ID)
	return nil
}

func (f *fakeContainers) CheckUpdates(_ context.Context, cs []dockerctl.Container) []dockerctl.Update {
	out := make([]dockerctl.Update, len(cs))
	for i, c := range cs {
		out[i] = dockerctl.Update{Host: c.Host, Container: c.Name, Image: c.Image, Running: "sha256:old", Latest: "sha256:old", State: dockerctl.UpToDate}
		if latest, ok := f.updates[c.Ref()]; ok {
			out[i].Latest, out[i].State = latest, dockerctl.UpdateAvailable
		}
	}
	return out
}

func (f *fakeContainers) KnownUpdate(context.Context, dockerctl.Container) (bool, bool) {
	return false, false
}

// blockingUpdater updates containers once release is closed, recording what it was
// asked.
type blockingUpdater struct {
	started chan string // each update's ref, as it starts
	release chan struct{}

	mu    sync.Mutex
	calls []string // "ref expect"
}

func (u *blockingUpdater) Update(ctx context.Context, host, name, expect string, progress dockerctl.Progress) (*dockerctl.Result, error) {
	ref := dockerctl.JoinRef(host, name)
	u.mu.Lock()
	u.calls = append(u.calls, ref+" "+expect)
	u.mu.Unlock()
	progress(dockerctl.StepPull)
	u.started <- ref
	<-u.release
	job := &state.UpdateJob{Host: host, Container: name, Image: "app:1", OldDigest: "sha256:old", NewDigest: expect, Outcome: dockerctl.OutcomeDone}
	return &dockerctl.Result{Job: job, Duration: time.Second}, nil
}

// Updating implements commands.Updater: the containers under way are those whose
// update started and was not released.
func (u *blockingUpdater) Updating(host, name string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	select {
	case <-u.release:
		return false
	default:
		return slices.ContainsFunc(u.calls, func(call string) bool { return strings.HasPrefix(call, dockerctl.JoinRef(host, name)+" ") })
	}
}

// twoHosts is a fleet of hosts a and b: web runs on both, db on b only.
func twoHosts() *fakeContainers {
	return &fakeContainers{
		hosts: []string{"a", "b"},
		containers: []dockerctl.Container{
			{Host: "a", ID: "aaaa1111aaaa", Name: "web", Image: "web:1", State: "running"},
			{Host: "b", ID: "bbbb2222bbbb", Name: "web", Image: "web:1", State: "running"},
			{Host: "b", ID: "bbbb3333bbbb", Name: "db", Image: "db:1", State: "running"},
		},
		down: map[string]bool{},
	}
}

// containerRegistry has the container commands registered with desk and updater, and
// !ping and !approve.
func containerRegistry(desk commands.Containers, updater commands.Updater) *commands.Registry {
	return pick(commands.Builtin(commands.Features{Containers: desk, Updater: updater}),
		"ping", "containers", "logs", "updates", "update", "restart", "approve")
}

// TestContainersOnSeveralHosts checks how commands name containers on several hosts:
// HOST/NAME always works, a bare NAME only when one host has it, and a host that
// can't be reached is said plainly without hiding the others.
func TestContainersOnSeveralHosts(t *testing.T) {
	desk := twoHosts()
	h := newHarness(t, containerRegistry(desk, nil), withAdmins(admin, "@carol:example.org"))

	cases := []struct {
		body    string
		want    string
		outcome string
	}{
		{"!logs a/web", "log line of a/web", state.OutcomeOK},
		{"!logs b/web", "log line of b/web", state.OutcomeOK},
		{"!logs db", "log line of b/db", state.OutcomeOK},
		{"!logs bbbb3333", "log line of b/db", state.OutcomeOK},
		{"!logs web", "web runs on more than one host: say which, as a/web or b/web.", state.OutcomeBadInput},
		{"!logs c/web", `There is no Docker host "c"; the hosts are a, b.`, state.OutcomeBadInput},
		{"!logs /web", `"/web" is not a container name.`, state.OutcomeBadInput},
		{"!logs ../etc", `"../etc" is not a container name.`, state.OutcomeBadInput},
		{"!logs a/db", `There is no container "a/db".`, state.OutcomeBadInput},
		{"!logs a/../web", `"a/../web" is not a container name.`, state.OutcomeBadInput},
		{"!containers c", `There is no Docker host "c"`, state.OutcomeBadInput},
		{"!update c/all", `There is no Docker host "c"`, state.OutcomeBadInput},
	}
	for _, c := range cases {
		replies, entry := h.send(admin, adminRoom, c.body)
		if r := onlyReply(t, replies); !strings.Contains(r.Plain, c.want) {
			t.Errorf("%s: reply %q, want it to contain %q", c.body, r.Plain, c.want)
		}
		if entry.Outcome != c.outcome {
			t.Errorf("%s: outcome %q, want %q", c.body, entry.Outcome, c.outcome)
		}
	}

	replies, _ := h.send(admin, adminRoom, "!containers")
	list := onlyReply(t, replies).Plain
	for _, ref := range []string{"a/web", "b/web", "b/db"} {
		if !strings.Contains(list, ref) {
			t.Errorf("!containers does not list %s:\n%s", ref, list)
		}
	}
	replies, _ = h.send(admin, adminRoom, "!containers a")
	if list := onlyReply(t, replies).Plain; !strings.Contains(list, "a/web") || strings.Contains(list, "b/") {
		t.Errorf("!containers a lists other hosts' containers:\n%s", list)
	}

	// Host b goes down: a's containers still answer, b's are said to be out of reach.
	desk.down["b"] = true
	cases = []struct {
		body    string
		want    string
		outcome string
	}{
		{"!logs a/web", "log line of a/web", state.OutcomeOK},
		{"!logs web", `I can't reach b right now, so "web" may also be there: say which, as a/web.`, state.OutcomeBadInput},
		{"!logs b/web", "I can't reach the Docker Engine of b right now", state.OutcomeBadInput},
		{"!logs db", `There is no container "db" on the hosts I can reach; I can't reach b right now.`, state.OutcomeBadInput},
		{"!containers b", "I can't reach the Docker Engine of b right now", state.OutcomeBadInput},
		{"!update all", "I can't reach the Docker Engine of b right now, so I can't tell what all would update there.", state.OutcomeBadInput},
	}
	for _, c := range cases {
		replies, entry := h.send(admin, adminRoom, c.body)
		if r := onlyReply(t, replies); !strings.Contains(r.Plain, c.want) {
			t.Errorf("b down, %s: reply %q, want it to contain %q", c.body, r.Plain, c.want)
		}
		if entry.Outcome != c.outcome {
			t.Errorf("b down, %s: outcome %q, want %q", c.body, entry.Outcome, c.outcome)
		}
	}
	for _, body := range []string{"!containers a", "!updates a"} {
		replies, _ = h.send(admin, adminRoom, body)
		if list := onlyReply(t, replies).Plain; !strings.Contains(list, "a/web") || strings.Contains(list, "reach") {
			t.Errorf("%s with only b down should list a's containers and nothing of b:\n%s", body, list)
		}
	}
	replies, _ = h.send(admin, adminRoom, "!containers")
	if list := onlyReply(t, replies).Plain; !strings.Contains(list, "a/web") || !strings.Contains(list, "can't reach the Docker Engine of b") {
		t.Errorf("!containers with b down should list a's and say b is out of reach:\n%s", list)
	}
	desk.down["a"] = true
	replies, _ = h.send(admin, adminRoom, "!containers")
	if r := onlyReply(t, replies).Plain; !strings.Contains(r, "I can't reach the Docker Engine of a, b right now") {
		t.Errorf("!containers with every host down: %q", r)
	}
}

// TestOneHostNeedsNoHostNames checks that with one engine, containers are named
// without a host, and a host typed anyway is explained.
func TestOneHostNeedsNoHostNames(t *testing.T) {
	desk := &fakeContainers{hosts: []string{""}, containers: []dockerctl.Container{{ID: "cccc4444cccc", Name: "web", Image: "web:1", State: "running"}}}
	h := newHarness(t, containerRegistry(desk, nil))
	replies, _ := h.send(admin, adminRoom, "!logs web")
	if r := onlyReply(t, replies).Plain; !strings.Contains(r, "log line of web") {
		t.Errorf("!logs web: %q", r)
	}
	replies, _ = h.send(admin, adminRoom, "!containers web")
	if r := onlyReply(t, replies).Plain; !strings.Contains(r, "Steward manages one Docker host: !containers takes no host.") {
		t.Errorf("!containers web: %q", r)
	}
	replies, _ = h.send(admin, adminRoom, "!logs main/web")
	if r := onlyReply(t, replies).Plain; !strings.Contains(r, `Steward manages one Docker host, so containers are named without a host: "main/" is not needed.`) {
		t.Errorf("!logs main/web: %q", r)
	}
}

// TestApprovedUpdateRunsInBackground checks that an approved !update does not hold
// the admin room's queue: the approval returns while the update runs, other commands
// answer meanwhile, and the update's own message and the decision log get its
// result when it ends.
func TestApprovedUpdateRunsInBackground(t *testing.T) {
	const carol id.UserID = "@carol:example.org"
	desk := twoHosts()
	desk.updates = map[string]string{"b/db": "sha256:new"}
	upd := &blockingUpdater{started: make(chan string, 1), release: make(chan struct{})}
	var wg sync.WaitGroup
	h := newHarness(t, containerRegistry(desk, upd), withAdmins(admin, carol), func(h *harness) {
		h.background = func(fn func(ctx context.Context)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(context.WithoutCancel(t.Context()))
			}()
		}
	})

	a := ask(t, h, admin, "!update db")
	if !strings.Contains(a.Effect, "updates b/db") || a.Pin != "bbbb3333bbbb sha256:new" {
		t.Fatalf("request effect %q, pin %q", a.Effect, a.Pin)
	}
	var outcome string
	var replies []sentReply
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		outcome, replies = answer(h, carol, "!approve "+a.ID)
	}()
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		close(upd.release)
		<-answered
		t.Fatal("!approve waited for the update to finish: the room's queue was held")
	}
	if outcome != state.OutcomeOK {
		t.Fatalf("!approve: outcome %q, replies %+v", outcome, replies)
	}
	wantReplies(t, replies, "Approved "+a.ID)
	select {
	case ref := <-upd.started:
		if ref != "b/db" {
			t.Fatalf("updating %s, want b/db", ref)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the approved update did not start")
	}

	// The update is under way; the room's commands still answer.
	replies, entry := h.send(carol, adminRoom, "!ping")
	if entry.Outcome != state.OutcomeOK || len(replies) != 1 {
		t.Fatalf("!ping during an update: outcome %q, replies %+v", entry.Outcome, replies)
	}
	if got := reload(t, h, a).State; got != state.ApprovalExecuting {
		t.Errorf("request state during the update = %s, want executing", got)
	}

	close(upd.release)
	wg.Wait()
	if got := reload(t, h, a); got.State != state.ApprovalDone || got.Outcome != state.OutcomeOK {
		t.Errorf("request after the update: %s, %s", got.State, got.Outcome)
	}
	if !slices.Contains(upd.calls, "b/db sha256:new") {
		t.Errorf("updater calls %q, want b/db to the approved sha256:new", upd.calls)
	}
	progress := h.replier.post(a.RequestMsg + 1)
	if !strings.Contains(progress, "✅ Updated `b/db`") {
		t.Errorf("progress message reads %q", progress)
	}
	results := findAudit(auditSince(h, 0), "command.update")
	if last := results[len(results)-1]; last.Outcome != state.OutcomeOK || !strings.Contains(last.Detail, "approved in "+a.ID) {
		t.Errorf("decision log result: %+v", last)
	}
}

// TestApprovedRestartActsOnTheApprovedContainer checks that an approved !restart
// restarts the container the request showed, and nothing that took its name while
// the request waited; and that a container being updated is left alone.
func TestApprovedRestartActsOnTheApprovedContainer(t *testing.T) {
	const carol id.UserID = "@carol:example.org"
	desk := twoHosts()
	upd := &blockingUpdater{started: make(chan string, 1), release: make(chan struct{})}
	h := newHarness(t, containerRegistry(desk, upd), withAdmins(admin, carol))

	a := ask(t, h, admin, "!restart b/db")
	desk.containers[2].ID = "dddd5555dddd" // db removed and created anew meanwhile
	_, replies := answer(h, carol, "!approve "+a.ID)
	wantRepliesAnyOrder(t, replies, "Approved "+a.ID, "b/db is another container than the one the request was about")
	if len(desk.restarted) > 0 {
		t.Errorf("restarted %v, want nothing: the approved container is gone", desk.restarted)
	}

	a = ask(t, h, admin, "!restart b/db")
	_, replies = answer(h, carol, "!approve "+a.ID)
	wantRepliesAnyOrder(t, replies, "Approved "+a.ID, "Restarted `b/db`")
	if !slices.Equal(desk.restarted, []string{"dddd5555dddd"}) {
		t.Errorf("restarted %v, want the approved dddd5555dddd", desk.restarted)
	}

	// While a/web is being updated, it can't be restarted.
	upd.calls = append(upd.calls, "a/web sha256:new")
	replies, entry := h.send(admin, adminRoom, "!restart a/web")
	if r := onlyReply(t, replies).Plain; !strings.Contains(r, "a/web is being updated right now") || entry.Outcome != state.OutcomeBadInput {
		t.Errorf("!restart during an update: %q (%s)", r, entry.Outcome)
	}
}
