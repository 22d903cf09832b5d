package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/state"
)

// Password is every test account's password.
const Password = "correct horse battery staple"

// World is a small group on its own homeserver: two co-admins (alice, bob), a member
// (carol), a stranger (mallory), the encrypted admin and group rooms, and Steward in
// both. The end-to-end tests, the demo and the benchmarks all start from it.
type World struct {
	Dir       string
	HS        *Dendrite
	Alice     *Client // admin
	Bob       *Client // admin
	Carol     *Client // member of the group room
	Mallory   *Client // stranger
	StewardID id.UserID
	AdminRoom id.RoomID
	GroupRoom id.RoomID
	Config    StewardConfig
	Steward   *Steward
}

// NewWorld builds the world in dir. On error the returned World holds what was started,
// for Close.
func NewWorld(ctx context.Context, dir string, logf func(string, ...any)) (*World, error) {
	w := &World{Dir: dir}
	if _, err := StewardBinary(ctx); err != nil {
		return w, err
	}
	var err error
	if w.HS, err = StartDendrite(ctx, filepath.Join(dir, "dendrite"), logf); err != nil {
		return w, err
	}
	for _, name := range []string{"alice", "bob", "carol", "mallory", "steward"} {
		if err = Register(ctx, w.HS.URL, name, Password); err != nil {
			return w, fmt.Errorf("register %s: %w", name, err)
		}
	}
	w.StewardID = id.NewUserID("steward", ServerName)
	logFile, err := os.Create(filepath.Join(dir, "clients.log"))
	if err != nil {
		return w, err
	}
	clientLog := zerolog.New(zerolog.ConsoleWriter{Out: logFile, NoColor: true}).Level(zerolog.DebugLevel)
	for name, c := range map[string]**Client{"alice": &w.Alice, "bob": &w.Bob, "carol": &w.Carol, "mallory": &w.Mallory} {
		if *c, err = NewClient(ctx, w.HS.URL, name, Password, dir, clientLog); err != nil {
			return w, err
		}
	}
	if w.AdminRoom, err = w.Alice.CreateRoom(ctx, "Admins", true, w.Bob.UserID, w.StewardID); err != nil {
		return w, err
	}
	if w.GroupRoom, err = w.Alice.CreateRoom(ctx, "Friends", true, w.Bob.UserID, w.Carol.UserID, w.StewardID); err != nil {
		return w, err
	}
	for _, join := range []struct {
		c    *Client
		room id.RoomID
	}{{w.Bob, w.AdminRoom}, {w.Bob, w.GroupRoom}, {w.Carol, w.GroupRoom}} {
		if _, err = join.c.JoinRoomByID(ctx, join.room); err != nil {
			return w, err
		}
	}
	w.Config = StewardConfig{
		Homeserver: w.HS.URL, UserID: w.StewardID, Password: Password,
		AdminRoom: w.AdminRoom, GroupRoom: w.GroupRoom,
		Admins:  []id.UserID{w.Alice.UserID, w.Bob.UserID},
		DataDir: filepath.Join(dir, "steward-data"),
		// The tests send commands much faster than people do; the per-sender limit
		// itself is covered by the unit tests.
		// !announce needs a second admin here, as the approval tests want.
		TopLevel: []string{"rate_limit: {burst: 1000, per_minute: 6000, message_burst: 1000, messages_per_minute: 6000}", "policy: {commands: {announce: second_admin}}",
			"docker: {update_check: 0s}"},
		Monitor: QuietMonitor,
	}
	if err = w.StartSteward(ctx); err != nil {
		return w, err
	}
	for _, room := range []id.RoomID{w.AdminRoom, w.GroupRoom} {
		if err = w.Alice.WaitForMembership(ctx, room, w.StewardID, event.MembershipJoin, time.Minute); err != nil {
			return w, err
		}
	}
	return w, nil
}

// StartSteward writes the current Config and starts Steward with it.
func (w *World) StartSteward(ctx context.Context) error {
	cfgPath, err := w.Config.Write(w.Dir)
	if err != nil {
		return err
	}
	w.Steward, err = StartSteward(ctx, cfgPath, filepath.Join(w.Dir, "steward.log"))
	return err
}

