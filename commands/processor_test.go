package commands_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// groupCommands is a registry with one command per kind: hello for members, peek for
// admins (both read-only), mute for admins (changes something), wipe for admins and
// destructive, plus the general builtins. Each test command counts its runs in p.
func groupCommands(p *probe) *commands.Registry {
	return commands.NewRegistry(
		commands.CommandHelp,
		commands.CommandPing,
		commands.CommandWhoami,
		commands.Builtin(commands.Features{}).Lookup("status"),
		p.command("hello", commands.RoleMember, false, nil),
		p.command("peek", commands.RoleAdmin, false, nil),
		p.changing("mute", commands.RoleAdmin),
		p.command("wipe", commands.RoleAdmin, true, nil),
	)
}

func TestWhoMayRunWhat(t *testing.T) {
	tests := []struct {
		name   string
		sender id.UserID
		// joinGroup additionally joins sender to the group room.
		joinGroup bool
		room      id.RoomID
		body      string
		wantRun   bool
		outcome   string
		// reply is a part of the one expected reply; "" means no reply at all.
		reply string
	}{
		{name: "admin runs admin command in admin room", sender: admin, room: adminRoom, body: "!peek", wantRun: true, outcome: state.OutcomeOK},
		{name: "admin runs member command in group room", sender: admin, room: groupRoom, body: "!hello", wantRun: true, outcome: state.OutcomeOK},
		{name: "member runs member command in group room", sender: member, room: groupRoom, body: "!hello", wantRun: true, outcome: state.OutcomeOK},
		{name: "command name is case-insensitive", sender: member, room: groupRoom, body: "!HELLO", wantRun: true, outcome: state.OutcomeOK},
		{name: "member runs admin command in group room", sender: member, room: groupRoom, body: "!peek",
			outcome: state.OutcomeRefused, reply: "Only admins can use `!peek`"},
		{name: "member runs admin command in admin room", sender: member, room: adminRoom, body: "!peek",
			outcome: state.OutcomeRefused, reply: "Only admins can use `!peek`"},
		{name: "admin runs admin command in group room", sender: admin, room: groupRoom, body: "!peek",
			outcome: state.OutcomeRefused, reply: "in the admin room"},
		{name: "stranger gets no answer", sender: stranger, room: groupRoom, body: "!hello", outcome: state.OutcomeRefused},
		{name: "stranger gets no answer to unknown command", sender: stranger, room: groupRoom, body: "!nope", outcome: state.OutcomeRefused},
		{name: "admin's name on another server is a stranger", sender: "@alice:evil.org", room: adminRoom, body: "!peek", outcome: state.OutcomeRefused},
		{name: "admin's name on another server, joined, is only a member", sender: "@alice:evil.org", joinGroup: true, room: groupRoom, body: "!peek",
			outcome: state.OutcomeRefused, reply: "Only admins can use"},
		{name: "admin's name with different case is not the admin", sender: "@Alice:example.org", room: adminRoom, body: "!peek", outcome: state.OutcomeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &probe{}
			h := newHarness(t, groupCommands(p), func(h *harness) {
				if tt.joinGroup {
					h.rooms.joined[groupRoom] = append(h.rooms.joined[groupRoom], tt.sender)
				}
			})
			replies, entry := h.send(tt.sender, tt.room, tt.body)

			if ran := p.runs > 0; ran != tt.wantRun {
				t.Errorf("command ran: %v, want %v", ran, tt.wantRun)
			}
			if entry.Outcome != tt.outcome {
				t.Errorf("audit outcome %q, want %q", entry.Outcome, tt.outcome)
			}
			wantAction := "command." + strings.ToLower(strings.TrimPrefix(tt.body, "!"))
			if entry.Action != wantAction || entry.Actor != tt.sender || entry.RoomID != tt.room {
				t.Errorf("audit entry %q by %s in %s, want %q by %s in %s", entry.Action, entry.Actor, entry.RoomID, wantAction, tt.sender, tt.room)
			}
			if tt.reply == "" {
				if len(replies) != 0 {
					t.Errorf("got replies %+v, want none", replies)
				}
				return
			}
			if got := onlyReply(t, replies); !strings.Contains(got.Plain, tt.reply) {
				t.Errorf("reply %q does not contain %q", got.Plain, tt.reply)
			}
		})
	}
}

