package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/approval"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Identities is what !trust needs of Steward's encryption (bot.Bot implements it).
type Identities interface {
	// MasterKey fetches userID's cross-signing keys from the homeserver now and
	// returns the master key it serves (empty when the user has none), the one
	// Steward trusted before for them (the first it saw, or the last it trusted by
	// !trust), and whether the current one is trusted already. It fails when the
	// homeserver sends no keys for the user.
	MasterKey(ctx context.Context, userID id.UserID) (current, before id.Ed25519, trusted bool, err error)
	// TrustMasterKey signs masterKey, and nothing else, as userID's identity with
	// Steward's user-signing key, so the devices it signs count as verified.
	TrustMasterKey(ctx context.Context, userID id.UserID, masterKey id.Ed25519) error
}

// trustCommand is !trust: the way back for an admin or member who reset their
// cross-signing identity. Steward keeps trusting the first identity it saw for each
// user (TOFU), so every device signed by a new one is refused for what changes
// something; another admin who has compared the new master key with the one the
// user reads in their own client approves trusting it.
func trustCommand(ids Identities) *Command {
	return &Command{
		Name:    "trust",
		Section: SectionGeneral,
		Help:    "Trust a user's new cross-signing identity after they reset it, so their devices count as verified again (another admin compares the key and approves)",
		Args:    "@USER:SERVER",
		Role:    RoleAdmin,
		Effect:  Changes,
		// Destructive: under second_admin by default, whatever config says.
		Destructive: true,
		// An admin who reset their identity has no device Steward counts as verified:
		// they may ask for their own new identity from a device it signs, since it
		// is another admin's approval, from a verified device, that trusts it.
		FromResetIdentity: func(ce *Event) bool {
			user, err := trustArg(ce)
			return err == nil && user == ce.Sender
		},
		Describe: func(ctx context.Context, ce *Event) (string, error) {
			user, err := trustArg(ce)
			if err != nil {
				return "", err
			}
			if err = trustable(ctx, ce, user); err != nil {
				return "", err
			}
			switch approvers := otherApprovers(ce, user); {
			case approvers > 0:
			case user == ce.Sender:
				// Only with policy.allow_single_admin: the one admin's own answer
				// would come from the identity in question, and never counts.
				return "", UserErrorf("You are the only admin, so nobody can approve trusting your new identity from a verified device. Add a second admin to matrix.admins, who can.")
			case !slices.Contains(ce.proc.settings.Admins, user):
				// A member's identity, asked by the only admin: the request was let
				// through only with policy.allow_single_admin, which has them confirm
				// it alone, as any destructive command.
			default:
				return "", UserErrorf("Only %s could approve that, and no device of theirs counts as verified now. Ask %s to send %strust %s from their new session; you then approve it.",
					user, user, ce.proc.settings.Prefix, user)
			}
			current, before, trusted, err := ids.MasterKey(ctx, user)
			if err != nil {
				zerolog.Ctx(ctx).Err(err).Stringer("user_id", user).Msg("Couldn't fetch a user's cross-signing keys")
				return "", UserErrorf("I couldn't fetch %s's keys from the homeserver, so I can't show their identity; try again in a moment.", user)
			}
			switch {
			case current == "":
				return "", UserErrorf("%s has no cross-signing identity on the homeserver: they should set up cross-signing (secure backup) in their client first.", user)
			case trusted:
				return "", UserErrorf("I already trust %s's identity (master key %s); there is nothing to do.", user, Fingerprint(current))
			}
			// What is approved is this key and no other: if it changes while the
			// request waits, the approved command refuses.
			ce.Pin = string(current)
			return fmt.Sprintf("trusts %s's new cross-signing identity, master key %s as the homeserver serves it now, instead of %s, the one I trusted before. "+
				"Approve only if %s reads the same key in their own client (compare it with them in person or on a call): every device that identity signs will count as verified.",
				user, Fingerprint(current), Fingerprint(before), user), nil
		},
		Func: func(ctx context.Context, ce *Event) error {
			user, err := trustArg(ce)
			if err != nil {
				return err
			}
			if err = trustable(ctx, ce, user); err != nil {
				return err
			}
			pinned := id.Ed25519(ce.Pin)
			if pinned == "" {
				// Only an approved request runs !trust, and a request always pins its key.
				return UserErrorf("This request names no master key, so I trusted nothing; ask again.")
			}
			current, before, trusted, err := ids.MasterKey(ctx, user)
			if err != nil {
				zerolog.Ctx(ctx).Err(err).Stringer("user_id", user).Msg("Couldn't fetch a user's cross-signing keys")
				return UserErrorf("I couldn't fetch %s's keys from the homeserver, so I trusted nothing; ask again in a moment.", user)
			}
			switch {
			case current != pinned:
				return UserErrorf("%s's master key changed since the request (it was %s, it is now %s), so I trusted neither. Ask again, and compare the new key with them.",
					user, Fingerprint(pinned), Fingerprint(current))
			case trusted:
				return ce.Reply(ctx, render.New("I already trust ").Pill(user).Text("'s identity (master key ").Code(Fingerprint(current)).Text("); nothing changed."))
			}
			if err = ids.TrustMasterKey(ctx, user, pinned); err != nil {
				return fmt.Errorf("trust the master key of %s: %w", user, err)
			}
			// Said only once it holds: the devices of that identity now resolve as
			// verified.
			if _, _, trusted, err = ids.MasterKey(ctx, user); err != nil {
				return fmt.Errorf("check the trust of %s: %w", user, err)
			} else if !trusted {
				return fmt.Errorf("signed the master key of %s, but it is still not trusted", user)
			}
			approvers := ""
			if ce.Approval != nil {
				votes, err := ce.proc.deps.Requests.Votes(ctx, ce.Approval.ID)
				if err != nil {
					return fmt.Errorf("read the votes of %s: %w", ce.Approval.ID, err)
				}
				approvers = approval.Approvers(ce.Approval, votes)
			}
			if err = ce.Reply(ctx, render.New("I now trust ").Pill(user).Text("'s identity with master key ").Code(Fingerprint(pinned)).
				Text(" (before: ").Code(Fingerprint(before)).Text("). Devices it signs count as verified, so commands that change something work from them again.")); err != nil {
				return err
			}
			return AnsweredError{Outcome: state.OutcomeOK, Detail: fmt.Sprintf("trusted %s: master key %s, before %s; asked by %s, approved by %s",
				user, Fingerprint(pinned), Fingerprint(before), ce.Sender, approvers)}
		},
	}
}