// NewSteward starts a second Steward as the new account name, with its own data
// directory, log and rooms (alice's, with alice as its admin), for a test that does to
// Steward what would spoil the shared one for the tests after it. The caller stops it.
func (w *World) NewSteward(ctx context.Context, name string) (*Steward, StewardConfig, error) {
	return w.NewStewardWith(ctx, name, nil)
}

// NewStewardWith is NewSteward with change applied to its config (given copies of the
// lists) once its account, rooms and data directory are set.
func (w *World) NewStewardWith(ctx context.Context, name string, change func(*StewardConfig)) (*Steward, StewardConfig, error) {
	cfg := w.Config
	cfg.Admins, cfg.Extra, cfg.TopLevel = slices.Clone(cfg.Admins), slices.Clone(cfg.Extra), slices.Clone(cfg.TopLevel)
	dir := filepath.Join(w.Dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, cfg, err
	}
	if err := Register(ctx, w.HS.URL, name, Password); err != nil {
		return nil, cfg, fmt.Errorf("register %s: %w", name, err)
	}
	cfg.UserID = id.NewUserID(name, ServerName)
	cfg.DataDir = filepath.Join(dir, "steward-data")
	var err error
	if cfg.AdminRoom, err = w.Alice.CreateRoom(ctx, name+" admins", true, cfg.UserID); err != nil {
		return nil, cfg, err
	}
	if cfg.GroupRoom, err = w.Alice.CreateRoom(ctx, name+" friends", true, cfg.UserID); err != nil {
		return nil, cfg, err
	}
	if change != nil {
		change(&cfg)
	}
	cfgPath, err := cfg.Write(dir)
	if err != nil {
		return nil, cfg, err
	}
	s, err := StartSteward(ctx, cfgPath, filepath.Join(dir, "steward.log"))
	if err != nil {
		return s, cfg, err
	}
	for _, room := range []id.RoomID{cfg.AdminRoom, cfg.GroupRoom} {
		if err = w.Alice.WaitForMembership(ctx, room, cfg.UserID, event.MembershipJoin, time.Minute); err != nil {
			return s, cfg, err
		}
	}
	return s, cfg, nil
}

// Close stops everything the world started.
func (w *World) Close() {
	if w.Steward != nil {
		_ = w.Steward.Stop()
	}
	for _, c := range []*Client{w.Alice, w.Bob, w.Carol, w.Mallory} {
		if c != nil {
			c.Close()
		}
	}
	if w.HS != nil {
		w.HS.Stop()
	}
}

// Command sends text from c in room and waits for Steward's reply to it.
func (w *World) Command(ctx context.Context, c *Client, room id.RoomID, text string) (*event.Event, error) {
	eventID, err := c.Say(ctx, room, text)
	if err != nil {
		return nil, fmt.Errorf("send %q: %w", text, err)
	}
	reply, err := c.WaitForReply(ctx, w.StewardID, room, eventID, time.Minute)
	if err != nil {
		return nil, fmt.Errorf("no reply to %q: %w", text, err)
	}
	return reply, nil
}

// WaitHandled waits until Steward's audit log has an entry for the command eventID,
// that is, until Steward has decided about it, and returns the entry's outcome.
func (w *World) WaitHandled(ctx context.Context, eventID id.EventID, limit time.Duration) (outcome string, err error) {
	return WaitHandledIn(ctx, w.Config.DataDir, eventID, limit)
}

// WaitHandledIn is WaitHandled for the Steward whose data directory is dataDir (one
// a test started of its own).
func WaitHandledIn(ctx context.Context, dataDir string, eventID id.EventID, limit time.Duration) (outcome string, err error) {
	err = pollDatabase(ctx, dataDir, limit, "to handle "+eventID.String(), func(db *state.DB) (bool, error) {
		entries, err := db.Audit.ForEvent(ctx, eventID)
		if err != nil || len(entries) == 0 {
			return false, err
		}
		outcome = entries[len(entries)-1].Outcome
		return true, nil
	})
	return outcome, err
}

