package state_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-bot/steward/state"
)

// The newest in-place restore is found past a later restore to the staging folder,
// so what the in-place one left undone (containers not started again) stays known.
func TestLatestInPlaceRestore(t *testing.T) {
	ctx := t.Context()
	db := openAt(t, filepath.Join(t.TempDir(), "steward.db"))
	defer db.Close()
	runs := db.BackupRuns
	if got := must(runs.LatestInPlace(ctx, "app"))(t); got != nil {
		t.Fatalf("no restore yet: %+v", got)
	}
	now := time.UnixMilli(1_700_000_000_000)
	inPlace := &state.BackupRun{Set: "app", Kind: "restore", Started: now, State: `{"path":"/srv/app","in_place":true}`}
	check(t, runs.Start(ctx, inPlace))
	for _, r := range []*state.BackupRun{
		{Set: "app", Kind: "restore", Started: now, State: `{"path":"/srv/app","in_place":false}`},
		{Set: "other", Kind: "restore", Started: now, State: `{"path":"/srv/other","in_place":true}`},
		{Set: "app", Kind: "check", Started: now},
	} {
		check(t, runs.Start(ctx, r))
	}
	if got := must(runs.LatestInPlace(ctx, "app"))(t); got == nil || got.ID != inPlace.ID {
		t.Errorf("LatestInPlace = %+v, want run %d", got, inPlace.ID)
	}
}
