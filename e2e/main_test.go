// Package e2e drives the real steward binary against a real Dendrite homeserver with
// separate client devices, as the people in a group would.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
)

// world is the shared test bed: one homeserver, four people, two rooms, one Steward.
type world struct {
	dir       string
	hs        *testbed.Dendrite
	alice     *testbed.Client // admin
	bob       *testbed.Client // admin
	carol     *testbed.Client // member of the group room
	mallory   *testbed.Client // stranger
	stewardID id.UserID
	adminRoom id.RoomID
	groupRoom id.RoomID
	cfg       testbed.StewardConfig
	steward   *testbed.Steward
}

var w *world

const password = "correct horse battery staple"

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	var err error
	w, err = setup(ctx)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup failed:", err)
		if w != nil && w.dir != "" {
			fmt.Fprintln(os.Stderr, "logs are in", w.dir)
		}
	} else {
		code = m.Run()
	}
	if w != nil {
		w.teardown()
		if code == 0 {
			os.RemoveAll(w.dir)
		} else {
			fmt.Fprintln(os.Stderr, "e2e: logs kept in", w.dir)
		}
	}
	cancel()
	os.Exit(code)
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func setup(ctx context.Context) (*world, error) {
	dir, err := os.MkdirTemp("", "steward-e2e-")
	if err != nil {
		return nil, err
	}
	w := &world{dir: dir}
	if _, err = testbed.StewardBinary(ctx); err != nil {
		return w, err
	}
	if w.hs, err = testbed.StartDendrite(ctx, filepath.Join(dir, "dendrite"), logf); err != nil {
		return w, err
	}
	for _, name := range []string{"alice", "bob", "carol", "mallory", "steward"} {
		if err = testbed.Register(ctx, w.hs.URL, name, password); err != nil {
			return w, fmt.Errorf("register %s: %w", name, err)
		}
	}
	w.stewardID = id.NewUserID("steward", testbed.ServerName)
	clientLog := zerolog.New(zerolog.ConsoleWriter{Out: mustCreate(filepath.Join(dir, "clients.log")), NoColor: true}).Level(zerolog.DebugLevel)
	clients := map[string]**testbed.Client{"alice": &w.alice, "bob": &w.bob, "carol": &w.carol, "mallory": &w.mallory}
	for name, c := range clients {
		if *c, err = testbed.NewClient(ctx, w.hs.URL, name, password, dir, clientLog); err != nil {
			return w, err
		}
	}
	if w.adminRoom, err = w.alice.CreateRoom(ctx, "Admins", true, w.bob.UserID, w.stewardID); err != nil {
		return w, err
	}
	if w.groupRoom, err = w.alice.CreateRoom(ctx, "Friends", true, w.bob.UserID, w.carol.UserID, w.stewardID); err != nil {
		return w, err
	}
	for _, join := range []struct {
		c    *testbed.Client
		room id.RoomID
	}{{w.bob, w.adminRoom}, {w.bob, w.groupRoom}, {w.carol, w.groupRoom}} {
		if _, err = join.c.JoinRoomByID(ctx, join.room); err != nil {
			return w, err
		}
	}
	w.cfg = testbed.StewardConfig{
		Homeserver: w.hs.URL, UserID: w.stewardID, Password: password,
		AdminRoom: w.adminRoom, GroupRoom: w.groupRoom,
		Admins:  []id.UserID{w.alice.UserID, w.bob.UserID},
		DataDir: filepath.Join(dir, "steward-data"),
	}
	if err = w.startSteward(ctx); err != nil {
		return w, err
	}
	for _, room := range []id.RoomID{w.adminRoom, w.groupRoom} {
		if err = w.alice.WaitForMembership(ctx, room, w.stewardID, event.MembershipJoin, 60*time.Second); err != nil {
			return w, err
		}
	}
	return w, nil
}

// startSteward writes the current config and starts Steward.
func (w *world) startSteward(ctx context.Context) error {
	cfgPath, err := w.cfg.Write(w.dir)
	if err != nil {
		return err
	}
	w.steward, err = testbed.StartSteward(ctx, cfgPath, filepath.Join(w.dir, "steward.log"))
	return err
}

func (w *world) teardown() {
	if w.steward != nil {
		_ = w.steward.Stop()
	}
	for _, c := range []*testbed.Client{w.alice, w.bob, w.carol, w.mallory} {
		if c != nil {
			c.Close()
		}
	}
	if w.hs != nil {
		w.hs.Stop()
	}
}

func mustCreate(path string) *os.File {
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	return f
}

// command sends text from c in room and waits for Steward's reply to it.
func command(t *testing.T, c *testbed.Client, room id.RoomID, text string) *event.Event {
	t.Helper()
	ctx := t.Context()
	eventID, err := c.Say(ctx, room, text)
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	reply, err := c.WaitForReply(ctx, w.stewardID, room, eventID, 60*time.Second)
	if err != nil {
		t.Fatalf("no reply to %q: %v", text, err)
	}
	return reply
}
