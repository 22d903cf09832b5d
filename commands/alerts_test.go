package commands_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// alertRig is the commands harness with every command, three admins (alice, carol,
// dave) and a real alert engine over the harness's database, posting through the
// harness's messenger on the harness's clock.
type alertRig struct {
	*harness
	eng    *monitor.Engine
	onCall *monitor.OnCall
}

// newAlertRig builds an alertRig with rotation as the on-call rotation (none when it
// has no admins).
func newAlertRig(t *testing.T, rotation monitor.Rotation) *alertRig {
	t.Helper()
	h := newHarness(t, commands.Builtin(commands.Features{}), withAdmins(admin, carol, dave))
	d := &alertRig{harness: h, onCall: &monitor.OnCall{Rotation: rotation, KV: h.db.KV}}
	d.eng = monitor.NewEngine(monitor.Settings{
		AdminRoom: adminRoom, GroupRoom: groupRoom, Prefix: h.settings.Prefix, BotUserID: h.settings.BotUserID,
		Admins: h.settings.Admins,
	}, h.db.Alerts, h.db.Silences, h.replier, h.db.Audit, h.db.DoTxn, h.clock.Now)
	h.registry = commands.Builtin(commands.Features{Alerts: d.eng, OnCall: d.onCall})
	deps := h.deps()
	deps.Acks = d.eng
	h.proc = commands.NewProcessor(h.settings, h.registry, deps)
	return d
}

// fire has the check report obs (and nothing else) and posts what fired.
func (d *alertRig) fire(check string, obs ...monitor.Observation) {
	d.t.Helper()
	if err := d.eng.Apply(d.t.Context(), check, obs, nil); err != nil {
		d.t.Fatalf("Apply(%s): %v", check, err)
	}
	if _, err := d.eng.Flush(d.t.Context()); err != nil {
		d.t.Fatalf("Flush: %v", err)
	}
}

// alert returns stored alert alertID.
func (d *alertRig) alert(alertID int64) *state.Alert {
	d.t.Helper()
	a, err := d.db.Alerts.Get(d.t.Context(), alertID)
	if err != nil || a == nil {
		d.t.Fatalf("alert #%d: %v, %v", alertID, a, err)
	}
	return a
}

// silences returns the silences in force.
func (d *alertRig) silences() []*state.Silence {
	d.t.Helper()
	running, err := d.db.Silences.Running(d.t.Context())
	if err != nil {
		d.t.Fatal(err)
	}
	return running
}

// ask sends body from sender in the admin room and returns its only reply and its
// audit entry.
func (d *alertRig) ask(sender id.UserID, body string) (sentReply, *state.AuditEntry) {
	d.t.Helper()
	replies, entry := d.send(sender, adminRoom, body)
	return onlyReply(d.t, replies), entry
}

// wantSays fails t unless reply says each of parts.
func wantSays(t *testing.T, reply sentReply, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if !strings.Contains(reply.Plain, part) {
			t.Errorf("reply lacks %q:\n%s", part, reply.Plain)
		}
	}
}

func diskFull(path string) monitor.Observation {
	return monitor.Observation{
		Fingerprint: "disk:" + path, Subject: path, Severity: state.SeverityCritical,
		Summary: "Disk " + path + " is 97% full", Value: "97% used (critical at 95%)",
	}
}

func webDown() monitor.Observation {
	return monitor.Observation{
		Fingerprint: "http:web:down", Subject: "web", Severity: state.SeverityCritical,
		Summary: "web does not answer", Value: "connection refused", Public: true,
	}
}