func TestReplyGoesToTheCommand(t *testing.T) {
	h := newHarness(t, commands.NewRegistry(commands.CommandPing))
	in := h.input(member, groupRoom, "!ping")
	in.ThreadRoot = "$thread"
	got := onlyReply(t, first(h.handle(in)))
	if got.Room != groupRoom || got.ReplyTo != in.EventID || got.ThreadRoot != "$thread" {
		t.Errorf("reply went to room %s, replying to %s in thread %s; want %s, %s, $thread", got.Room, got.ReplyTo, got.ThreadRoot, groupRoom, in.EventID)
	}
}

func first[A, B any](a A, _ B) A { return a }

func TestStaleCommandIsNotRun(t *testing.T) {
	tests := []struct {
		age     time.Duration
		wantRun bool
		// reply is a part of the expected reply, when the command is not run.
		reply string
	}{
		{age: 9 * time.Minute, wantRun: true},
		{age: 10*time.Minute + time.Second, reply: "(10 minutes ago)"},
		{age: 150 * time.Minute, reply: "was sent at 2025-06-01 09:30 UTC (2h30m ago), while I could not read it, so I did not run it."},
		{age: 72 * time.Hour, reply: "(3 days ago)"},
	}
	for _, tt := range tests {
		t.Run(tt.age.String(), func(t *testing.T) {
			p := &probe{}
			h := newHarness(t, groupCommands(p))
			in := h.input(admin, adminRoom, "!peek")
			in.SentAt = h.clock.Now().Add(-tt.age)
			replies, entry := h.handle(in)
			if tt.wantRun {
				if p.runs != 1 || entry.Outcome != state.OutcomeOK {
					t.Errorf("a command %s old: ran %d times, outcome %q; want it run", tt.age, p.runs, entry.Outcome)
				}
				return
			}
			if p.runs != 0 {
				t.Errorf("stale command ran")
			}
			if entry.Outcome != state.OutcomeStale {
				t.Errorf("audit outcome %q, want %q", entry.Outcome, state.OutcomeStale)
			}
			got := onlyReply(t, replies)
			if !strings.Contains(got.Plain, "did not run it") || !strings.Contains(got.Plain, tt.reply) {
				t.Errorf("reply %q, want it to say it did not run it and %q", got.Plain, tt.reply)
			}
		})
	}
}

func TestUnencryptedAdminRoom(t *testing.T) {
	unencryptedAdminRoom := func(h *harness) { h.rooms.unencrypted[adminRoom] = true }

	t.Run("refused, explained once", func(t *testing.T) {
		p := &probe{}
		h := newHarness(t, groupCommands(p), unencryptedAdminRoom)
		var explanations int
		for i := range 3 {
			if i == 2 {
				h.restart() // the explanation is remembered across restarts
			}
			in := h.input(admin, adminRoom, "!peek")
			in.Encrypted = false
			replies, entry := h.handle(in)
			if entry.Outcome != state.OutcomeRefused {
				t.Errorf("command %d: outcome %q, want %q", i+1, entry.Outcome, state.OutcomeRefused)
			}
			for _, r := range replies {
				if !strings.Contains(r.Plain, "not end-to-end encrypted") {
					t.Errorf("unexpected reply %q", r.Plain)
				}
				explanations++
			}
		}
		if p.runs != 0 {
			t.Errorf("command ran %d times in an unencrypted admin room", p.runs)
		}
		if explanations != 1 {
			t.Errorf("explained %d times, want once", explanations)
		}
	})

	t.Run("allowed by config", func(t *testing.T) {
		p := &probe{}
		h := newHarness(t, groupCommands(p), unencryptedAdminRoom, func(h *harness) { h.settings.AllowUnencrypted = true })
		in := h.input(admin, adminRoom, "!peek")
		in.Encrypted = false
		replies, entry := h.handle(in)
		if p.runs != 1 || entry.Outcome != state.OutcomeOK || len(replies) != 0 {
			t.Errorf("ran %d times, outcome %q, replies %+v; want it run quietly", p.runs, entry.Outcome, replies)
		}
	})
}

