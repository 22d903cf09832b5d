package commands

import (
	"context"
	"fmt"
	"github.com/steward-bot/steward/policy"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
)

// CommandHelp lists what the asker may run, generated from the declarations so that
// help can never drift from what is accepted.
var CommandHelp = &Command{
	Name:    "help",
	Aliases: []string{"commands"},
	Section: SectionGeneral,
	Help:    "Show the commands you can use",
	Args:    "[COMMAND]",
	Role:    RoleMember,
	Effect:  ReadsOnly,
	Func: func(ctx context.Context, ce *Event) error {
		p := ce.proc
		if len(ce.Args) > 0 {
			cmd := p.registry.Lookup(strings.TrimPrefix(strings.ToLower(ce.Args[0]), p.settings.Prefix))
			if cmd == nil || !p.usableHere(ce, cmd) {
				return UserErrorf("There is no command %q that you can use. Send %shelp for the list.", ce.Args[0], p.settings.Prefix)
			}
			return ce.Reply(ctx, p.describe(cmd, true))
		}
		msg := render.New("Commands you can use:")
		for _, section := range sectionOrder {
			var items []*render.Message
			for _, cmd := range p.registry.All() {
				if cmd.Section == section && p.usableHere(ce, cmd) {
					items = append(items, p.describe(cmd, false))
				}
			}
			if len(items) > 0 {
				msg.Heading(string(section)).List(items...)
			}
		}
		if ce.Role == RoleAdmin && ce.RoomID != p.settings.AdminRoom {
			msg.Text("Admin commands are listed when you ask in the admin room.")
		}
		return ce.Reply(ctx, msg)
	},
}

// usableHere reports whether the asker of ce may use cmd in ce's room, so help lists
// exactly what would be accepted there.
func (p *Processor) usableHere(ce *Event, cmd *Command) bool {
	return cmd.Role <= ce.Role && (cmd.Role < RoleAdmin || ce.RoomID == p.settings.AdminRoom)
}

// describe renders one command's synopsis and help line.
func (p *Processor) describe(cmd *Command, long bool) *render.Message {
	msg, prefix := new(render.Message), p.settings.Prefix
	synopsis := prefix + cmd.Name
	if cmd.Args != "" {
		synopsis += " " + cmd.Args
	}
	msg.Code(synopsis).Text(" — " + cmd.Help)
	var needs []string
	if cmd.Effect == Changes && p.settings.RequireVerified {
		if cmd.ReadsWith != nil {
			needs = append(needs, "a verified device to change anything")
		} else {
			needs = append(needs, "a verified device")
		}
	}
	switch needed := p.registry.PolicyOf(cmd); needed.Kind {
	case policy.Confirm:
		needs = append(needs, "your confirmation")
	case policy.SecondAdmin:
		needs = append(needs, "another admin's approval")
	case policy.Quorum:
		needs = append(needs, fmt.Sprintf("the approval of %d other admins", needed.N))
	}
	if len(needs) > 0 {
		msg.Text(" (needs " + strings.Join(needs, " and ") + ")")
	}
	if long && len(cmd.Aliases) > 0 {
		msg.Line().Text("Also: ")
		for i, alias := range cmd.Aliases {
			if i > 0 {
				msg.Text(", ")
			}
			msg.Code(prefix + alias)
		}
	}
	return msg
}

// CommandPing shows that Steward is listening and how long the message took to arrive.
var CommandPing = &Command{
	Name:    "ping",
	Section: SectionGeneral,
	Help:    "Check that Steward answers, and how long your message took to reach it",
	Role:    RoleMember,
	Effect:  ReadsOnly,
	Func: func(ctx context.Context, ce *Event) error {
		delay := max(ce.ReceivedAt.Sub(ce.SentAt), 0)
		return ce.Reply(ctx, render.New("Pong! Your message took ").Bold(formatLatency(delay)).Text(" to reach me."))
	},
}

func formatLatency(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return d.Round(100 * time.Millisecond).String()
}

// CommandWhoami tells the asker what Steward thinks of them: their role and whether the
// device they wrote from is verified, which decides whether commands that change
// something work.
var CommandWhoami = &Command{
	Name:    "whoami",
	Section: SectionGeneral,
	Help:    "Show your role and whether the device you wrote from is verified",
	Role:    RoleMember,
	Effect:  ReadsOnly,
	Func: func(ctx context.Context, ce *Event) error {
		msg := render.New("You are ").Pill(ce.Sender).Text(", ").Bold(ce.Role.String()).Text(". ")
		switch {
		case !ce.Encrypted:
			msg.Text("Your message was not encrypted, so I can't tell which device sent it.")
		case ce.Verified():
			msg.Text("Your device ").Code(string(ce.DeviceID)).Text(" is verified (cross-signed by you).")
		case ce.Trust == id.TrustStateCrossSignedUntrusted:
			msg.Text("Your device ").Code(string(ce.DeviceID)).Text(" is signed by a cross-signing identity of yours that is not the one I first saw (was it reset?). An admin's ").
				Code(ce.proc.settings.Prefix + "trust " + string(ce.Sender)).Text(", approved by another admin, makes me trust it.")
		default:
			msg.Text("Your device ").Code(string(ce.DeviceID)).Text(" is not verified: verify it from another of your sessions to use commands that change things.")
		}
		return ce.Reply(ctx, msg)
	},
}
