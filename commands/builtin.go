package commands

import (
	"slices"

	"github.com/steward-bot/steward/monitor"
)

// Features are what the command families act on. Each family is registered with its
// part alone; the dispatcher sees none of them. A config check builds the registry
// with none at all (Features{}): it reads names and policies and runs nothing.
type Features struct {
	// Disks are the paths whose use !status shows.
	Disks      []string
	Alerts     Alerts
	OnCall     *monitor.OnCall
	Reloader   Reloader
	Containers Containers
	// Updater replaces containers with their images' newer versions.
	Updater Updater
	Backups Backups
	// Tickets carries members' requests and reports to the admins and back.
	Tickets Tickets
	// TicketCategories are the kinds of abuse !report can name.
	TicketCategories []string
	// Moderator kicks, bans and redacts in the group room.
	Moderator Moderator
	Summaries *Summaries
	// Jobs are the jobs outside Steward that ping it (cron lines, borgmatic).
	Jobs Jobs
	// LogWitness reads the decision log's checkpoints back for !log verify.
	LogWitness LogWitness
	// Identities reads users' cross-signing identities and trusts a new one, for
	// !trust.
	Identities Identities
}

// Builtin returns the registry of every Steward command. New commands are added here
// and nowhere else; help, dispatch and permissions all read this one list, in this
// order.
func Builtin(f Features) *Registry {
	return NewRegistry(slices.Concat(
		[]*Command{CommandHelp, CommandPing, CommandWhoami, trustCommand(f.Identities), statusCommand(f.Disks)},
		alertCommands(f.Alerts, f.OnCall),
		jobCommands(f.Jobs),
		containerCommands(f.Containers, f.Updater),
		backupCommands(f.Backups),
		ticketCommands(f.Tickets, f.TicketCategories),
		moderationCommands(f.Tickets, f.Moderator),
		[]*Command{
			reloadCommand(f.Reloader),
			logCommand(f.LogWitness), summaryCommand(f.Summaries), CommandAnnounce,
			CommandPending, CommandApprove, CommandDeny, CommandCancel,
		},
	)...)
}