// TestChangingCommandNeedsVerifiedDevice: whatever changes something (mute, and the
// destructive wipe) runs only from an encrypted message of a device its owner
// cross-signed, and the sender reads why not and what to do; what only reads (peek)
// runs from any device.
func TestChangingCommandNeedsVerifiedDevice(t *testing.T) {
	tests := []struct {
		name             string
		body             string
		trust            id.TrustState
		unencrypted      bool
		notRequired      bool
		allowUnencrypted bool
		wantRun          bool
		reply            []string
	}{
		{name: "destructive, unknown device", body: "!wipe", trust: id.TrustStateUnknownDevice,
			reply: []string{"`!wipe` changes something, so it must come from a device you have verified; I did not run it", "Your device `" + string(device) + "` is not cross-signed: verify it"}},
		{name: "changing, unknown device", body: "!mute", trust: id.TrustStateUnknownDevice,
			reply: []string{"`!mute` changes something", "`" + string(device) + "` is not cross-signed"}},
		{name: "changing, device cross-signed by an identity reset since", body: "!mute", trust: id.TrustStateCrossSignedUntrusted,
			reply: []string{"`" + string(device) + "` is signed by a cross-signing identity of yours that is not the one I first saw"}},
		{name: "changing, cross-signed, identity trusted on first use", body: "!mute", trust: id.TrustStateCrossSignedTOFU, wantRun: true},
		{name: "destructive, cross-signed, identity verified", body: "!wipe", trust: id.TrustStateCrossSignedVerified, wantRun: true},
		{name: "verification not required", body: "!mute", trust: id.TrustStateUnknownDevice, notRequired: true, wantRun: true},
		{name: "read-only command from unknown device", body: "!peek", trust: id.TrustStateUnknownDevice, wantRun: true},
		{name: "read-only command unencrypted", body: "!peek", trust: id.TrustStateUnset, unencrypted: true, allowUnencrypted: true, wantRun: true},
		{name: "unencrypted message claims trust", body: "!mute", trust: id.TrustStateCrossSignedVerified, unencrypted: true, allowUnencrypted: true,
			reply: []string{"was not encrypted, so I can't tell which device sent it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &probe{}
			h := newHarness(t, groupCommands(p), func(h *harness) {
				h.settings.RequireVerified = !tt.notRequired
				h.settings.AllowUnencrypted = tt.allowUnencrypted
				h.rooms.unencrypted[adminRoom] = tt.unencrypted
			})
			in := h.input(admin, adminRoom, tt.body)
			in.Trust = tt.trust
			in.Encrypted = !tt.unencrypted
			replies, entry := h.handle(in)
			if tt.wantRun {
				if p.runs != 1 || entry.Outcome != state.OutcomeOK || len(replies) != 0 {
					t.Errorf("ran %d times, outcome %q, replies %+v; want it run", p.runs, entry.Outcome, replies)
				}
				return
			}
			if p.runs != 0 || entry.Outcome != state.OutcomeRefused {
				t.Errorf("ran %d times, outcome %q; want it refused", p.runs, entry.Outcome)
			}
			got := onlyReply(t, replies)
			for _, want := range tt.reply {
				if !strings.Contains(got.Plain, want) {
					t.Errorf("reply %q does not contain %q", got.Plain, want)
				}
			}
			if entry.Detail != got.Plain {
				t.Errorf("decision log detail %q, want the reply %q", entry.Detail, got.Plain)
			}
		})
	}
}

