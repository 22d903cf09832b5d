package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

// TestRestartNeitherLosesNorRepeats stops Steward, sends a command while it is down,
// starts it again, and checks that the command is answered exactly once and that the
// commands answered before the restart are not answered again.
func TestRestartNeitherLosesNorRepeats(t *testing.T) {
	ctx := t.Context()
	before := command(t, w.alice, w.adminRoom, "!ping")
	beforeCmd := before.Content.AsMessage().RelatesTo.GetReplyTo()

	if err := w.steward.Stop(); err != nil {
		t.Fatal(err)
	}
	whileDown, err := w.alice.Say(ctx, w.adminRoom, "!whoami")
	if err != nil {
		t.Fatal(err)
	}
	if err = w.steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err = w.alice.WaitForReply(ctx, w.stewardID, w.adminRoom, whileDown, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	// A later command's reply proves Steward has worked through everything before it.
	command(t, w.alice, w.adminRoom, "!ping")
	if n := len(w.alice.RepliesTo(w.stewardID, w.adminRoom, whileDown)); n != 1 {
		t.Errorf("the command sent while Steward was down got %d replies, want 1", n)
	}
	if n := len(w.alice.RepliesTo(w.stewardID, w.adminRoom, beforeCmd)); n != 1 {
		t.Errorf("the command answered before the restart got %d replies, want 1", n)
	}
}

// TestCrashRightAfterCommand kills Steward (SIGKILL) right after a command arrives:
// whatever moment the kill lands at, the command is answered exactly once: with its
// result, or with a note that it was interrupted and not run again.
func TestCrashRightAfterCommand(t *testing.T) {
	ctx := t.Context()
	for i := range 3 {
		eventID, err := w.bob.Say(ctx, w.adminRoom, "!ping")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i*150) * time.Millisecond)
		if err = w.steward.Kill(); err != nil {
			t.Fatal(err)
		}
		if err = w.steward.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err = w.bob.WaitForReply(ctx, w.stewardID, w.adminRoom, eventID, 60*time.Second); err != nil {
			t.Fatal(err)
		}
		command(t, w.bob, w.adminRoom, "!ping")
		if n := len(w.bob.RepliesTo(w.stewardID, w.adminRoom, eventID)); n != 1 {
			t.Errorf("kill after %d ms: %d replies, want exactly 1", i*150, n)
		}
	}
}

// TestStaleCommandIsNotRun sends a command while Steward is down for longer than
// stale_after: it must be answered, but not run.
func TestStaleCommandIsNotRun(t *testing.T) {
	ctx := t.Context()
	if err := w.steward.Stop(); err != nil {
		t.Fatal(err)
	}
	saved := w.cfg
	w.cfg.Extra = append(w.cfg.Extra, "stale_after: 2s")
	defer func() {
		_ = w.steward.Stop()
		w.cfg = saved
		if err := w.startSteward(ctx); err != nil {
			t.Fatal(err)
		}
	}()
	eventID, err := w.alice.Say(ctx, w.adminRoom, "!status")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err = w.startSteward(ctx); err != nil {
		t.Fatal(err)
	}
	reply, err := w.alice.WaitForReply(ctx, w.stewardID, w.adminRoom, eventID, 60*time.Second)
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
	w.hs.Stop()
	texts := make([]string, 5)
	for i := range texts {
		texts[i] = fmt.Sprintf("outage notice %d of %d", i+1, len(texts))
		if err := w.steward.Notify(ctx, "admin", texts[i]); err != nil {
			w.hs.Start(ctx)
			t.Fatal(err)
		}
	}
	time.Sleep(4 * time.Second) // let the outbox fail a few times
	if err := w.hs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, evt := range w.alice.Messages(w.adminRoom) {
			if evt.Sender == w.stewardID && strings.HasPrefix(evt.Content.AsMessage().Body, "outage notice") {
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
	command(t, w.alice, w.adminRoom, "!ping")
}

// TestFreshDatabaseComesBackVerified deletes Steward's database (keeping the pickle and
// recovery keys): Steward logs in with a new device, verifies it with the stored
// recovery key, and other clients see it cross-signed.
func TestFreshDatabaseComesBackVerified(t *testing.T) {
	ctx := t.Context()
	oldDevice := assertStewardCrossSigned(t, w.alice)
	if err := w.steward.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(w.cfg.DataDir, "steward.db"+suffix)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := w.steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	newDevice, err := w.steward.DeviceID()
	if err != nil {
		t.Fatal(err)
	}
	if newDevice == oldDevice {
		t.Fatalf("expected a new device after deleting the database, still %s", oldDevice)
	}
	// Fetching the device list is what a client does when told that Steward's devices
	// changed; it also makes alice's next message shared with the new device.
	trust, err := w.alice.DeviceTrust(ctx, w.stewardID, newDevice)
	if err != nil {
		t.Fatal(err)
	}
	if trust < id.TrustStateCrossSignedTOFU {
		t.Errorf("new device %s has trust %s, want cross-signed", newDevice, trust)
	}
	if got := assertStewardCrossSigned(t, w.alice); got != newDevice {
		t.Errorf("reply came from device %s, want the new device %s", got, newDevice)
	}
}
