package commands

import (
	"context"
	"github.com/steward-bot/steward/policy"
	"strings"
	"unicode/utf8"

	"github.com/steward-bot/steward/render"
)

// maxAnnouncement keeps announcements to what members will read.
const maxAnnouncement = 2000

// CommandAnnounce posts a notice to the group room in the admins' name. By default the
// requester confirms it first, so a message is never sent to everyone by a slip.
var CommandAnnounce = &Command{
	Name:        "announce",
	Section:     SectionGroup,
	Help:        "Post a notice to the group room in the admins' name",
	Args:        "TEXT",
	Role:        RoleAdmin,
	Effect:      Changes,
	Destructive: true,
	Policy:      policy.Policy{Kind: policy.Confirm},
	FreeText:    true,
	Describe: func(_ context.Context, ce *Event) (string, error) {
		text, err := announcement(ce)
		if err != nil {
			return "", err
		}
		return "posts this to the group room, for every member: “" + text + "”", nil
	},
	Func: func(ctx context.Context, ce *Event) error {
		text, err := announcement(ce)
		if err != nil {
			return err
		}
		if err = ce.proc.deps.Messenger.Announce(ctx, ce.proc.settings.GroupRoom, render.New("").Bold("From the admins: ").Text(text)); err != nil {
			return err
		}
		return ce.Reply(ctx, render.New("Posted to the group room."))
	},
}

func announcement(ce *Event) (string, error) {
	text := strings.TrimSpace(ce.RawArgs)
	switch {
	case text == "":
		return "", UserErrorf("What should I announce? %sannounce TEXT", ce.proc.settings.Prefix)
	case utf8.RuneCountInString(text) > maxAnnouncement:
		return "", UserErrorf("That announcement is %d characters long; keep it under %d.", utf8.RuneCountInString(text), maxAnnouncement)
	}
	return text, nil
}