func TestAckCommand(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	d.fire("disk", diskFull("/var"))
	d.fire("http:web", webDown())

	reply, entry := d.ask(admin, "!ack 1")
	if reply.Plain != "You're on #1." || entry.Outcome != state.OutcomeOK {
		t.Errorf("!ack 1 = %q (%s), want \"You're on #1.\"", reply.Plain, entry.Outcome)
	}
	if a := d.alert(1); a.AckedBy != admin {
		t.Errorf("#1 taken by %q, want %s", a.AckedBy, admin)
	}
	if msg := d.replier.post(1); !strings.Contains(msg, "👀 @alice:example.org is on it") {
		t.Errorf("the alert's message does not show who took it:\n%s", msg)
	}
	if reply, _ := d.ask(carol, "!ack #2"); reply.Plain != "You're on #2." {
		t.Errorf("!ack #2 = %q, want \"You're on #2.\"", reply.Plain)
	}
	if a := d.alert(2); a.AckedBy != carol {
		t.Errorf("#2 taken by %q, want %s", a.AckedBy, carol)
	}
	if reply, _ := d.ask(carol, "!ack 1"); reply.Plain != "Someone has already taken those." {
		t.Errorf("!ack of a taken alert = %q", reply.Plain)
	}
	if a := d.alert(1); a.AckedBy != admin {
		t.Errorf("#1 taken by %q after a second !ack, want the first taker %s", a.AckedBy, admin)
	}

	bad := []struct{ body, want string }{
		{"!ack 99", "#99 is not an open alert. !alerts lists the open ones."},
		{"!ack 1 99", "#99 is not an open alert. !alerts lists the open ones."},
		{"!ack web", `"web" is not an alert number. !alerts lists them.`},
		{"!ack", "Which alert? Give its number, like !ack 12. !alerts lists them."},
	}
	for _, tt := range bad {
		reply, entry := d.ask(dave, tt.body)
		if reply.Plain != tt.want || entry.Outcome != state.OutcomeBadInput {
			t.Errorf("%s = %q (%s), want %q (%s)", tt.body, reply.Plain, entry.Outcome, tt.want, state.OutcomeBadInput)
		}
	}
}

func TestAlertsCommand(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	if reply, _ := d.ask(admin, "!alerts"); reply.Plain != "Nothing is firing." {
		t.Errorf("!alerts with nothing open = %q, want \"Nothing is firing.\"", reply.Plain)
	}
	d.fire("disk", diskFull("/var"))
	d.fire("http:web", webDown())
	slow := webDown()
	slow.Fingerprint, slow.For = "http:wiki:down", time.Hour
	d.fire("http:wiki", slow)
	d.ask(carol, "!ack 1")
	d.ask(admin, "!silence http:web:* 2h deploying")

	reply, _ := d.ask(admin, "!alerts")
	wantSays(t, reply, "2 firing (times in UTC):", "1 more seen but not yet lasting long enough to alert.")
	lines := strings.Split(reply.Plain, "\n")
	row := func(n string) string {
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimLeft(l, "| "), n+" ") {
				return l
			}
		}
		t.Errorf("no row for %s:\n%s", n, reply.Plain)
		return ""
	}
	for _, want := range []string{"🔴 critical", "Disk /var is 97% full", "disk:/var", "Jun 01 12:00", string(carol)} {
		if r := row("#1"); !strings.Contains(r, want) {
			t.Errorf("row of #1 lacks %q: %s", want, r)
		}
	}
	for _, want := range []string{"web does not answer", "http:web:down", "nobody yet (🔕 silenced, #1)"} {
		if r := row("#2"); !strings.Contains(r, want) {
			t.Errorf("row of #2 lacks %q: %s", want, r)
		}
	}
	if strings.Contains(reply.Plain, "http:wiki:down") {
		t.Errorf("!alerts lists a pending alert as firing:\n%s", reply.Plain)
	}

	d.fire("disk")
	d.fire("http:web")
	d.fire("http:wiki")
	if reply, _ := d.ask(admin, "!alerts"); reply.Plain != "Nothing is firing." {
		t.Errorf("!alerts once all resolved = %q, want \"Nothing is firing.\"", reply.Plain)
	}
}