// trustArg reads the user whose identity !trust is about.
func trustArg(ce *Event) (id.UserID, error) {
	if len(ce.Args) != 1 {
		return "", UserErrorf("Whose identity? Give their Matrix ID, like %strust @alice:example.org.", ce.proc.settings.Prefix)
	}
	user := id.UserID(ce.Args[0])
	if _, _, err := user.Parse(); err != nil {
		return "", UserErrorf("%q is not a Matrix ID; write it in full, like @alice:example.org.", ce.Args[0])
	}
	return user, nil
}

// trustable refuses a user Steward does not deal with: its own account, whose
// identity is kept with its recovery key, and anyone who is neither admin nor member.
func trustable(ctx context.Context, ce *Event, user id.UserID) error {
	switch {
	case user == ce.proc.settings.BotUserID:
		return UserErrorf("That's me: my own identity is kept with my recovery key, not trusted by a command.")
	case ce.proc.RoleOf(ctx, user) == RoleNobody:
		return UserErrorf("%s is neither an admin nor a member, so I don't deal with them and keep no trust for them.", user)
	}
	return nil
}

// otherApprovers counts the admins who could approve a !trust of user asked by
// ce's sender: not the sender, and not the user, whose devices are the ones not
// trusted.
func otherApprovers(ce *Event, user id.UserID) int {
	n := 0
	for _, admin := range ce.proc.settings.Admins {
		if admin != ce.Sender && admin != user {
			n++
		}
	}
	return n
}

// Fingerprint writes a master key (unpadded base64, as clients show it) in groups of
// four characters, so two people can read it to each other and compare.
func Fingerprint(key id.Ed25519) string {
	if key == "" {
		return "(none)"
	}
	s := string(key)
	var groups []string
	for chunk := range slices.Chunk([]byte(s), 4) {
		groups = append(groups, string(chunk))
	}
	return strings.Join(groups, " ")
}
