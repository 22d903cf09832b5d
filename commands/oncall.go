package commands

import (
	"context"
	"strings"

	"github.com/steward-bot/steward/render"
)

// onCallCommand says who is on duty, and lets an admin take over until the next
// handover.
func (f *alertFamily) onCallCommand() *Command {
	return &Command{
		Name:    "oncall",
		Section: SectionAlerts,
		Help:    "Show who is on duty; \"take\" to take over until the next handover",
		Args:    "[take]",
		Role:    RoleAdmin,
		Effect:  Changes,
		// Without "take" it only shows the rota.
		ReadsWith: func(args []string) bool { return len(args) == 0 },
		Func: func(ctx context.Context, ce *Event) error {
			oc := f.onCall
			if oc == nil || !oc.HasRotation() {
				return ce.Reply(ctx, render.New("There is no on-call rotation (oncall.rotation in the config), so a critical alert nobody takes calls every admin."))
			}
			now := ce.proc.deps.Now()
			switch {
			case len(ce.Args) == 0:
				duty, err := oc.At(ctx, now)
				if err != nil {
					return err
				}
				msg := render.New("On duty: ").Pill(duty.Admin).Text(" until " + render.Clock(duty.Until, now) + ".")
				if duty.TookOver {
					msg.Text(" (Took over from ").Pill(duty.Scheduled).Text(".)")
				}
				next := oc.Rotation.At(duty.Until)
				msg.Text(" Next: ").Pill(next).Text(". Rotation: ")
				for i, admin := range oc.Rotation.Admins {
					if i > 0 {
						msg.Text(", ")
					}
					msg.Text(admin.String())
				}
				msg.Text(".")
				return ce.Reply(ctx, msg)
			case len(ce.Args) == 1 && strings.EqualFold(ce.Args[0], "take"):
				before, err := oc.At(ctx, now)
				if err != nil {
					return err
				}
				if before.Admin == ce.Sender {
					return ce.Reply(ctx, render.New("You are already on duty, until "+render.Clock(before.Until, now)+"."))
				}
				duty, err := oc.Take(ctx, ce.Sender, now)
				if err != nil {
					return err
				}
				return ce.Reply(ctx, render.New("🔁 ").Pill(ce.Sender).Text(" took over on-call duty from ").Pill(before.Admin).
					Text(" until the handover at "+render.Clock(duty.Until, now)+"."))
			default:
				return UserErrorf("Usage: %soncall, or %soncall take to take over duty.", ce.proc.settings.Prefix, ce.proc.settings.Prefix)
			}
		},
	}
}