func TestSilenceCommand(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	d.fire("disk", diskFull("/var"))
	d.fire("http:web", webDown())
	now := d.clock.Now()

	for _, body := range []string{"!silence", "!silence disk:/var", "!silence disk:/var 2h", "!silence disk:/var backups"} {
		reply, entry := d.ask(admin, body)
		wantSays(t, reply, "Usage: !silence ID|FINGERPRINT|PATTERN DURATION REASON", "A duration and a reason are required")
		if entry.Outcome != state.OutcomeBadInput {
			t.Errorf("%s: outcome %s, want %s", body, entry.Outcome, state.OutcomeBadInput)
		}
	}
	refused := []struct{ body, want string }{
		{"!silence disk:* 31d full disks", "31d is too long: silences last at most 30 days."},
		{"!silence disk:* 721h full disks", "721h is too long: silences last at most 30 days."},
		{"!silence disk:* soon full disks", `"soon" is not a span of time`},
		{"!silence 99 2h full disks", "#99 is not an open alert."},
	}
	for _, tt := range refused {
		reply, entry := d.ask(admin, tt.body)
		wantSays(t, reply, tt.want)
		if entry.Outcome != state.OutcomeBadInput {
			t.Errorf("%s: outcome %s, want %s", tt.body, entry.Outcome, state.OutcomeBadInput)
		}
	}
	if s := d.silences(); len(s) != 0 {
		t.Fatalf("silences after refused commands: %+v", s)
	}

	// An alert number stands for its fingerprint; the reason is kept as typed.
	reply, _ := d.ask(admin, "!silence 2 2h web's being redeployed, don't page")
	wantSays(t, reply, "🔕 Silence #1: alerts matching `http:web:down` are held back until 14:00 UTC.", "It covers 1 open alert(s) now.", "`!unsilence 1` ends it early.")
	s := d.silences()
	if len(s) != 1 {
		t.Fatalf("silences = %+v, want one", s)
	}
	if s[0].Matcher != "http:web:down" || s[0].Reason != "web's being redeployed, don't page" || s[0].CreatedBy != admin ||
		!s[0].EndsAt.Equal(now.Add(2*time.Hour)) || s[0].Maintenance {
		t.Errorf("silence = %+v, want http:web:down for 2h by %s with the reason as typed", s[0], admin)
	}
	if msg := d.replier.post(2); !strings.Contains(msg, "🔕 Silenced by @alice:example.org") {
		t.Errorf("the silenced alert's message does not say so:\n%s", msg)
	}
	reply, _ = d.ask(carol, "!silence #1 30d upgrading the array")
	wantSays(t, reply, "🔕 Silence #2: alerts matching `disk:/var`")
	reply, _ = d.ask(carol, "!silence backup:* 1h nightly job")
	wantSays(t, reply, "🔕 Silence #3: alerts matching `backup:*`", "It matches no open alert now")

	reply, _ = d.ask(dave, "!silences")
	wantSays(t, reply, "In force (times in UTC):", "http:web:down", "disk:/var", "backup:*", "Jun 01 14:00", "Jul 01 12:00",
		string(admin), string(carol), "web's being redeployed", "nightly job")
	rows := 0
	for line := range strings.Lines(reply.Plain) {
		if strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "# ") {
			rows++
		}
	}
	if rows != 3 {
		t.Errorf("!silences lists %d silences, want 3:\n%s", rows, reply.Plain)
	}

	var decisions []string
	if err := d.db.Audit.Each(t.Context(), func(e *state.AuditEntry) error {
		decisions = append(decisions, e.Action+" "+string(e.Actor)+" "+e.Arguments+" "+e.Detail)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := "silence.add @alice:example.org #1 http:web:down until 2025-06-01T14:00:00Z web's being redeployed, don't page"; len(decisions) == 0 || decisions[0] != want {
		t.Errorf("decision log = %q, want it to start with %q", decisions, want)
	}
}

func TestUnsilenceCommand(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	d.ask(admin, "!silence disk:* 2h moving backups")
	d.fire("disk", diskFull("/var"))
	if msg := d.replier.post(1); msg != "" {
		t.Fatalf("a silenced alert was posted: %q", msg)
	}

	for _, tt := range []struct{ body, want string }{
		{"!unsilence 9", "There is no silence #9 in force; !silences lists them."},
		{"!unsilence x", `"x" is not a silence number; !silences lists them.`},
		{"!unsilence", "Usage: !unsilence ID; !silences lists them."},
	} {
		reply, entry := d.ask(admin, tt.body)
		if reply.Plain != tt.want || entry.Outcome != state.OutcomeBadInput {
			t.Errorf("%s = %q (%s), want %q", tt.body, reply.Plain, entry.Outcome, tt.want)
		}
	}
	reply, _ := d.ask(carol, "!unsilence #1")
	if reply.Plain != "Ended silence #1; alerts it held back come out now." {
		t.Errorf("!unsilence #1 = %q", reply.Plain)
	}
	if s := d.silences(); len(s) != 0 {
		t.Errorf("silences after !unsilence: %+v", s)
	}
	if _, err := d.eng.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if msg := d.replier.post(1); !strings.Contains(msg, "Disk /var is 97% full") {
		t.Errorf("the held-back alert was not posted after !unsilence: %q", msg)
	}
	if reply, _ := d.ask(carol, "!unsilence 1"); reply.Plain != "There is no silence #1 in force; !silences lists them." {
		t.Errorf("second !unsilence 1 = %q", reply.Plain)
	}
	if reply, _ := d.ask(carol, "!silences"); reply.Plain != "No silences are in force." {
		t.Errorf("!silences with none = %q", reply.Plain)
	}
}

func TestMaintenanceCommand(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	for _, tt := range []struct{ body, want string }{
		{"!maintenance", "Usage: !maintenance DURATION REASON"},
		{"!maintenance 30m", "Usage: !maintenance DURATION REASON"},
		{"!maintenance upgrading the mail server", `"upgrading" is not a span of time`},
		{"!maintenance 31d upgrading the mail server", "31d is too long"},
	} {
		reply, entry := d.ask(admin, tt.body)
		if entry.Outcome != state.OutcomeBadInput || !strings.Contains(reply.Plain, tt.want) {
			t.Errorf("%s = %q (%s), want it to say %q", tt.body, reply.Plain, entry.Outcome, tt.want)
		}
	}
	if a := d.replier.announcements(); len(a) != 0 {
		t.Fatalf("announced after refused commands: %+v", a)
	}

	reply, _ := d.ask(admin, "!maintenance 30m upgrading the mail server")
	wantSays(t, reply, "🛠️ Maintenance #1 until 12:30 UTC: alerts are held back and the group room is told.", "`!unsilence 1` ends it early.")
	a := d.replier.announcements()
	if len(a) != 1 || a[0].Room != groupRoom {
		t.Fatalf("announcements = %+v, want one in the group room", a)
	}
	for _, want := range []string{"🛠️ Maintenance until", "12:30 UTC", "upgrading the mail server", "I'll say here when it is over."} {
		if !strings.Contains(a[0].Plain, want) {
			t.Errorf("announcement lacks %q:\n%s", want, a[0].Plain)
		}
	}
	s := d.silences()
	if len(s) != 1 || s[0].Matcher != "*" || !s[0].Maintenance {
		t.Errorf("silences = %+v, want a maintenance window over everything", s)
	}
	d.fire("http:web", webDown())
	if msg := d.replier.post(1); msg != "" {
		t.Errorf("an alert was posted during maintenance: %q", msg)
	}
	d.ask(admin, "!unsilence 1")
	if a := d.replier.announcements(); len(a) != 2 || a[1].Plain != "✅ Maintenance is over." || a[1].Room != groupRoom {
		t.Errorf("announcements after !unsilence = %+v, want \"✅ Maintenance is over.\" in the group room", a)
	}
}

func TestOnCallCommandWithoutRotation(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	for _, body := range []string{"!oncall", "!oncall take"} {
		reply, _ := d.ask(admin, body)
		wantSays(t, reply, "There is no on-call rotation", "calls every admin")
	}
}

func TestOnCallCommand(t *testing.T) {
	rotation := monitor.Rotation{Admins: []id.UserID{admin, carol, dave}, Weekday: time.Monday, Hour: 9, Zone: time.UTC}
	d := newAlertRig(t, rotation)
	now := d.clock.Now() // Sunday 1 June 2025, 12:00 UTC
	onDuty := rotation.At(now)
	handover := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	next := rotation.At(handover)
	var taker id.UserID
	for _, a := range rotation.Admins {
		if a != onDuty && a != next {
			taker = a
		}
	}
	if onDuty == next || taker == "" {
		t.Fatalf("bad test: on duty %s, next %s", onDuty, next)
	}

	reply, _ := d.ask(taker, "!oncall")
	wantSays(t, reply, "On duty: "+string(onDuty)+" until Mon 2 Jun 09:00 UTC.", "Next: "+string(next)+".",
		"Rotation: @alice:example.org, @carol:example.org, @dave:example.org.")
	if strings.Contains(reply.Plain, "Took over") {
		t.Errorf("!oncall shows a takeover nobody made:\n%s", reply.Plain)
	}
	if !strings.Contains(reply.HTML, `href="`+onDuty.URI().MatrixToURL()+`"`) {
		t.Errorf("the admin on duty is not a pill:\n%s", reply.HTML)
	}

	reply, entry := d.ask(taker, "!oncall take")
	if want := "🔁 " + string(taker) + " took over on-call duty from " + string(onDuty) + " until the handover at Mon 2 Jun 09:00 UTC."; reply.Plain != want || entry.Outcome != state.OutcomeOK {
		t.Errorf("!oncall take = %q (%s), want %q", reply.Plain, entry.Outcome, want)
	}
	duty, err := d.onCall.At(t.Context(), now)
	if err != nil || duty.Admin != taker {
		t.Errorf("on duty after !oncall take = %+v, %v; want %s", duty, err, taker)
	}
	reply, _ = d.ask(onDuty, "!oncall")
	wantSays(t, reply, "On duty: "+string(taker)+" until Mon 2 Jun 09:00 UTC.", "(Took over from "+string(onDuty)+".)")
	if reply, _ := d.ask(taker, "!oncall take"); !strings.HasPrefix(reply.Plain, "You are already on duty, until Mon 2 Jun 09:00 UTC.") {
		t.Errorf("second !oncall take = %q", reply.Plain)
	}
	if reply, entry := d.ask(taker, "!oncall now"); entry.Outcome != state.OutcomeBadInput || !strings.Contains(reply.Plain, "!oncall take") {
		t.Errorf("!oncall now = %q (%s), want usage", reply.Plain, entry.Outcome)
	}

	// The takeover lasts until the handover.
	d.clock.Advance(handover.Sub(now))
	reply, _ = d.ask(taker, "!oncall")
	wantSays(t, reply, "On duty: "+string(next)+" until Mon 9 Jun 09:00 UTC.")
	if strings.Contains(reply.Plain, "Took over") {
		t.Errorf("the takeover outlived the handover:\n%s", reply.Plain)
	}
}

func TestAlertCommandsAreForAdmins(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{Admins: []id.UserID{admin, carol}, Weekday: time.Monday, Hour: 9, Zone: time.UTC})
	d.fire("disk", diskFull("/var"))
	d.ask(admin, "!silence backup:* 1h nightly job")
	for _, body := range []string{
		"!ack 1", "!alerts", "!silence disk:* 2h full", "!silences", "!unsilence 1", "!maintenance 30m upgrading", "!oncall", "!oncall take",
	} {
		name, _, _ := strings.Cut(strings.TrimPrefix(body, "!"), " ")
		for _, room := range []id.RoomID{adminRoom, groupRoom} {
			replies, entry := d.send(member, room, body)
			reply := onlyReply(t, replies)
			if want := "Only admins can use `!" + name + "`."; reply.Plain != want || entry.Outcome != state.OutcomeRefused {
				t.Errorf("%s from a member in %s = %q (%s), want %q (%s)", body, room, reply.Plain, entry.Outcome, want, state.OutcomeRefused)
			}
		}
	}
	if a := d.alert(1); a.AckedBy != "" {
		t.Errorf("a member took #1")
	}
	if s := d.silences(); len(s) != 1 || s[0].Matcher != "backup:*" {
		t.Errorf("silences = %+v, want the admin's only", s)
	}
	if a := d.replier.announcements(); len(a) != 0 {
		t.Errorf("a member's command reached the group room: %+v", a)
	}
	if duty, err := d.onCall.At(t.Context(), d.clock.Now()); err != nil || duty.TookOver {
		t.Errorf("a member took over on-call duty: %+v, %v", duty, err)
	}
}

