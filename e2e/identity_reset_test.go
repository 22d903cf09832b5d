package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
)

// TestResetCrossSigning loses the recovery key and the database, and starts Steward
// with --reset-cross-signing: it comes back with a new identity that a newcomer trusts,
// while those who knew the old one see that it changed. It resets a Steward of its
// own: every client that saw the shared one's identity would flag it afterwards.
func TestResetCrossSigning(t *testing.T) {
	ctx := t.Context()
	s, cfg, err := w.NewSteward(ctx, "steward-reset")
	if s != nil {
		t.Cleanup(func() { _ = s.Stop() })
	}
	if err != nil {
		t.Fatal(err)
	}
	// alice now knows the current identity.
	ping, err := w.Alice.Say(ctx, cfg.AdminRoom, "!ping")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := w.Alice.WaitForReply(ctx, cfg.UserID, cfg.AdminRoom, ping, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Mautrix.TrustSource == nil {
		t.Fatal("the reply carries no sending device")
	}
	if reply.Mautrix.TrustState < id.TrustStateCrossSignedTOFU {
		t.Errorf("reply decrypted with trust %s, want cross-signed", reply.Mautrix.TrustState)
	}
	if trust, err := w.Alice.DeviceTrust(ctx, cfg.UserID, reply.Mautrix.TrustSource.DeviceID); err != nil || trust < id.TrustStateCrossSignedTOFU {
		t.Fatalf("before the reset alice sees Steward's device with trust %s (%v), want cross-signed", trust, err)
	}
	if err = s.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"recovery-key", "steward.db", "steward.db-wal", "steward.db-shm"} {
		if err := os.Remove(filepath.Join(cfg.DataDir, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	s.Args = []string{"--reset-cross-signing"}
	err = s.Start(ctx)
	s.Args = nil
	if err != nil {
		t.Fatal(err)
	}
	if _, err = os.Stat(filepath.Join(cfg.DataDir, "recovery-key")); err != nil {
		t.Errorf("no new recovery key: %v", err)
	}
	device, err := s.DeviceID()
	if err != nil {
		t.Fatal(err)
	}
	if err = testbed.Register(ctx, w.HS.URL, "dave", testbed.Password); err != nil {
		t.Fatal(err)
	}
	dave, err := testbed.NewClient(ctx, w.HS.URL, "dave", testbed.Password, w.Dir, w.Alice.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer dave.Close()
	if trust, err := dave.DeviceTrust(ctx, cfg.UserID, device); err != nil || trust < id.TrustStateCrossSignedTOFU {
		t.Errorf("a newcomer sees Steward's new device with trust %s (%v), want cross-signed", trust, err)
	}
	if trust, err := w.Alice.DeviceTrust(ctx, cfg.UserID, device); err != nil || trust != id.TrustStateCrossSignedUntrusted {
		t.Errorf("alice, who knew the old identity, sees trust %s (%v), want %s", trust, err, id.TrustStateCrossSignedUntrusted)
	}
}