func TestUnknownCommandPointsToHelp(t *testing.T) {
	h := newHarness(t, groupCommands(&probe{}))
	replies, entry := h.send(member, groupRoom, "!frobnicate now")
	got := onlyReply(t, replies)
	if got.Plain != "I don't know the command `!frobnicate`. Send `!help` for the list." {
		t.Errorf("reply %q", got.Plain)
	}
	if entry.Outcome != state.OutcomeUnknown || entry.Action != "command.frobnicate" {
		t.Errorf("audit %q %q, want %q command.frobnicate", entry.Outcome, entry.Action, state.OutcomeUnknown)
	}
}

func TestUnreadableCommandLine(t *testing.T) {
	tests := []struct{ body, reply string }{
		{body: `!hello "unclosed`, reply: "I couldn't read that command: a quote is not closed."},
		{body: `!hello trailing\`, reply: "I couldn't read that command: the line ends with a lone backslash."},
	}
	for _, tt := range tests {
		p := &probe{}
		h := newHarness(t, groupCommands(p))
		replies, entry := h.send(member, groupRoom, tt.body)
		if got := onlyReply(t, replies); got.Plain != tt.reply {
			t.Errorf("%s: reply %q, want %q", tt.body, got.Plain, tt.reply)
		}
		if p.runs != 0 || entry.Outcome != state.OutcomeBadInput {
			t.Errorf("%s: ran %d times, outcome %q; want not run, %q", tt.body, p.runs, entry.Outcome, state.OutcomeBadInput)
		}
	}
}

func TestPanicIsContained(t *testing.T) {
	p := &probe{}
	boom := p.command("boom", commands.RoleMember, false, func(context.Context, *commands.Event) error {
		panic("secret panic text: password=hunter2")
	})
	h := newHarness(t, commands.NewRegistry(boom, commands.CommandPing))

	replies, entry := h.send(member, groupRoom, "!boom")
	got := onlyReply(t, replies)
	if !strings.Contains(got.Plain, "Something went wrong while running `!boom`") {
		t.Errorf("reply %q, want it to say something went wrong", got.Plain)
	}
	if strings.Contains(got.Plain+got.HTML, "hunter2") || strings.Contains(got.Plain+got.HTML, "panic") {
		t.Errorf("reply leaks the panic: %q", got.Plain)
	}
	if entry.Outcome != state.OutcomeError {
		t.Errorf("audit outcome %q, want %q", entry.Outcome, state.OutcomeError)
	}

	replies, entry = h.send(member, groupRoom, "!ping")
	if got := onlyReply(t, replies); !strings.HasPrefix(got.Plain, "Pong!") || entry.Outcome != state.OutcomeOK {
		t.Errorf("after a panic, !ping answered %q with outcome %q", got.Plain, entry.Outcome)
	}
}

func TestErrorsReachTheRoomOnlyWhenMeantFor(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		reply   string
		outcome string
	}{
		{name: "usage error", err: commands.UserErrorf("bad thing: %d", 42), reply: "bad thing: 42", outcome: state.OutcomeBadInput},
		{name: "wrapped usage error", err: fmt.Errorf("check args: %w", commands.UserErrorf("bad thing")), reply: "bad thing", outcome: state.OutcomeBadInput},
		{name: "internal error", err: errors.New("secret internal detail"),
			reply: "Something went wrong while running `!fail`; the details are in Steward's log.", outcome: state.OutcomeError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &probe{}
			fail := p.command("fail", commands.RoleMember, false, func(context.Context, *commands.Event) error { return tt.err })
			h := newHarness(t, commands.NewRegistry(fail))
			replies, entry := h.send(member, groupRoom, "!fail")
			got := onlyReply(t, replies)
			if got.Plain != tt.reply {
				t.Errorf("reply %q, want %q", got.Plain, tt.reply)
			}
			if strings.Contains(got.Plain+got.HTML, "secret internal detail") {
				t.Errorf("reply leaks the internal error: %q", got.HTML)
			}
			if entry.Outcome != tt.outcome {
				t.Errorf("audit outcome %q, want %q", entry.Outcome, tt.outcome)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	p := &probe{}
	h := newHarness(t, groupCommands(p), func(h *harness) {
		// Two at once, then one a minute.
		h.limiter = commands.NewLimiter(2, 1, h.clock.Now)
	})
	type step struct {
		sender  id.UserID
		advance time.Duration
		outcome string
		reply   string // part of the one expected reply; "" for none
	}
	steps := []step{
		{sender: member, outcome: state.OutcomeOK},
		{sender: member, outcome: state.OutcomeOK},
		{sender: member, outcome: state.OutcomeRateLimited, reply: "faster than I take them"},
		{sender: member, outcome: state.OutcomeRateLimited},
		{sender: admin, outcome: state.OutcomeOK},
		{sender: member, advance: 30 * time.Second, outcome: state.OutcomeRateLimited},
		{sender: member, advance: 31 * time.Second, outcome: state.OutcomeOK},
		// A new burst is a new episode, announced again.
		{sender: member, outcome: state.OutcomeRateLimited, reply: "faster than I take them"},
		{sender: member, outcome: state.OutcomeRateLimited},
	}
	for i, s := range steps {
		h.clock.Advance(s.advance)
		room := groupRoom
		replies, entry := h.send(s.sender, room, "!hello")
		if entry.Outcome != s.outcome {
			t.Errorf("step %d (%s): outcome %q, want %q", i+1, s.sender, entry.Outcome, s.outcome)
		}
		switch {
		case s.reply == "" && len(replies) != 0:
			t.Errorf("step %d (%s): got replies %+v, want none", i+1, s.sender, replies)
		case s.reply != "" && (len(replies) != 1 || !strings.Contains(replies[0].Plain, s.reply)):
			t.Errorf("step %d (%s): got replies %+v, want one saying %q", i+1, s.sender, replies, s.reply)
		}
	}
	if p.runs != 4 {
		t.Errorf("command ran %d times, want 4", p.runs)
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		name    string
		sender  id.UserID
		room    id.RoomID
		body    string
		outcome string
		want    []string
		notWant []string
	}{
		{name: "member's list", sender: member, room: groupRoom, body: "!help", outcome: state.OutcomeOK,
			want:    []string{"Commands you can use:\nGeneral\n• ", "`!help [COMMAND]` — Show the commands you can use", "`!ping`", "`!whoami`", "`!hello`"},
			notWant: []string{"`!peek`", "`!wipe`", "`!status`", "Host"}},
		{name: "admin's list", sender: admin, room: adminRoom, body: "!help", outcome: state.OutcomeOK,
			want: []string{"General", "`!hello`", "`!peek`", "`!wipe` — Test command wipe (needs a verified device)",
				"Host\n• `!status` — Show the host's uptime, load, memory and disk use"}},
		{name: "alias", sender: member, room: groupRoom, body: "!commands", outcome: state.OutcomeOK,
			want: []string{"Commands you can use:", "`!ping`"}},
		{name: "one command", sender: member, room: groupRoom, body: "!help ping", outcome: state.OutcomeOK,
			want: []string{"`!ping` — Check that Steward answers, and how long your message took to reach it"}},
		{name: "one command with aliases", sender: member, room: groupRoom, body: "!help help", outcome: state.OutcomeOK,
			want: []string{"`!help [COMMAND]` — Show the commands you can use\nAlso: `!commands`"}},
		{name: "admin command for a member", sender: member, room: groupRoom, body: "!help status", outcome: state.OutcomeBadInput,
			want: []string{`There is no command "status" that you can use. Send !help for the list.`}, notWant: []string{"uptime"}},
		{name: "no such command", sender: member, room: groupRoom, body: "!help frobnicate", outcome: state.OutcomeBadInput,
			want: []string{`There is no command "frobnicate"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, groupCommands(&probe{}))
			replies, entry := h.send(tt.sender, tt.room, tt.body)
			if entry.Outcome != tt.outcome || entry.Action != "command.help" {
				t.Errorf("audit %q %q, want %q command.help", entry.Outcome, entry.Action, tt.outcome)
			}
			got := onlyReply(t, replies)
			for _, w := range tt.want {
				if !strings.Contains(got.Plain, w) {
					t.Errorf("help does not contain %q:\n%s", w, got.Plain)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got.Plain, w) {
					t.Errorf("help contains %q:\n%s", w, got.Plain)
				}
			}
		})
	}
}

