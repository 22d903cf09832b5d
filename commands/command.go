// Package commands is Steward's command framework and its commands. Each command is
// declared once, as a Command value; the Processor checks who may run it, where, and how
// often, records it, runs it with panics recovered, and help is generated from the same
// declarations.
package commands

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/policy"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Role is what a sender may do. Roles are ordered: an admin may do what a member may.
type Role int

// The roles. Admins are listed by Matrix ID in the config; members are the users joined
// to the group room; everyone else is nobody.
const (
	RoleNobody Role = iota
	RoleMember
	RoleAdmin
)

// String is the role's word as users read it ("Only admins can use …", !whoami).
func (r Role) String() string {
	switch r {
	case RoleAdmin:
		return "admin"
	case RoleMember:
		return "member"
	default:
		return "nobody"
	}
}

// Section groups commands in help, so that a member reads a short list and an admin
// finds a command by what it is about.
type Section string

// The sections of help, in the order help lists them.
const (
	SectionGeneral    Section = "General"
	SectionHost       Section = "Host"
	SectionAlerts     Section = "Alerts"
	SectionContainers Section = "Containers"
	SectionBackups    Section = "Backups"
	SectionGroup      Section = "Group"
	SectionDecisions  Section = "Decisions"
)

var sectionOrder = []Section{SectionGeneral, SectionHost, SectionAlerts, SectionContainers, SectionBackups, SectionGroup, SectionDecisions}

// Command declares one command: everything the dispatcher and help need to know.
type Command struct {
	// Name is what follows the prefix: lower-case, no spaces.
	Name    string
	Aliases []string
	Section Section
	// Help is one line for !help.
	Help string
	// Args is the argument synopsis, e.g. "CONTAINER [N]".
	Args string
	// Role is the least role that may run the command.
	Role Role
	// Effect is what running the command does: whether it only reads, or changes
	// something, which decides whether a device its owner has not cross-signed may run
	// it. The zero value is Changes, so a command that does not say is guarded.
	Effect Effect
	// ReadsWith, on a command that Changes, reports whether a run with these
	// arguments only reads (!oncall without "take" shows who is on duty): such a run
	// is open to any device, as a ReadsOnly command is.
	ReadsWith func(args []string) bool
	// FromResetIdentity, on a command that Changes, reports whether this run may
	// come from an encrypted message of a device signed by the sender's own new
	// cross-signing identity, one Steward does not trust yet
	// (TrustStateCrossSignedUntrusted): !trust of oneself, which only asks, since
	// another admin's approval from a verified device is what it takes. Devices
	// nobody cross-signed stay refused.
	FromResetIdentity func(ce *Event) bool
	// Destructive commands change something that is hard to undo; by default they
	// need a second admin's approval. They all have the Effect Changes (NewRegistry
	// checks).
	Destructive bool
	// SafeWith, on a destructive command, reports whether a run with these
	// arguments changes nothing live (!restore to the staging directory): such a
	// run needs no approval. It still Changes something (it writes files, runs
	// restic), so it still needs a verified device.
	SafeWith func(args []string) bool
	// Policy is how much agreement the command needs before it runs; the zero value
	// means none for read-only commands and second_admin for destructive ones. Config
	// can make it stricter (Registry.Tighten).
	Policy policy.Policy
	// FreeText commands take the rest of the line as typed (ce.RawArgs), so quotes and
	// apostrophes in it are not argument syntax.
	FreeText bool
	// Private commands carry words meant for the admins only (a member's report):
	// the decision log records that they ran, not what they said.
	Private bool
	// Long commands, once approved, run in the background (Deps.Background): the
	// room's other commands, an !ack or a 👀 on an alert, do not wait behind them.
	// They answer by editing messages of their own as they go.
	Long bool
	// Describe, for a command that may need approval, checks the arguments and says in
	// a sentence what running it will do; the approval request shows it. A UserError
	// refuses the command before anyone is asked. Without Describe the request shows
	// the command line alone.
	Describe func(ctx context.Context, ce *Event) (string, error)
	Func     func(ctx context.Context, ce *Event) error
}

// Effect is what a command does to the world, as the verified-device rule reads it.
type Effect int

