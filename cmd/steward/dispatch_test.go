package main

import (
	"testing"

	"github.com/steward-bot/steward/bot"
	"github.com/steward-bot/steward/commands"
)

// The transport moderates by the power levels' names; the commands ask by theirs. They
// must be the same words, or a kick would be checked against the ban level.
func TestModerationActionsAgree(t *testing.T) {
	for _, pair := range [][2]string{
		{commands.ActionKick, bot.ActionKick}, {commands.ActionBan, bot.ActionBan}, {commands.ActionRedact, bot.ActionRedact},
	} {
		if pair[0] != pair[1] {
			t.Errorf("commands asks for %q where the transport knows %q", pair[0], pair[1])
		}
	}
}
