package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
	"github.com/steward-bot/steward/state"
)

var (
	chaosSeed  = flag.Uint64("chaos.seed", 0, "seed of TestChaos's stream (0: a new one, printed)")
	chaosKills = flag.Int("chaos.kills", 30, "how many times TestChaos kills Steward")
)

// TestChaos drives a Steward of its own with a seeded random stream of what the group
// does (admin commands, approvals, 👀 on alerts, silences, a member's ticket messages,
// job pings, container kills, updates and in-place restores) and kills it with SIGKILL
// at random moments in between, -chaos.kills times, restarting it at once or after a
// short pause. Afterwards it counts, from the clients' view of the rooms, the engine's
// state and Steward's database: commands answered twice or not at all, effects that
// happened twice (two restarts from one approval, two silences from one command, a
// member's message relayed twice, a ping recorded twice), incidents with no alert or
// two, alerts never resolved, and updates or restores left half-done. All must be zero.
func TestChaos(t *testing.T) {
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos: seed %d (rerun with -chaos.seed=%d), %d kills", seed, seed, *chaosKills)
	c := newChaos(t, seed)
	c.seed = seed
	start := time.Now()
	c.run(*chaosKills)
	c.drain()
	c.count(time.Since(start))
}

// chaosCommand is one command the stream sent, and whose answer is counted.
type chaosCommand struct {
	by      *testbed.Client
	room    id.RoomID
	text    string
	eventID id.EventID
	// kind names what it asked, for the approvals and silences it leads to.
	kind string
	// approvalID is read from the answer of a command that needs approval; approved
	// is set once the second admin's !approve or ✅ is sent.
	approvalID string
	approved   bool
	// unsilenced is set on a !silence once an !unsilence of it is sent; silenceID is
	// the number that !unsilence ends.
	unsilenced bool
	silenceID  string
	// marker is the !silence's matcher, or the words of a member's !request that
	// must reach the admin room once.
	marker string
	// interrupted is set when the answer says a stop cut the command short: its
	// effect may or may not have happened, once at most.
	interrupted bool
}

// incident is a problem the stream causes and then fixes, one phase per step: broken,
// then (its alert seen) taken with 👀, then (taken) fixed, then (resolution seen)
// over. Each incident must raise exactly one alert, resolved exactly once.
type incident struct {
	name string
	// like matches the summary of its alerts (SQL LIKE).
	like    string
	phase   int
	count   int
	summary string
	ack     bool
	alertID int64
	breakIt func() error
	fixIt   func() error
	// acked are the alerts a 👀 was sent for.
	acked []int64
}

// The phases of an incident.
const (
	phaseIdle = iota
	phaseBroken
	phaseTaken
	phaseFixed
)

// chaos is the test's Steward, its world and what the stream sent, for the count.
type chaos struct {
	t    *testing.T
	ctx  context.Context
	rng  *rand.Rand
	seed uint64
	api  *client.Client
	s    *testbed.Steward
	cfg  testbed.StewardConfig
	bot  id.UserID
	dm   id.RoomID
	base string // the job ping URL, up to the job's name

	runID                    string
	victim, target, app, web string
	data, notes              string
	repo                     *imageRepo
	version                  int
	images                   []string // every version pushed, removed at the end

	commands []*chaosCommand
	relays   []string // markers of the member's plain messages in the ticket chat
	// thread is where the ticket is in the admin room; answers are the markers of
	// the admins' answers there, each carried to the member once.
	thread          id.EventID
	answersToMember []string
	victimI         *incident
	jobI            *incident
	kills           int
	// pings counts the job pings answered 200 OK, and those whose answer was lost
	// after the request went out (they may or may not have been recorded).
	pings, unsure int
	updates       int
	restores      int
	reactions     int
	// hot is "update" or "restore" when one was just approved: the burst ends, and
	// the kill comes while it runs.
	hot string
	// scribbled is what the restored file was changed to before the last restore,
	// at scribbledAt: the file must hold it again unless that restore completed.
	scribbled   string
	scribbledAt time.Time
	// startsSeen counts the target's starts the engine reported (countStarts).
	startsSeen atomic.Int64
	eventsErr  atomic.Value
}