func TestHelpEscapesUserInput(t *testing.T) {
	h := newHarness(t, groupCommands(&probe{}))
	replies, _ := h.send(member, groupRoom, `!help <script>alert(1)</script>`)
	got := onlyReply(t, replies)
	if strings.Contains(got.HTML, "<script>") {
		t.Errorf("help HTML contains unescaped user input: %s", got.HTML)
	}
	if !strings.Contains(got.HTML, "&lt;script&gt;") {
		t.Errorf("help HTML lost the escaped input: %s", got.HTML)
	}
}

func TestPingReportsDelay(t *testing.T) {
	tests := []struct {
		delay time.Duration
		want  string
	}{
		{delay: 250 * time.Millisecond, want: "Pong! Your message took 250 ms to reach me."},
		{delay: 9999 * time.Millisecond, want: "Pong! Your message took 9999 ms to reach me."},
		{delay: 12345 * time.Millisecond, want: "Pong! Your message took 12.3s to reach me."},
		// The sender's server clock may run ahead of ours.
		{delay: -2 * time.Second, want: "Pong! Your message took 0 ms to reach me."},
	}
	for _, tt := range tests {
		h := newHarness(t, commands.NewRegistry(commands.CommandPing))
		in := h.input(member, groupRoom, "!ping")
		in.ReceivedAt = in.SentAt.Add(tt.delay)
		replies, _ := h.handle(in)
		if got := onlyReply(t, replies); got.Plain != tt.want {
			t.Errorf("delay %s: reply %q, want %q", tt.delay, got.Plain, tt.want)
		}
	}
}