// WaitKept waits until Steward has put the encrypted message eventID aside to wait
// for its room key (after its batch was committed).
func (w *World) WaitKept(ctx context.Context, eventID id.EventID, limit time.Duration) error {
	return w.pollDatabase(ctx, limit, "to keep "+eventID.String()+" aside", func(db *state.DB) (bool, error) {
		kept, err := db.Undecrypted.All(ctx)
		for _, evt := range kept {
			if evt.ID == eventID {
				return true, nil
			}
		}
		return false, err
	})
}

// pollDatabase opens Steward's database beside the running bot and checks done every
// 100 ms until it reports true or limit passes.
func (w *World) pollDatabase(ctx context.Context, limit time.Duration, what string, done func(*state.DB) (bool, error)) error {
	return pollDatabase(ctx, w.Config.DataDir, limit, what, done)
}

// pollDatabase is World.pollDatabase for the Steward whose data directory is dataDir.
func pollDatabase(ctx context.Context, dataDir string, limit time.Duration, what string, done func(*state.DB) (bool, error)) error {
	db, err := state.Open(ctx, filepath.Join(dataDir, "steward.db"), zerolog.Nop())
	if err != nil {
		return err
	}
	defer db.Close()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ok, err := done(db); err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("waited %s for Steward %s", limit, what)
}

// WaitInboxDone waits until Steward has finished with the event eventID from its inbox
// (a command or a reaction) and returns the outcome it recorded.
func (w *World) WaitInboxDone(ctx context.Context, eventID id.EventID, limit time.Duration) (outcome string, err error) {
	err = w.pollDatabase(ctx, limit, "to finish with "+eventID.String(), func(db *state.DB) (bool, error) {
		entry, err := db.Inbox.Get(ctx, eventID)
		if err != nil || entry == nil || entry.State != state.InboxDone {
			return false, err
		}
		outcome = entry.Outcome
		return true, nil
	})
	return outcome, err
}

// CountOutbox counts the messages Steward queued for roomID whose content contains
// text (as JSON encodes it), whatever their state.
func (w *World) CountOutbox(ctx context.Context, roomID id.RoomID, text string) (n int, err error) {
	encoded, err := json.Marshal(text)
	if err != nil {
		return 0, err
	}
	needle := strings.Trim(string(encoded), `"`)
	err = w.pollDatabase(ctx, time.Second, "to read its outbox", func(db *state.DB) (bool, error) {
		return true, db.Raw.QueryRow(ctx, "SELECT COUNT(*) FROM outbox WHERE room_id=$1 AND instr(content, $2) > 0", roomID, needle).Scan(&n)
	})
	return n, err
}

// FindAudit reads Steward's decision log.
func (w *World) FindAudit(ctx context.Context, f state.AuditFilter) (entries []*state.AuditEntry, err error) {
	err = w.pollDatabase(ctx, time.Second, "to read its decision log", func(db *state.DB) (bool, error) {
		entries, err = db.Audit.Find(ctx, f)
		return true, err
	})
	return entries, err
}

// LatestApprovalID returns the ID of the newest approval request.
func (w *World) LatestApprovalID(ctx context.Context) (approvalID string, err error) {
	err = w.pollDatabase(ctx, time.Second, "to read its approvals", func(db *state.DB) (bool, error) {
		return true, db.Raw.QueryRow(ctx, "SELECT id FROM approval ORDER BY created_at DESC LIMIT 1").Scan(&approvalID)
	})
	return approvalID, err
}

// CountAlerts counts the alerts Steward has recorded with fingerprint, open or not.
func (w *World) CountAlerts(ctx context.Context, fingerprint string) (n int, err error) {
	err = w.pollDatabase(ctx, time.Second, "to read its alerts", func(db *state.DB) (bool, error) {
		return true, db.Raw.QueryRow(ctx, "SELECT COUNT(*) FROM alert WHERE fingerprint=$1", fingerprint).Scan(&n)
	})
	return n, err
}