// A storm of a thousand alerts from Alertmanager is listed in one message the
// homeserver takes (it refused the 408 KB of a thousand rows): the first of them,
// fewer when their summaries are long and heavy to escape, and how many more.
func TestAlertsCommandInAStorm(t *testing.T) {
	for _, tt := range []struct {
		name, summary string
		listed        int
	}{
		{"ordinary summaries", "TargetDown on host%04d.example.org:9100", 50},
		{"summaries heavy to escape", "TargetDown on host%04d.example.org:9100 <" + strings.Repeat("&", 150) + ">", 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := newAlertRig(t, monitor.Rotation{})
			obs := make([]monitor.Observation, 0, 1000)
			for i := range 1000 {
				obs = append(obs, monitor.Observation{
					Fingerprint: fmt.Sprintf("am:%016x", i), Subject: "TargetDown", Severity: state.SeverityWarning,
					Summary: fmt.Sprintf(tt.summary, i),
				})
			}
			if err := d.eng.Report(t.Context(), "alertmanager", obs, nil); err != nil {
				t.Fatal(err)
			}
			reply, _ := d.ask(admin, "!alerts")
			wantSays(t, reply, "1000 firing (times in UTC):", "host0000.example.org", fmt.Sprintf("#%d ", tt.listed),
				fmt.Sprintf("…and %d more, the newest, not listed.", 1000-tt.listed))
			if size := contentSize(t, reply); size > render.MaxContent {
				t.Errorf("the reply takes %d bytes, over %d", size, render.MaxContent)
			}
		})
	}
}