// The effects. The rule is decided here and enforced by the dispatcher alone
// (Processor.refusal): a command that changes something (what Steward does, what the
// group sees, what anyone is told) needs an encrypted message from a device its owner
// has cross-signed, unless matrix.require_verified_devices is off; one that only reads
// is open to every device of a sender who may run it.
const (
	// Changes is every command that changes something: it needs a verified device.
	Changes Effect = iota
	// ReadsOnly commands only answer the one who asked; they change nothing that
	// anyone else sees or that Steward does.
	ReadsOnly
	// Asks commands carry a member's own words to the admins (!request, !report).
	// They change only what the admins are told, as does anything a member writes
	// in a private chat with Steward, which reaches the admins from any device; a
	// member's unverified session is common and a stolen one speaks only for that
	// member, so they are open to unverified devices.
	Asks
)

// String is the effect's word in help, the README and tests.
func (e Effect) String() string {
	switch e {
	case ReadsOnly:
		return "reads only"
	case Asks:
		return "asks the admins"
	default:
		return "changes something"
	}
}

// Input is a command message as the bot received it.
type Input struct {
	Body       string
	Sender     id.UserID
	DeviceID   id.DeviceID
	Trust      id.TrustState
	Encrypted  bool
	RoomID     id.RoomID
	EventID    id.EventID
	ThreadRoot id.EventID
	// ReplyTo is the message the command answers, when it was sent as a reply.
	ReplyTo    id.EventID
	SentAt     time.Time
	ReceivedAt time.Time
}

// Verified reports whether the message came from a device its owner cross-signed: a
// command that changes something, a reaction that acts, and an answer to an approval
// request need one.
func (in *Input) Verified() bool {
	return in.Encrypted && in.Trust >= id.TrustStateCrossSignedTOFU
}

// Event is one command being run: the message that asked, and what the dispatcher
// made of it.
type Event struct {
	Input
	Command *Command
	Args    []string
	RawArgs string
	Role    Role
	// Approval is the request under which the command runs, when it needed one.
	Approval *state.Approval
	// Pin is set by Describe to what the request shows that may change while it
	// waits (an image digest); it is stored with the request, and the approved
	// command finds it here again, to run against exactly that or refuse.
	Pin string

	proc *Processor
}

// changesThings reports whether this run changes something, and so needs a verified
// device: a command that Changes, unless its ReadsWith accepts these arguments.
func (ce *Event) changesThings() bool {
	return ce.Command.Effect == Changes && (ce.Command.ReadsWith == nil || !ce.Command.ReadsWith(ce.Args))
}

// fromResetIdentity reports whether this run comes from a device its sender's
// current, not yet trusted identity signed, and the command accepts that for it.
func (ce *Event) fromResetIdentity() bool {
	return ce.Encrypted && ce.Trust == id.TrustStateCrossSignedUntrusted &&
		ce.Command.FromResetIdentity != nil && ce.Command.FromResetIdentity(ce)
}

// destructiveRun reports whether this run is destructive: a destructive command whose
// SafeWith accepts these arguments skips approval.
func (ce *Event) destructiveRun() bool {
	return ce.Command.Destructive && (ce.Command.SafeWith == nil || !ce.Command.SafeWith(ce.Args))
}

// Reply answers the command in its room, as a reply or in its thread.
func (ce *Event) Reply(ctx context.Context, msg *render.Message) error {
	return ce.proc.deps.Messenger.Reply(ctx, ce.RoomID, ce.EventID, ce.ThreadRoot, msg)
}

// Replyf answers with plain text, for the many answers that need no formatting.
func (ce *Event) Replyf(ctx context.Context, format string, args ...any) error {
	return ce.Reply(ctx, render.New(fmt.Sprintf(format, args...)))
}

// UserError is an error whose text is meant for the person who sent the command. Other
// errors are logged and answered with a generic message, so internal details never
// reach the room.
type UserError struct{ Msg string }

// Error is Msg alone: the dispatcher sends it to the room as it is.
func (e UserError) Error() string { return e.Msg }

// AnsweredError is returned by a command that has answered the room already and wants
// its outcome and detail written to the decision log as they are (an update rolled
// back, with the digests and its duration), rather than a generic failure.
type AnsweredError struct {
	Outcome string
	Detail  string
}

// Error is for logs only: the decision log takes Outcome and Detail from the fields.
func (r AnsweredError) Error() string { return r.Outcome + ": " + r.Detail }

// UserErrorf formats every refusal and correction a sender reads (a usage line, an
// unknown name, a state that forbids the command) as a UserError, so it reaches the
// room instead of the generic message.
func UserErrorf(format string, args ...any) error {
	return UserError{Msg: fmt.Sprintf(format, args...)}
}