func newChaos(t *testing.T, seed uint64) *chaos {
	ctx := t.Context()
	c := &chaos{t: t, ctx: ctx, rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	api, err := testbed.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	c.api = api
	run := fmt.Sprint(time.Now().UnixNano() % 1e9)
	label := map[string]string{"steward.chaos": run}
	c.runID = run
	c.victim, c.target, c.app, c.web = "steward-e2e-chaos-victim-"+run, "steward-e2e-chaos-target-"+run, "steward-e2e-chaos-app-"+run, "steward-e2e-chaos-web-"+run
	for _, name := range []string{c.victim, c.target, c.app} {
		if _, err = testbed.RunContainer(ctx, api, name, label, t.Cleanup); err != nil {
			t.Fatal(err)
		}
	}
	c.countStarts(c.target)
	// The updated container comes from a local registry; each update pushes a version.
	c.repo = newImageRepo(t, api, "chaos-web-"+run+":stable")
	c.push()
	t.Cleanup(func() {
		bg := context.WithoutCancel(ctx)
		for _, name := range []string{c.web, c.web + "-steward-previous"} {
			_, _ = api.ContainerRemove(bg, name, client.ContainerRemoveOptions{Force: true})
		}
		for _, image := range c.images {
			_, _ = api.ImageRemove(bg, image, client.ImageRemoveOptions{Force: true})
		}
	})
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: c.web, Config: &container.Config{Image: c.repo.Ref, Labels: testbed.Labelled(label)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}

	// The restored set: one file, the app container stopped around in-place restores.
	root := filepath.Join(w.Dir, "chaos-"+run)
	c.data = filepath.Join(root, "data")
	c.notes = filepath.Join(c.data, "notes.txt")
	if err = os.MkdirAll(c.data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err = os.WriteFile(c.notes, []byte("as backed up\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	restic, err := testbed.NewResticRepo(ctx, filepath.Join(root, "restic"))
	if err != nil {
		t.Fatal(err)
	}
	if err = restic.Backup(ctx, c.data); err != nil {
		t.Fatal(err)
	}

	name := "chaos" + run[len(run)-5:]
	var listener testbed.Listener
	c.s, c.cfg, err = w.NewStewardWith(ctx, name, func(cfg *testbed.StewardConfig) {
		if listener, err = cfg.AddListener(filepath.Join(w.Dir, name)); err != nil {
			t.Fatal(err)
		}
		for i, line := range cfg.TopLevel {
			if strings.HasPrefix(line, "docker:") {
				cfg.TopLevel[i] = fmt.Sprintf("docker: {update_check: 0s, settle: 2s, only_label: %q}", "steward.chaos="+run)
			}
		}
		cfg.TopLevel = append(cfg.TopLevel, "jobs: [{name: chaos, every: 1h, grace: 1h}]",
			fmt.Sprintf(`backups:
  staging_dir: %q
  interval: 1h
  sets:
    - {name: chaos, repository: %q, password_file: %q, paths: [%q], every: 24h, containers: [%s], check: {every: 0s}, drill: {every: 0s}}`,
				filepath.Join(root, "staging"), restic.Path, restic.PasswordFile, c.data, c.app))
		cfg.Monitor = "{interval: 10s, group_wait: 0s, disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}}"
	})
	if c.s != nil {
		t.Cleanup(func() { _ = c.s.Kill() })
	}
	if err != nil {
		t.Fatal(err)
	}
	c.bot = c.cfg.UserID
	c.base = listener.URL + "/ping/" + listener.Token + "/chaos"

	// Bob is the second admin; Carol a member who opens a ticket and then writes in it.
	for _, join := range []struct {
		who  *testbed.Client
		room id.RoomID
	}{{w.Bob, c.cfg.AdminRoom}, {w.Carol, c.cfg.GroupRoom}} {
		if _, err = w.Alice.InviteUser(ctx, join.room, &mautrix.ReqInviteUser{UserID: join.who.UserID}); err != nil {
			t.Fatal(err)
		}
		if err = join.who.WaitForMembership(ctx, join.room, join.who.UserID, event.MembershipInvite, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err = join.who.JoinRoomByID(ctx, join.room); err != nil {
			t.Fatal(err)
		}
		if err = join.who.WaitForMembership(ctx, join.room, c.bot, event.MembershipJoin, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err = w.Alice.WaitForMembership(ctx, join.room, join.who.UserID, event.MembershipJoin, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		bg := context.WithoutCancel(ctx)
		_, _ = w.Bob.LeaveRoom(bg, c.cfg.AdminRoom)
		_, _ = w.Carol.LeaveRoom(bg, c.cfg.GroupRoom)
		if c.dm != "" {
			_, _ = w.Carol.LeaveRoom(bg, c.dm)
		}
	})
	// Steward must see Bob as a member before Bob's first message, or it has no key.
	if err = c.waitBot(w.Bob, c.cfg.AdminRoom, "!ping"); err != nil {
		t.Fatal(err)
	}
	known := w.Carol.Invites()
	// In the group room the answer is the ticket's chat itself (no reply there).
	if _, err = w.Carol.Say(ctx, c.cfg.GroupRoom, "!request chaos: a room for the test's ticket messages"); err != nil {
		t.Fatal(err)
	}
	if c.dm, err = w.Carol.WaitForInvite(ctx, known, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Carol.JoinRoomByID(ctx, c.dm); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Carol.WaitForMessage(ctx, c.dm, c.bot, "This is ticket", time.Minute); err != nil {
		t.Fatal(err)
	}
	// The admins answer in the ticket's thread in the admin room.
	start, err := w.Alice.WaitForMessage(ctx, c.cfg.AdminRoom, c.bot, "a room for the test's ticket messages", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c.thread = start.ID

	c.victimI = &incident{name: "container " + c.victim, like: "Container " + c.victim + " is down%", ack: true,
		breakIt: func() error {
			_, err := api.ContainerKill(ctx, c.victim, client.ContainerKillOptions{})
			return err
		},
		fixIt: func() error {
			_, err := api.ContainerStart(ctx, c.victim, client.ContainerStartOptions{})
			return err
		}}
	c.jobI = &incident{name: "job chaos", like: "Job chaos failed%",
		breakIt: func() error { return c.ping("POST", "/3", "chaos: step failed\n") },
		fixIt:   func() error { return c.ping("GET", "/0", "") }}
	return c
}

// waitBot sends text and waits for Steward's answer (the setup, outside the chaos).
func (c *chaos) waitBot(by *testbed.Client, room id.RoomID, text string) error {
	eventID, err := by.Say(c.ctx, room, text)
	if err != nil {
		return err
	}
	_, err = by.WaitForReply(c.ctx, c.bot, room, eventID, time.Minute)
	return err
}

// push makes a new version of the updated container's image.
func (c *chaos) push() {
	c.version++
	c.images = append(c.images, c.repo.push(fmt.Sprintf("chaos-%d", c.version)))
}

// ping sends a job ping as curl --retry would: again while nobody answers (Steward
// is down). A ping whose request went out but whose answer did not come may or may
// not have been recorded; it is counted as unsure, and sent again.
func (c *chaos) ping(method, path, body string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(c.ctx, method, c.base+path, r)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.pings++
				return nil
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				return fmt.Errorf("ping %s: %s", path, resp.Status)
			}
		} else if !isRefused(err) {
			c.unsure++
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ping %s: no answer for a minute: %v", path, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// isRefused reports whether err is a connection nobody accepted: the request never
// reached Steward.
func isRefused(err error) bool {
	return strings.Contains(err.Error(), "connection refused")
}

// say sends a command and keeps it for the count.
func (c *chaos) say(by *testbed.Client, room id.RoomID, kind, text string) *chaosCommand {
	eventID, err := by.Say(c.ctx, room, text)
	if err != nil {
		c.t.Fatalf("send %q: %v", text, err)
	}
	cmd := &chaosCommand{by: by, room: room, text: text, eventID: eventID, kind: kind}
	c.commands = append(c.commands, cmd)
	return cmd
}

// answers returns Steward's answers to cmd as its sender's client received them
// (edits of an answer are not answers of their own).
func (c *chaos) answers(cmd *chaosCommand) []*event.Event {
	var out []*event.Event
	for _, evt := range cmd.by.RepliesTo(c.bot, cmd.room, cmd.eventID) {
		if evt.Content.AsMessage().RelatesTo.GetReplaceID() == "" {
			out = append(out, evt)
		}
	}
	return out
}

// answer returns the first answer to cmd, or "".
func (c *chaos) answer(cmd *chaosCommand) string {
	if a := c.answers(cmd); len(a) > 0 {
		return a[0].Content.AsMessage().Body
	}
	return ""
}

var silenceIDPattern = regexp.MustCompile(`Silence #(\d+)`)

// step does one thing of the stream, chosen at random among those that can be done now.
func (c *chaos) step() {
	n := len(c.commands)
	for tries := 0; tries < 20; tries++ {
		switch c.rng.IntN(19) {
		case 0, 1:
			c.say(w.Alice, c.cfg.AdminRoom, "ping", "!ping")
		case 2:
			c.say(w.Bob, c.cfg.AdminRoom, "ping", "!whoami")
		case 3:
			c.say(w.Alice, c.cfg.AdminRoom, "restart", "!restart "+c.target)
		case 4, 15, 16:
			// The second admin approves one request whose answer has come: by
			// command, or with ✅ on the request. An update or a restore is what a
			// kill should land in the middle of: the next kill comes during it.
			if cmd := c.awaitingApproval(); cmd != nil {
				cmd.approved = true
				if cmd.kind != "restart" {
					c.hot = cmd.kind
				}
				if c.rng.IntN(3) > 0 {
					c.say(w.Bob, c.cfg.AdminRoom, "approve", "!approve "+cmd.approvalID)
					return
				}
				if _, err := w.Bob.React(c.ctx, c.cfg.AdminRoom, c.answers(cmd)[0].ID, "✅"); err != nil {
					c.t.Fatal(err)
				}
				c.reactions++
				return
			}
		case 5:
			marker := fmt.Sprintf("chaos%d:*", len(c.commands))
			cmd := c.say(w.Alice, c.cfg.AdminRoom, "silence", "!silence "+marker+" 1h the chaos test's own")
			cmd.marker = marker
		case 6:
			for _, cmd := range c.commands {
				if cmd.kind == "silence" && !cmd.unsilenced {
					if m := silenceIDPattern.FindStringSubmatch(c.answer(cmd)); m != nil {
						cmd.unsilenced = true
						c.say(w.Alice, c.cfg.AdminRoom, "unsilence", "!unsilence "+m[1]).silenceID = m[1]
						break
					}
				}
			}
		case 7:
			c.advance(c.victimI)
		case 8:
			c.advance(c.jobI)
		case 9:
			if c.jobI.phase == phaseIdle {
				if err := c.ping("GET", "", ""); err != nil {
					c.t.Fatal(err)
				}
				return
			}
		case 10:
			marker := fmt.Sprintf("[relay-%d]", len(c.relays))
			if _, err := w.Carol.Say(c.ctx, c.dm, "Another thing "+marker); err != nil {
				c.t.Fatal(err)
			}
			c.relays = append(c.relays, marker)
			return
		case 18:
			marker := fmt.Sprintf("[answer-%d]", len(c.answersToMember))
			if _, err := w.Alice.SayInThread(c.ctx, c.cfg.AdminRoom, c.thread, "We are on it "+marker); err != nil {
				c.t.Fatal(err)
			}
			c.answersToMember = append(c.answersToMember, marker)
			return
		case 11:
			marker := fmt.Sprintf("[ask-%d]", len(c.commands))
			c.say(w.Carol, c.dm, "request", "!request one more thing "+marker).marker = marker
		case 12, 14:
			if !c.busy("update") {
				c.push()
				c.say(w.Alice, c.cfg.AdminRoom, "update", "!update "+c.web)
				c.updates++
			}
		case 13, 17:
			if !c.busy("restore") {
				c.scribbled = fmt.Sprintf("scribbled %d\n", c.restores)
				c.scribbledAt = time.Now()
				if err := os.WriteFile(c.notes, []byte(c.scribbled), 0o644); err != nil {
					c.t.Fatal(err)
				}
				c.say(w.Alice, c.cfg.AdminRoom, "restore", "!restore chaos "+c.notes+" --in-place")
				c.restores++
			}
		}
		if len(c.commands) > n || c.rng.IntN(4) == 0 {
			return
		}
	}
}

// awaitingApproval returns a request that was answered with an approval ID and not
// approved yet, or nil.
func (c *chaos) awaitingApproval() *chaosCommand {
	var first *chaosCommand
	for _, cmd := range c.commands {
		if cmd.approvalID == "" && !cmd.approved && (cmd.kind == "restart" || cmd.kind == "update" || cmd.kind == "restore") {
			if m := requestIDPattern.FindStringSubmatch(c.answer(cmd)); m != nil {
				cmd.approvalID = m[1]
			}
		}
		if cmd.approvalID != "" && !cmd.approved {
			if cmd.kind != "restart" {
				return cmd // the updates and restores first: they are the ones to cut short
			}
			if first == nil {
				first = cmd
			}
		}
	}
	return first
}

// busy reports whether an update (or restore) was asked and has not ended: one at a
// time, so that each is about the version (or file) it was asked for.
func (c *chaos) busy(kind string) bool {
	for _, cmd := range c.commands {
		if cmd.kind != kind {
			continue
		}
		body := c.answer(cmd)
		if body == "" {
			return true
		}
		if cmd.approvalID == "" && requestIDPattern.MatchString(body) {
			return true // not yet approved
		}
		if cmd.approvalID != "" {
			var st string
			c.db(func(db *state.DB) error {
				return db.Raw.QueryRow(c.ctx, "SELECT state FROM approval WHERE id=$1", cmd.approvalID).Scan(&st)
			})
			if st != string(state.ApprovalDone) {
				return true
			}
		}
	}
	if kind == "update" {
		return c.openRows("SELECT COUNT(*) FROM update_job WHERE outcome=''") > 0
	}
	return c.openRows("SELECT COUNT(*) FROM backup_run WHERE kind='restore' AND finished_at=0") > 0
}

// openRows runs a COUNT query on Steward's database; -1 when it can't be read now.
func (c *chaos) openRows(query string) int {
	n := -1
	c.db(func(db *state.DB) error { return db.Raw.QueryRow(c.ctx, query).Scan(&n) })
	return n
}

// db opens Steward's database beside it (running or not) for f.
func (c *chaos) db(f func(*state.DB) error) error {
	db, err := state.Open(c.ctx, filepath.Join(c.cfg.DataDir, "steward.db"), zerolog.Nop())
	if err != nil {
		return err
	}
	defer db.Close()
	return f(db)
}

// alert is what the database holds of one alert.
type chaosAlert struct {
	id      int64
	summary string
	state   string
	message int64
	ackedBy string
}

// alerts returns the alerts whose summary matches like, oldest first.
func (c *chaos) alerts(like string) []chaosAlert {
	var out []chaosAlert
	err := c.db(func(db *state.DB) error {
		rows, err := db.Raw.Query(c.ctx, "SELECT id, summary, state, message, acked_by FROM alert WHERE summary LIKE $1 ORDER BY id", like)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a chaosAlert
			if err = rows.Scan(&a.id, &a.summary, &a.state, &a.message, &a.ackedBy); err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil
	}
	return out
}

// alertPosts returns the messages in the admin room, as Alice received them, that post
// alert a (not edits, not answers to the stream's commands), and those that resolve it.
func (c *chaos) alertPosts(a chaosAlert) (posts, resolves []*event.Event) {
	alertID := a.id
	mine := make(map[id.EventID]bool, len(c.commands))
	for _, cmd := range c.commands {
		mine[cmd.eventID] = true
	}
	number := regexp.MustCompile(fmt.Sprintf(`#%d\b`, alertID))
	for _, evt := range w.Alice.Messages(c.cfg.AdminRoom) {
		content := evt.Content.AsMessage()
		if evt.Sender != c.bot || content.RelatesTo.GetReplaceID() != "" || mine[content.RelatesTo.GetReplyTo()] || !number.MatchString(content.Body) {
			continue
		}
		// A note that resolves several alerts names them by number only.
		if strings.HasPrefix(content.Body, "✅ Resolved") {
			resolves = append(resolves, evt)
		} else if strings.Contains(content.Body, a.summary) {
			posts = append(posts, evt)
		}
	}
	return posts, resolves
}

// advance moves inc on by one phase when the one it is in is over.
func (c *chaos) advance(inc *incident) {
	switch inc.phase {
	case phaseIdle:
		if err := inc.breakIt(); err != nil {
			c.t.Fatalf("break %s: %v", inc.name, err)
		}
		inc.phase, inc.alertID = phaseBroken, 0
		inc.count++
	case phaseBroken:
		as := c.alerts(inc.like)
		if len(as) == 0 || as[len(as)-1].state == string(state.AlertResolved) {
			return
		}
		a := as[len(as)-1]
		posts, _ := c.alertPosts(a)
		if len(posts) == 0 {
			return
		}
		inc.alertID, inc.summary = a.id, a.summary
		if !inc.ack {
			c.fix(inc)
			return
		}
		_, err := w.Bob.React(c.ctx, c.cfg.AdminRoom, posts[0].ID, "👀")
		if err != nil {
			c.t.Fatal(err)
		}
		inc.phase = phaseTaken
		inc.acked = append(inc.acked, a.id)
	case phaseTaken:
		for _, a := range c.alerts(inc.like) {
			if a.id == inc.alertID && a.ackedBy != "" {
				c.fix(inc)
			}
		}
	case phaseFixed:
		if _, resolves := c.alertPosts(chaosAlert{id: inc.alertID, summary: inc.summary}); len(resolves) > 0 {
			inc.phase = phaseIdle
		}
	}
}

func (c *chaos) fix(inc *incident) {
	if err := inc.fixIt(); err != nil {
		c.t.Fatalf("fix %s: %v", inc.name, err)
	}
	inc.phase = phaseFixed
}

// sleep waits a random time up to max.
func (c *chaos) sleep(max time.Duration) {
	time.Sleep(time.Duration(c.rng.Int64N(int64(max) + 1)))
}

// run sends the stream, killing Steward kills times: after a burst of steps and a
// random wait (answers in flight, an approved update or restore part-way), SIGKILL,
// then a start at once or after a short pause.
func (c *chaos) run(kills int) {
	for c.kills < kills {
		c.hot = ""
		for range 1 + c.rng.IntN(7) {
			if c.step(); c.hot != "" {
				break
			}
			c.sleep(300 * time.Millisecond)
		}
		// Right after an update's or a restore's approval, the kill lands inside it:
		// an update takes some seconds (pull, create, start, 2s to settle), an
		// in-place restore one or two (stop, restic, start).
		switch c.hot {
		case "update":
			c.sleep(5 * time.Second)
		case "restore":
			c.sleep(2500 * time.Millisecond)
		default:
			c.sleep(3 * time.Second)
		}
		if err := c.s.Kill(); err != nil {
			c.t.Fatal(err)
		}
		c.kills++
		if c.rng.IntN(3) == 0 {
			c.sleep(2 * time.Second)
		}
		if err := c.s.Start(c.ctx); err != nil {
			c.t.Fatalf("start after kill %d: %v", c.kills, err)
		}
	}
}

// drain lets Steward, left running, finish what the stream began: the incidents are
// seen to their end, approvals to their outcome, answers to their room.
func (c *chaos) drain() {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		for _, inc := range []*incident{c.victimI, c.jobI} {
			if inc.phase != phaseIdle {
				c.advance(inc)
			}
		}
		if c.victimI.phase == phaseIdle && c.jobI.phase == phaseIdle && c.settled() {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Answers in a room come in order: once these are answered, a second answer to
	// anything before them would have come too.
	for _, last := range []struct {
		by   *testbed.Client
		room id.RoomID
	}{{w.Alice, c.cfg.AdminRoom}, {w.Bob, c.cfg.AdminRoom}, {w.Carol, c.dm}} {
		if err := c.waitBot(last.by, last.room, "!ping"); err != nil {
			c.t.Errorf("after the chaos, Steward does not answer %s: %v", last.by.UserID, err)
		}
	}
}

// settled reports whether every command has its answer and nothing Steward began is
// still under way.
func (c *chaos) settled() bool {
	for _, cmd := range c.commands {
		if c.answer(cmd) == "" {
			return false
		}
	}
	for _, m := range c.answersToMember {
		if w.Carol.CountBodies(c.dm, c.bot, m) == 0 {
			return false
		}
	}
	return c.openRows("SELECT COUNT(*) FROM approval WHERE state IN ('approved', 'executing')") == 0 &&
		c.openRows("SELECT COUNT(*) FROM alert WHERE state <> 'resolved'") == 0 &&
		c.openRows("SELECT COUNT(*) FROM update_job WHERE outcome=''") == 0 &&
		c.openRows("SELECT COUNT(*) FROM backup_run WHERE finished_at=0") == 0
}

// count counts what went wrong and fails naming each.
func (c *chaos) count(took time.Duration) {
	t := c.t
	var repeated, lost, lostAlerts, halfDone []string
	for _, cmd := range c.commands {
		if strings.Contains(c.answer(cmd), "did not run it again") {
			cmd.interrupted = true
		}
		answers := c.answers(cmd)
		var bodies []string
		for _, a := range answers {
			bodies = append(bodies, a.Content.AsMessage().Body)
		}
		if len(answers) == 0 {
			lost = append(lost, fmt.Sprintf("%q by %s (%s)", cmd.text, cmd.by.UserID, cmd.eventID))
			continue
		}
		if !requestIDPattern.MatchString(bodies[0]) {
			if len(answers) > 1 {
				repeated = append(repeated, fmt.Sprintf("%q by %s answered %d times: %q", cmd.text, cmd.by.UserID, len(answers), bodies))
			}
			continue
		}
		// A command that needed approval is answered with the request, then with its
		// result (or its progress message, edited to the result) once it ran, or with
		// a note that a stop interrupted it and it did not run again.
		var requests, results, notes int
		for _, b := range bodies {
			switch {
			case requestIDPattern.MatchString(b):
				requests++
			case strings.Contains(b, "did not run it again"):
				notes++
			default:
				results++
			}
		}
		if requests > 1 || results > 1 || notes > 1 {
			repeated = append(repeated, fmt.Sprintf("%q by %s answered %d times: %q", cmd.text, cmd.by.UserID, len(answers), bodies))
		}
		if cmd.approved && results+notes == 0 {
			lost = append(lost, fmt.Sprintf("%q by %s, approved in %s, has no result: %q", cmd.text, cmd.by.UserID, cmd.approvalID, bodies))
		}
	}

	// Effects: one silence per !silence at most, and one exactly when it said so.
	for _, cmd := range c.commands {
		if cmd.kind != "silence" {
			continue
		}
		n := c.openRows(fmt.Sprintf("SELECT COUNT(*) FROM silence WHERE matcher='%s'", cmd.marker))
		said := silenceIDPattern.MatchString(c.answer(cmd))
		if n > 1 || (said && n != 1) || (!said && !cmd.interrupted && n != 0) {
			repeated = append(repeated, fmt.Sprintf("%q made %d silences (answered %q)", cmd.text, n, c.answer(cmd)))
		}
	}
	for _, cmd := range c.commands {
		if cmd.kind == "unsilence" && strings.Contains(c.answer(cmd), "Ended silence") {
			if n := c.openRows("SELECT COUNT(*) FROM silence WHERE id=" + cmd.silenceID + " AND ended_at=0"); n != 0 {
				halfDone = append(halfDone, fmt.Sprintf("%q was answered %q, but the silence is still in force", cmd.text, c.answer(cmd)))
			}
		}
	}

	// Approvals: each ends, and runs at most once; the restarts the engine saw are the
	// approved restarts that ran.
	type outcome struct{ state, outcome string }
	approvals := map[string]outcome{}
	c.db(func(db *state.DB) error {
		rows, err := db.Raw.Query(c.ctx, "SELECT id, state, outcome FROM approval")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var idv string
			var o outcome
			if err = rows.Scan(&idv, &o.state, &o.outcome); err != nil {
				return err
			}
			approvals[idv] = o
		}
		return rows.Err()
	})
	restartsOK, restartsUnsure := 0, 0
	for _, cmd := range c.commands {
		if cmd.approvalID == "" || !cmd.approved {
			continue
		}
		o, ok := approvals[cmd.approvalID]
		switch {
		case !ok:
			lost = append(lost, fmt.Sprintf("approval %s of %q is not in the database", cmd.approvalID, cmd.text))
		case o.state == string(state.ApprovalOpen):
			lost = append(lost, fmt.Sprintf("approval %s of %q is still open after Bob approved it", cmd.approvalID, cmd.text))
		case o.state != string(state.ApprovalDone):
			halfDone = append(halfDone, fmt.Sprintf("approval %s of %q left %s", cmd.approvalID, cmd.text, o.state))
		case cmd.kind == "restart" && o.outcome == state.OutcomeOK:
			restartsOK++
		case cmd.kind == "restart" && o.outcome == state.OutcomeInterrupted:
			restartsUnsure++
		}
	}
	starts := c.starts()
	switch {
	case starts > restartsOK+restartsUnsure:
		repeated = append(repeated, fmt.Sprintf("%s was started %d times by %d approved restarts that ran (and %d interrupted)", c.target, starts, restartsOK, restartsUnsure))
	case starts < restartsOK:
		lost = append(lost, fmt.Sprintf("%d approved restarts of %s said they were done, and the engine started it %d times", restartsOK, c.target, starts))
	}

	// The member's words: each reaches the admins once.
	relayed := func(marker string) int {
		n := 0
		for _, evt := range w.Alice.Messages(c.cfg.AdminRoom) {
			content := evt.Content.AsMessage()
			if evt.Sender == c.bot && content.RelatesTo.GetReplaceID() == "" && strings.Contains(content.Body, marker) {
				n++
			}
		}
		return n
	}
	markers := append([]string(nil), c.relays...)
	for _, cmd := range c.commands {
		if cmd.kind == "request" {
			markers = append(markers, cmd.marker)
		}
	}
	for _, m := range markers {
		switch n := relayed(m); {
		case n == 0:
			lost = append(lost, fmt.Sprintf("the member's %q never reached the admin room", m))
		case n > 1:
			repeated = append(repeated, fmt.Sprintf("the member's %q reached the admin room %d times", m, n))
		}
	}

	// The admins' answers: each reaches the member once.
	for _, m := range c.answersToMember {
		switch n := w.Carol.CountBodies(c.dm, c.bot, m); {
		case n == 0:
			lost = append(lost, fmt.Sprintf("the admins' answer %q never reached the member", m))
		case n > 1:
			repeated = append(repeated, fmt.Sprintf("the admins' answer %q reached the member %d times", m, n))
		}
	}

	// Job pings: each one answered OK is recorded once; unsure ones at most once more.
	var recorded int
	c.db(func(db *state.DB) error {
		h, err := db.Jobs.History(c.ctx, "chaos", 10000)
		recorded = len(h)
		return err
	})
	switch {
	case recorded > c.pings+c.unsure:
		repeated = append(repeated, fmt.Sprintf("%d job pings answered OK (%d unsure) and %d recorded", c.pings, c.unsure, recorded))
	case recorded < c.pings:
		lost = append(lost, fmt.Sprintf("%d job pings answered OK and only %d recorded", c.pings, recorded))
	}

	// Alerts: one per incident, posted once, resolved once; a 👀 takes its alert.
	for _, inc := range []*incident{c.victimI, c.jobI} {
		as := c.alerts(inc.like)
		if len(as) != inc.count {
			if len(as) < inc.count {
				lostAlerts = append(lostAlerts, fmt.Sprintf("%s: %d incidents, %d alerts", inc.name, inc.count, len(as)))
			} else {
				repeated = append(repeated, fmt.Sprintf("%s: %d incidents, %d alerts", inc.name, inc.count, len(as)))
			}
		}
		for _, a := range as {
			posts, resolves := c.alertPosts(a)
			switch {
			case len(posts) == 0:
				lostAlerts = append(lostAlerts, fmt.Sprintf("%s: alert #%d never reached the admin room", inc.name, a.id))
			case len(posts) > 1:
				repeated = append(repeated, fmt.Sprintf("%s: alert #%d posted %d times", inc.name, a.id, len(posts)))
			}
			switch {
			case a.state != string(state.AlertResolved) || len(resolves) == 0:
				lostAlerts = append(lostAlerts, fmt.Sprintf("%s: alert #%d never resolved (%s, %d notes)", inc.name, a.id, a.state, len(resolves)))
			case len(resolves) > 1:
				repeated = append(repeated, fmt.Sprintf("%s: alert #%d resolved %d times", inc.name, a.id, len(resolves)))
			}
		}
		for _, acked := range inc.acked {
			for _, a := range as {
				if a.id == acked && a.ackedBy != w.Bob.UserID.String() {
					lost = append(lost, fmt.Sprintf("%s: Bob's 👀 on alert #%d was not taken (acked by %q)", inc.name, a.id, a.ackedBy))
				}
			}
		}
	}

	// The alerts the stream causes besides (a container stopped part-way through an
	// update, say) are posted and resolved at most once each, and none is left open.
	counted := map[int64]bool{}
	for _, inc := range []*incident{c.victimI, c.jobI} {
		for _, a := range c.alerts(inc.like) {
			counted[a.id] = true
		}
	}
	others := 0
	for _, a := range c.alerts("%") {
		if counted[a.id] {
			continue
		}
		others++
		posts, resolves := c.alertPosts(a)
		if len(posts) > 1 || len(resolves) > 1 {
			repeated = append(repeated, fmt.Sprintf("alert #%d %q posted %d times, resolved %d times", a.id, a.summary, len(posts), len(resolves)))
		}
		if a.state != string(state.AlertResolved) {
			lostAlerts = append(lostAlerts, fmt.Sprintf("alert #%d %q is still %s at the end", a.id, a.summary, a.state))
		}
	}

	// Updates and restores: nothing left half-done.
	for _, name := range []string{c.web, c.app, c.victim, c.target} {
		info, err := c.api.ContainerInspect(c.ctx, name, client.ContainerInspectOptions{})
		if err != nil || info.Container.State == nil || !info.Container.State.Running {
			halfDone = append(halfDone, fmt.Sprintf("%s is not running (%v)", name, err))
		}
	}
	// The test's containers are the four it made, no set-aside or trial one besides.
	listed, err := c.api.ContainerList(c.ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "steward.chaos="+c.runID)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ctr := range listed.Items {
		name := ""
		if len(ctr.Names) > 0 {
			name = strings.TrimPrefix(ctr.Names[0], "/")
		}
		if name != c.web && name != c.app && name != c.victim && name != c.target {
			halfDone = append(halfDone, fmt.Sprintf("container %s (%s) was left behind", name, ctr.State))
		}
	}
	if n := len(listed.Items); n < 4 {
		halfDone = append(halfDone, fmt.Sprintf("%d of the test's 4 containers are left", n))
	}
	// The restored file holds the snapshot's text if the last restore completed, and
	// what it was changed to before it otherwise.
	if c.restores > 0 {
		outcome := ""
		c.db(func(db *state.DB) error {
			return db.Raw.QueryRow(c.ctx, "SELECT outcome FROM backup_run WHERE kind='restore' AND started_at >= $1 ORDER BY id DESC LIMIT 1",
				c.scribbledAt.UnixMilli()).Scan(&outcome)
		})
		want := c.scribbled
		if outcome == state.OutcomeOK {
			want = "as backed up\n"
		}
		if got, err := os.ReadFile(c.notes); err == nil && string(got) != want {
			halfDone = append(halfDone, fmt.Sprintf("the restored file holds %q after a restore that ended %q, want %q", got, outcome, want))
		}
	}
	if n := c.openRows("SELECT COUNT(*) FROM update_job WHERE outcome=''"); n != 0 {
		halfDone = append(halfDone, fmt.Sprintf("%d update journal rows unfinished", n))
	}
	if n := c.openRows("SELECT COUNT(*) FROM update_job WHERE outcome='failed' AND detail LIKE 'Steward stopped%'"); n != 0 {
		halfDone = append(halfDone, fmt.Sprintf("%d updates cut short by a kill could not be put right", n))
	}
	if n := c.openRows("SELECT COUNT(*) FROM backup_run WHERE kind='restore' AND (detail LIKE '%did not start again%' OR detail LIKE '%the live files are at%' OR detail LIKE '%live files were left at%')"); n != 0 {
		halfDone = append(halfDone, fmt.Sprintf("%d restores left containers stopped or the live files elsewhere", n))
	}
	if n := c.openRows("SELECT COUNT(*) FROM backup_run WHERE finished_at=0"); n != 0 {
		halfDone = append(halfDone, fmt.Sprintf("%d backup runs unfinished", n))
	}
	if _, err := os.Stat(c.notes); err != nil {
		halfDone = append(halfDone, "the restored file is gone: "+err.Error())
	}
	// A restore keeps the files it replaced beside them, for --undo: only a finished
	// restore may leave them, and nothing leaves its scratch copy.
	left, _ := filepath.Glob(filepath.Join(c.data, ".steward-restore-*"))
	for _, p := range left {
		var run int64
		var rest string
		fmt.Sscanf(filepath.Base(p), ".steward-restore-%d-%s", &run, &rest)
		outcome := "?"
		c.db(func(db *state.DB) error {
			return db.Raw.QueryRow(c.ctx, "SELECT outcome FROM backup_run WHERE id=$1", run).Scan(&outcome)
		})
		if rest == "new" || outcome != state.OutcomeOK {
			halfDone = append(halfDone, fmt.Sprintf("%s left in the live folder by restore %d (%s)", filepath.Base(p), run, outcome))
		}
	}
	var updateOutcomes, restoreOutcomes []string
	for _, cmd := range c.commands {
		if (cmd.kind == "update" || cmd.kind == "restore") && cmd.approved {
			o := approvals[cmd.approvalID].outcome
			if cmd.kind == "update" {
				updateOutcomes = append(updateOutcomes, o)
			} else {
				restoreOutcomes = append(restoreOutcomes, o)
			}
		}
	}

	// How often a kill landed inside an update or a restore, as their journals tell.
	updatesCut := c.openRows("SELECT COUNT(*) FROM update_job WHERE detail LIKE 'Steward stopped during the update%' OR detail = 'completed after Steward restarted'")
	restoresCut := c.openRows("SELECT COUNT(*) FROM backup_run WHERE kind='restore' AND (outcome='interrupted' OR detail LIKE '%when Steward stopped%')")
	t.Logf("chaos: %d updates and %d restores were cut short by a kill and put right at the next start", updatesCut, restoresCut)
	t.Logf("chaos: %d kills, %d commands, %d relayed member messages, %d answers to the member, %d job pings, %d ✅ approvals, %d+%d incidents (%d other alerts), %d updates approved %v, %d restores approved %v; %d repeated, %d lost replies, %d lost alerts, %d half-done, in %s (seed %d)",
		c.kills, len(c.commands), len(c.relays), len(c.answersToMember), c.pings, c.reactions, c.victimI.count, c.jobI.count, others, len(updateOutcomes), updateOutcomes, len(restoreOutcomes), restoreOutcomes,
		len(repeated), len(lost), len(lostAlerts), len(halfDone), took.Round(time.Second), c.seed)
	for _, l := range []struct {
		what  string
		items []string
	}{{"repeated", repeated}, {"lost reply", lost}, {"lost alert", lostAlerts}, {"half-done", halfDone}} {
		for _, item := range l.items {
			t.Errorf("%s: %s", l.what, item)
		}
	}
}

// countStarts counts the engine's start events of the container name from now until
// the test ends, live: the engine keeps only its last few hundred events for a later
// query, fewer than a long run makes.
func (c *chaos) countStarts(name string) {
	ctx, cancel := context.WithCancel(c.ctx)
	res := c.api.Events(ctx, client.EventsListOptions{
		Filters: make(client.Filters).Add("container", name).Add("event", "start"),
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-res.Messages:
				c.startsSeen.Add(1)
			case err := <-res.Err:
				if err != nil && ctx.Err() == nil {
					c.eventsErr.Store(err)
				}
				return
			}
		}
	}()
	c.t.Cleanup(func() { cancel(); <-done })
}

// starts returns the start events counted so far, failing the test if the engine's
// stream of them broke.
func (c *chaos) starts() int {
	if err, _ := c.eventsErr.Load().(error); err != nil {
		c.t.Errorf("the engine's events stopped: %v", err)
	}
	return int(c.startsSeen.Load())
}