func TestWhoami(t *testing.T) {
	tests := []struct {
		name        string
		sender      id.UserID
		room        id.RoomID
		trust       id.TrustState
		unencrypted bool
		want        string
	}{
		{name: "verified admin", sender: admin, room: adminRoom, trust: id.TrustStateCrossSignedTOFU,
			want: "You are @alice:example.org, admin. Your device `BOBPHONE` is verified (cross-signed by you)."},
		{name: "unverified member", sender: member, room: groupRoom, trust: id.TrustStateUnknownDevice,
			want: "You are @bob:example.org, member. Your device `BOBPHONE` is not verified: verify it from another of your sessions to use commands that change things."},
		{name: "member after a reset", sender: member, room: groupRoom, trust: id.TrustStateCrossSignedUntrusted,
			want: "You are @bob:example.org, member. Your device `BOBPHONE` is signed by a cross-signing identity of yours that is not the one I first saw (was it reset?). An admin's `!trust @bob:example.org`, approved by another admin, makes me trust it."},
		{name: "unencrypted member", sender: member, room: groupRoom, trust: id.TrustStateCrossSignedVerified, unencrypted: true,
			want: "You are @bob:example.org, member. Your message was not encrypted, so I can't tell which device sent it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, commands.NewRegistry(commands.CommandWhoami), func(h *harness) {
				h.rooms.unencrypted[tt.room] = tt.unencrypted
			})
			in := h.input(tt.sender, tt.room, "!whoami")
			in.Trust = tt.trust
			in.Encrypted = !tt.unencrypted
			replies, _ := h.handle(in)
			got := onlyReply(t, replies)
			if got.Plain != tt.want {
				t.Errorf("reply %q, want %q", got.Plain, tt.want)
			}
			if pill := `<a href="https://matrix.to/#/` + string(tt.sender) + `">`; !strings.Contains(got.HTML, pill) {
				t.Errorf("HTML %s does not mention the sender with a pill", got.HTML)
			}
		})
	}
}