// contentSize is the JSON of a reply's content as the outbox queues it.
func contentSize(t *testing.T, reply sentReply) int {
	t.Helper()
	data, err := json.Marshal(&event.MessageEventContent{
		MsgType: event.MsgNotice, Body: reply.Plain, Format: event.FormatHTML, FormattedBody: reply.HTML,
		Mentions: &event.Mentions{}, RelatesTo: (&event.RelatesTo{}).SetReplyTo("$an_event_id_as_long_as_the_homeserver_makes_one"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(data)
}

// sent marks the fake messenger's post msgID as sent as eventID in the outbox, as the
// bot's sender would, so that a reaction can point at it (the fake numbers posts from
// 1 like the outbox).
func (d *alertRig) sent(msgID int64, eventID id.EventID) {
	d.t.Helper()
	ctx := d.t.Context()
	for {
		got, err := d.db.Outbox.Add(ctx, adminRoom, event.EventMessage, render.New("alert").Notice(), "")
		if err != nil {
			d.t.Fatal(err)
		}
		if got == msgID {
			if err = d.db.Outbox.MarkSent(ctx, got, eventID); err != nil {
				d.t.Fatal(err)
			}
			return
		}
		if got > msgID {
			d.t.Fatalf("message %d is not ahead of the outbox (at %d)", msgID, got)
		}
	}
}

// TestAckByReactionNeedsVerifiedDevice: a 👀 on an alert stops its escalation, so like
// !ack it needs a device its owner cross-signed, and an encrypted reaction (one in
// clear names no device). Refused, it leaves the alert untaken, is logged every time
// and explained once per admin and alert; a 👀 elsewhere stays ignored; with
// require_verified_devices off, any 👀 takes it.
func TestAckByReactionNeedsVerifiedDevice(t *testing.T) {
	react := func(d *alertRig, sender id.UserID, encrypted bool, trust id.TrustState, on id.EventID) string {
		in := d.input(sender, adminRoom, "👀")
		in.Encrypted, in.Trust = encrypted, trust
		if !encrypted {
			in.DeviceID = ""
		}
		return d.proc.HandleReaction(d.t.Context(), in, on)
	}
	t.Run("refused", func(t *testing.T) {
		d := newAlertRig(t, monitor.Rotation{})
		d.fire("disk", diskFull("/var"))
		d.sent(1, "$alert")
		d.replier.take()

		for i, tt := range []struct {
			sender    id.UserID
			encrypted bool
			why       string
		}{
			{sender: admin, encrypted: true, why: "your device `" + string(device) + "` is not verified"},
			{sender: admin, encrypted: true},
			{sender: carol, why: "the reaction was not encrypted, so I can't tell which device sent it"},
		} {
			trust := id.TrustStateUnknownDevice
			if !tt.encrypted {
				trust = id.TrustStateUnset
			}
			if got := react(d, tt.sender, tt.encrypted, trust, "$alert"); got != state.OutcomeRefused {
				t.Errorf("reaction %d: outcome %q, want refused", i+1, got)
			}
			replies := d.replier.take()
			switch {
			case tt.why == "" && len(replies) != 0:
				t.Errorf("reaction %d, the admin's second: explained again: %+v", i+1, replies)
			case tt.why != "" && (len(replies) != 1 || !strings.Contains(replies[0].Plain, tt.why) || !strings.Contains(replies[0].Plain, "did not take this alert")):
				t.Errorf("reaction %d: replies %+v, want one saying %q", i+1, replies, tt.why)
			}
			if entry := d.audit.last(); entry == nil || entry.Action != "alert.ack" || entry.Outcome != state.OutcomeRefused || entry.Actor != tt.sender {
				t.Errorf("reaction %d: decision log %+v, want a refused alert.ack by %s", i+1, entry, tt.sender)
			}
		}
		if a := d.alert(1); a.AckedBy != "" {
			t.Errorf("#1 taken by %s from an unverified reaction", a.AckedBy)
		}
		if got := react(d, admin, true, id.TrustStateUnknownDevice, "$elsewhere"); got != state.OutcomeIgnored || len(d.replier.take()) != 0 {
			t.Errorf("a 👀 on a message that shows no alert: outcome %q, want ignored and no reply", got)
		}
		if got := react(d, admin, true, id.TrustStateCrossSignedTOFU, "$alert"); got != state.OutcomeOK || d.alert(1).AckedBy != admin {
			t.Errorf("a verified 👀: outcome %q, taken by %q; want it taken by %s", got, d.alert(1).AckedBy, admin)
		}
	})
	t.Run("not required", func(t *testing.T) {
		d := newAlertRig(t, monitor.Rotation{})
		d.settings.RequireVerified = false
		deps := d.deps()
		deps.Acks = d.eng
		d.proc = commands.NewProcessor(d.settings, d.registry, deps)
		d.fire("disk", diskFull("/var"))
		d.sent(1, "$alert")
		if got := react(d, carol, false, id.TrustStateUnset, "$alert"); got != state.OutcomeOK || d.alert(1).AckedBy != carol {
			t.Errorf("an unencrypted 👀 with require_verified_devices off: outcome %q, taken by %q; want it taken by %s", got, d.alert(1).AckedBy, carol)
		}
	})
}
