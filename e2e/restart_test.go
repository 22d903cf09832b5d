package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
)

// TestRestartNeitherLosesNorRepeats stops Steward, sends a command while it is down,
// starts it again, and checks that the command is answered exactly once and that the
// commands answered before the restart are not answered again.
func TestRestartNeitherLosesNorRepeats(t *testing.T) {
	ctx := t.Context()
	before := command(t, w.Alice, w.AdminRoom, "!ping")
	beforeCmd := before.Content.AsMessage().RelatesTo.GetReplyTo()

	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	whileDown, err := w.Alice.Say(ctx, w.AdminRoom, "!whoami")
	if err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, whileDown, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	// A later command's reply proves Steward has worked through everything before it.
	command(t, w.Alice, w.AdminRoom, "!ping")
	if n := len(w.Alice.RepliesTo(w.StewardID, w.AdminRoom, whileDown)); n != 1 {
		t.Errorf("the command sent while Steward was down got %d replies, want 1", n)
	}
	if n := len(w.Alice.RepliesTo(w.StewardID, w.AdminRoom, beforeCmd)); n != 1 {
		t.Errorf("the command answered before the restart got %d replies, want 1", n)
	}
}

// TestStaleCommandIsNotRun sends a command while Steward is down for longer than
// stale_after: it must be answered, but not run.
func TestStaleCommandIsNotRun(t *testing.T) {
	ctx := t.Context()
	withConfig(t, func(c *testbed.StewardConfig) { c.Extra = append(c.Extra, "stale_after: 2s") })
	eventID, err := w.Alice.Say(ctx, w.AdminRoom, "!status")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	reply, err := w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, eventID, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	body := reply.Content.AsMessage().Body
	if !strings.Contains(body, "did not run it") || strings.Contains(body, "Memory") {
		t.Errorf("stale command reply: %q", body)
	}
}

// TestOutboxSurvivesHomeserverOutage queues notices while the homeserver is stopped;
// they must all arrive, in order, once it is back.
func TestOutboxSurvivesHomeserverOutage(t *testing.T) {
	ctx := t.Context()
	w.HS.Stop()
	texts := make([]string, 5)
	for i := range texts {
		texts[i] = fmt.Sprintf("outage notice %d of %d", i+1, len(texts))
		if err := w.Steward.Notify(ctx, "admin", texts[i]); err != nil {
			w.HS.Start(ctx)
			t.Fatal(err)
		}
	}
	time.Sleep(4 * time.Second) // let the outbox fail a few times
	if err := w.HS.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, evt := range w.Alice.Messages(w.AdminRoom) {
			if evt.Sender == w.StewardID && strings.HasPrefix(evt.Content.AsMessage().Body, "outage notice") {
				got = append(got, evt.Content.AsMessage().Body)
			}
		}
		if len(got) >= len(texts) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if strings.Join(got, "|") != strings.Join(texts, "|") {
		t.Errorf("notices after the outage:\n got %q\nwant %q", got, texts)
	}
	// And Steward still takes commands.
	command(t, w.Alice, w.AdminRoom, "!ping")
}

// TestFreshDatabaseComesBackVerified deletes Steward's database (keeping the pickle and
// recovery keys): Steward logs in with a new device, verifies it with the stored
// recovery key, and other clients see it cross-signed.
func TestFreshDatabaseComesBackVerified(t *testing.T) {
	ctx := t.Context()
	oldDevice := assertStewardCrossSigned(t, w.Alice)
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(w.Config.DataDir, "steward.db"+suffix)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	newDevice, err := w.Steward.DeviceID()
	if err != nil {
		t.Fatal(err)
	}
	if newDevice == oldDevice {
		t.Fatalf("expected a new device after deleting the database, still %s", oldDevice)
	}
	// Fetching the device list is what a client does when told that Steward's devices
	// changed; it also makes alice's next message shared with the new device.
	trust, err := w.Alice.DeviceTrust(ctx, w.StewardID, newDevice)
	if err != nil {
		t.Fatal(err)
	}
	if trust < id.TrustStateCrossSignedTOFU {
		t.Errorf("new device %s has trust %s, want cross-signed", newDevice, trust)
	}
	if got := assertStewardCrossSigned(t, w.Alice); got != newDevice {
		t.Errorf("reply came from device %s, want the new device %s", got, newDevice)
	}
}

// TestLostRecoveryKeyIsNotSilentlyReplaced removes the recovery key file and the
// database: Steward must refuse to start rather than quietly create a new identity
// (which everyone's clients would flag), and start again once the file is back.
func TestLostRecoveryKeyIsNotSilentlyReplaced(t *testing.T) {
	ctx := t.Context()
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(w.Config.DataDir, "recovery-key")
	if err := os.Rename(keyFile, keyFile+".away"); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(w.Config.DataDir, "steward.db"+suffix)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := w.Steward.Start(ctx); err == nil {
		t.Fatal("Steward started without its recovery key")
	}
	logText, err := os.ReadFile(w.Steward.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logText), "recovery-key is missing, but Steward already has cross-signing keys") {
		t.Error("the log does not explain why Steward stopped")
	}
	if err = os.Rename(keyFile+".away", keyFile); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	newDevice, err := w.Steward.DeviceID()
	if err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.DeviceTrust(ctx, w.StewardID, newDevice); err != nil {
		t.Fatal(err)
	}
	assertStewardCrossSigned(t, w.Alice)
}
