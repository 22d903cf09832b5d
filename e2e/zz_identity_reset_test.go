package e2e

// This file's name sorts last on purpose: the test replaces Steward's cross-signing
// identity, which every client that saw the old one keeps flagging afterwards.

import (
	"os"
	"path/filepath"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
)

// TestResetCrossSigning loses the recovery key and the database, and starts Steward
// with --reset-cross-signing: it comes back with a new identity that a newcomer trusts,
// while those who knew the old one see that it changed.
func TestResetCrossSigning(t *testing.T) {
	ctx := t.Context()
	assertStewardCrossSigned(t, w.Alice) // alice now knows the current identity
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"recovery-key", "steward.db", "steward.db-wal", "steward.db-shm"} {
		if err := os.Remove(filepath.Join(w.Config.DataDir, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	w.Steward.Args = []string{"--reset-cross-signing"}
	err := w.Steward.Start(ctx)
	w.Steward.Args = nil
	if err != nil {
		t.Fatal(err)
	}
	if _, err = os.Stat(filepath.Join(w.Config.DataDir, "recovery-key")); err != nil {
		t.Errorf("no new recovery key: %v", err)
	}
	device, err := w.Steward.DeviceID()
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
	if trust, err := dave.DeviceTrust(ctx, w.StewardID, device); err != nil || trust < id.TrustStateCrossSignedTOFU {
		t.Errorf("a newcomer sees Steward's new device with trust %s (%v), want cross-signed", trust, err)
	}
	if trust, err := w.Alice.DeviceTrust(ctx, w.StewardID, device); err != nil || trust != id.TrustStateCrossSignedUntrusted {
		t.Errorf("alice, who knew the old identity, sees trust %s (%v), want %s", trust, err, id.TrustStateCrossSignedUntrusted)
	}
}
