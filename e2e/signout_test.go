package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/steward-bot/steward/state"
)

// TestSignedOutDeviceNeedsAnOperator signs Steward's session out (as someone could from
// their client): Steward stops, and after a restart (as the service manager would do)
// it exits with status 3 and says what to do instead of looping; done as it says, it
// comes back with a new, verified device.
func TestSignedOutDeviceNeedsAnOperator(t *testing.T) {
	ctx := t.Context()
	dbPath := filepath.Join(w.Config.DataDir, "steward.db")
	token := storedAccessToken(t, ctx, dbPath)
	cli, err := mautrix.NewClient(w.HS.URL, w.StewardID, token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = cli.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if !w.Steward.WaitExit(60 * time.Second) {
		t.Fatal("Steward kept running after its session was signed out")
	}
	if err = w.Steward.Start(ctx); err == nil {
		t.Fatal("Steward started with a signed-out device")
	}
	if code := w.Steward.ExitCode(); code != 3 {
		t.Errorf("exit status %d, want 3", code)
	}
	logText, err := os.ReadFile(w.Steward.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logText), "no longer exists on the homeserver") {
		t.Error("the log does not say what happened")
	}

	// The operator follows the instructions.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(dbPath+suffix, dbPath+suffix+".old"); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	device, err := w.Steward.DeviceID()
	if err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.DeviceTrust(ctx, w.StewardID, device); err != nil {
		t.Fatal(err)
	}
	assertStewardCrossSigned(t, w.Alice)
}

// storedAccessToken reads Steward's session token from its database.
func storedAccessToken(t *testing.T, ctx context.Context, path string) string {
	t.Helper()
	db, err := state.Open(ctx, path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	token, err := db.KV.Get(ctx, "session.access_token")
	if err != nil || token == "" {
		t.Fatalf("no stored access token (%v)", err)
	}
	return token
}