func TestCommandOutputIsEscaped(t *testing.T) {
	p := &probe{}
	echo := p.command("echo", commands.RoleMember, false, func(ctx context.Context, ce *commands.Event) error {
		return ce.Reply(ctx, render.New(ce.RawArgs))
	})
	h := newHarness(t, commands.NewRegistry(echo))
	replies, _ := h.send(member, groupRoom, `!echo <b onmouseover="x()">hi</b> & "bye"`)
	got := onlyReply(t, replies)
	if got.Plain != `<b onmouseover="x()">hi</b> & "bye"` {
		t.Errorf("plain reply %q", got.Plain)
	}
	if got.HTML != `&lt;b onmouseover=&#34;x()&#34;&gt;hi&lt;/b&gt; &amp; &#34;bye&#34;` {
		t.Errorf("HTML reply %q", got.HTML)
	}
}

func TestCommandSeesItsArguments(t *testing.T) {
	p := &probe{}
	h := newHarness(t, commands.NewRegistry(p.command("hello", commands.RoleMember, false, nil)))
	in := h.input(admin, groupRoom, `!hello web "two words"`)
	in.Trust = id.TrustStateUnknownDevice
	h.handle(in)
	ce := p.last
	if ce == nil {
		t.Fatal("command did not run")
	}
	if len(ce.Args) != 2 || ce.Args[0] != "web" || ce.Args[1] != "two words" || ce.RawArgs != `web "two words"` {
		t.Errorf("args %q raw %q", ce.Args, ce.RawArgs)
	}
	if ce.Role != commands.RoleAdmin || ce.Verified() || ce.Sender != admin || ce.DeviceID != device || ce.Command.Name != "hello" {
		t.Errorf("event: role %s verified %v sender %s device %s", ce.Role, ce.Verified(), ce.Sender, ce.DeviceID)
	}
}

func TestStatusShowsHost(t *testing.T) {
	h := newHarness(t, commands.Builtin(commands.Features{Disks: []string{"/", "/no/such/disk"}}))
	replies, entry := h.send(admin, adminRoom, "!status")
	if entry.Outcome != state.OutcomeOK {
		t.Fatalf("outcome %q, replies %+v", entry.Outcome, replies)
	}
	got := onlyReply(t, replies)
	for _, want := range []string{"Memory: ", "Disk", "/no/such/disk  unreadable"} {
		if !strings.Contains(got.Plain, want) {
			t.Errorf("status does not contain %q:\n%s", want, got.Plain)
		}
	}
	if !strings.Contains(got.HTML, "<table>") {
		t.Errorf("status HTML has no table: %s", got.HTML)
	}
}

// TestPlaintextInEncryptedRoomIsRefused: only the homeserver can put a clear-text
// message into an encrypted room, so such a command is never run, not even with
// allow_unencrypted, and gets no answer.
func TestPlaintextInEncryptedRoomIsRefused(t *testing.T) {
	for _, allow := range []bool{false, true} {
		p := &probe{}
		h := newHarness(t, groupCommands(p), func(h *harness) { h.settings.AllowUnencrypted = allow })
		in := h.input(admin, adminRoom, "!peek")
		in.Encrypted = false
		replies, entry := h.handle(in)
		if p.runs != 0 || entry.Outcome != state.OutcomeRefused || len(replies) != 0 {
			t.Errorf("allow_unencrypted=%v: ran %d times, outcome %q, %d replies; want refused silently", allow, p.runs, entry.Outcome, len(replies))
		}
	}
}
