package config

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"
)

// maxCommandPrefix keeps the prefix short enough to type on a phone.
const maxCommandPrefix = 8

// Matrix says how the bot logs in, where it listens and whom it obeys.
type Matrix struct {
	// Homeserver is the client-server API base URL, e.g. https://matrix.example.org.
	Homeserver string `yaml:"homeserver"`
	// UserID is the bot's own account, e.g. @steward:example.org.
	UserID id.UserID `yaml:"user_id"`
	// PasswordFile holds the bot's password; not needed when PasswordEnv is set.
	PasswordFile string `yaml:"password_file"`
	// DeviceName is shown to people verifying the bot's device.
	DeviceName string `yaml:"device_name" default:"Steward" nonempty:"true"`
	// AdminRoom receives alerts and approval requests; only admins act there.
	AdminRoom string `yaml:"admin_room"`
	// GroupRoom is where the friends on the server talk to the bot.
	GroupRoom string `yaml:"group_room"`
	// Admins may run privileged commands and approve destructive ones.
	Admins []id.UserID `yaml:"admins"`
	// CommandPrefix starts every command, e.g. "!" in "!status".
	CommandPrefix string `yaml:"command_prefix" default:"'!'" nonempty:"true"`
	// ShareKeysWithUnverified lets unverified devices decrypt the bot's messages.
	ShareKeysWithUnverified bool `yaml:"share_keys_with_unverified"`
	// AllowUnencrypted lets the bot answer in rooms without encryption.
	AllowUnencrypted bool `yaml:"allow_unencrypted"`
	// RequireVerifiedDevices, when nil, means true; use VerifiedDevicesRequired.
	RequireVerifiedDevices *bool `yaml:"require_verified_devices" default:"true"`
	// StaleAfter is how old a command may be before the bot ignores it, so a
	// backlog replayed after downtime does not restart things twice.
	StaleAfter Duration `yaml:"stale_after" default:"10m" above:"0"`
}

// VerifiedDevicesRequired reports whether commands are accepted only from
// verified devices. It is true unless require_verified_devices is explicitly
// false, so a Matrix value built in code without the field stays safe.
func (m Matrix) VerifiedDevicesRequired() bool {
	return m.RequireVerifiedDevices == nil || *m.RequireVerifiedDevices
}

// checkMatrix validates the matrix section, with one problem for the whole section
// when it is missing; the password file is only resolved here, loadFiles reads it.
func (v *validator) checkMatrix(c *Config) {
	m := &c.Matrix
	if !v.set["matrix"] && !v.bad["matrix"] {
		v.invalid("matrix", "required: the bot's Matrix account and rooms "+
			"(homeserver, user_id, password_file, admin_room, group_room, admins)")
		return
	}

	if m.Homeserver == "" {
		v.invalid("matrix.homeserver", "required: the URL of your homeserver, like https://matrix.example.org")
	} else if u, err := url.Parse(m.Homeserver); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.invalid("matrix.homeserver", fmt.Sprintf("not an http:// or https:// URL with a host: %q", m.Homeserver))
	}

	if m.UserID == "" {
		v.invalid("matrix.user_id", "required: the bot's own Matrix user ID, like @steward:example.org")
	} else if !validUserID(m.UserID) {
		v.invalid("matrix.user_id", fmt.Sprintf("not a valid Matrix user ID (like @steward:example.org): %q", m.UserID))
	}

	v.checkRoom("matrix.admin_room", m.AdminRoom)
	v.checkRoom("matrix.group_room", m.GroupRoom)
	if m.AdminRoom != "" && m.AdminRoom == m.GroupRoom {
		v.invalid("matrix.group_room", "must differ from admin_room: alerts and approvals go to the admin room, "+
			"everyone talks to the bot in the group room")
	}

	if len(m.Admins) == 0 {
		v.invalid("matrix.admins", "required: a list of at least one Matrix user ID allowed to run admin commands")
	}
	v.checkUserIDs("matrix.admins", m.Admins, func(key string, a id.UserID) {
		if a == m.UserID {
			v.invalid(key, "is the bot's own user_id; the bot must not be able to approve its own actions")
		}
	})

	switch p := m.CommandPrefix; {
	case strings.IndexFunc(p, unicode.IsSpace) >= 0:
		v.invalid("matrix.command_prefix", fmt.Sprintf("must not contain spaces or other whitespace, got %q", p))
	case utf8.RuneCountInString(p) > maxCommandPrefix:
		v.invalid("matrix.command_prefix", fmt.Sprintf("must be at most %d characters, got %q", maxCommandPrefix, p))
	}

	// The file itself is read by loadFiles, after the checks.
	if m.PasswordFile != "" {
		m.PasswordFile = v.resolve(m.PasswordFile)
	} else if v.getenv(PasswordEnv) == "" {
		v.invalid("matrix.password_file", "required unless "+PasswordEnv+" is set: a file holding the bot's Matrix password")
	}
}

// checkUserIDs requires every entry of the list at key to be a Matrix user ID
// listed once, and hands each such entry to more with its key.
func (v *validator) checkUserIDs(key string, users []id.UserID, more func(key string, u id.UserID)) {
	firstSeen := map[id.UserID]int{}
	for i, u := range users {
		ukey := fmt.Sprintf("%s[%d]", key, i)
		if !validUserID(u) {
			v.invalid(ukey, fmt.Sprintf("not a valid Matrix user ID (like @alice:example.org): %q", u))
			continue
		}
		if j, dup := firstSeen[u]; dup {
			v.invalid(ukey, fmt.Sprintf("%s is listed twice (also %s[%d])", u, key, j))
			continue
		}
		firstSeen[u] = i
		more(ukey, u)
	}
}

// validUserID accepts what Matrix servers accept: @localpart:server with a
// non-empty localpart (historical characters allowed) and a valid server name.
func validUserID(u id.UserID) bool {
	if len(u) > id.UserIDMaxLength {
		return false
	}
	local, server, err := u.Parse()
	return err == nil && local != "" && id.ValidateServerName(server)
}

// checkRoom requires a room ID or alias at key. Room IDs from room version 12
// on have no ":server" part, so that part is optional for IDs; aliases
// always have one.
func (v *validator) checkRoom(key, room string) {
	if room == "" {
		v.invalid(key, "required: a room ID (!abc:example.org) or alias (#name:example.org)")
		return
	}
	sigil, local, server := id.ParseCommonIdentifier(room)
	ok := len(room) <= 255 && local != "" && strings.IndexFunc(room, unicode.IsSpace) < 0
	switch {
	case sigil == '#':
		ok = ok && id.ValidateServerName(server)
	case sigil == '!':
		ok = ok && (!strings.Contains(room, ":") || id.ValidateServerName(server))
	default:
		ok = false
	}
	if !ok {
		v.invalid(key, fmt.Sprintf("not a room ID (!abc:example.org) or alias (#name:example.org): %q", room))
	}
}
