package state_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/steward-bot/steward/state"
)

// rehash recomputes every link and hash of the log, as someone who edited an entry
// and knows how the chain is made would, so that Verify finds nothing.
func rehash(t *testing.T, db *state.DB) {
	t.Helper()
	ctx := context.Background()
	var entries []*state.AuditEntry
	if err := db.Audit.Each(ctx, func(e *state.AuditEntry) error { entries = append(entries, e); return nil }); err != nil {
		t.Fatal(err)
	}
	prev := ""
	for _, e := range entries {
		e.PrevHash = prev
		e.Hash = e.ComputeHash()
		if _, err := db.Raw.RawDB.ExecContext(ctx, "UPDATE audit SET prev_hash=?, hash=? WHERE id=?", e.PrevHash, e.Hash, e.ID); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
	if _, err := db.Audit.Verify(ctx); err != nil {
		t.Fatalf("the rehashed log should verify: %v", err)
	}
}

// TestExtendsRefusesARewrittenLog anchors entry 5 of a log, tampers with the log the
// ways a rooted host can, and checks that Extends refuses every rewritten past, names
// the entry, and accepts a log that only grew.
func TestExtendsRefusesARewrittenLog(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(t *testing.T, db *state.DB)
		badID   int64
		inError string
	}{
		{"grown", func(t *testing.T, db *state.DB) { appendEntries(t, db, 3) }, 0, ""},
		{"untouched", func(*testing.T, *state.DB) {}, 0, ""},
		{"tail cut off", func(t *testing.T, db *state.DB) { exec(t, db, "DELETE FROM audit WHERE id > 3") }, 5, "gone"},
		{"tail cut off and grown again", func(t *testing.T, db *state.DB) {
			exec(t, db, "DELETE FROM audit WHERE id > 3")
			appendEntries(t, db, 4) // IDs are not reused: the anchored one stays gone
		}, 5, "gone"},
		{"edited before the anchor and rehashed", func(t *testing.T, db *state.DB) {
			exec(t, db, "UPDATE audit SET actor='@mallory:example.org' WHERE id=2")
			rehash(t, db)
		}, 5, "rewritten"},
		{"the anchored entry edited and rehashed", func(t *testing.T, db *state.DB) {
			exec(t, db, "UPDATE audit SET outcome='refused' WHERE id=5")
			rehash(t, db)
		}, 5, "rewritten"},
		{"the anchored entry edited, hash kept", func(t *testing.T, db *state.DB) {
			exec(t, db, "UPDATE audit SET outcome='refused' WHERE id=5")
		}, 5, "edited"},
		{"an entry after the anchor edited", func(t *testing.T, db *state.DB) {
			appendEntries(t, db, 3)
			exec(t, db, "UPDATE audit SET outcome='refused' WHERE id=7")
		}, 7, "edited"},
		{"an entry after the anchor deleted", func(t *testing.T, db *state.DB) {
			appendEntries(t, db, 3)
			exec(t, db, "DELETE FROM audit WHERE id=6")
		}, 7, "does not link"},
		{"everything deleted", func(t *testing.T, db *state.DB) { exec(t, db, "DELETE FROM audit") }, 5, "gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			db := openTemp(t)
			appendEntries(t, db, 5)
			anchorID, anchorHash, err := db.Audit.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			anchored := state.AuditHead{ID: anchorID, Hash: anchorHash}
			tt.tamper(t, db)
			head, err := db.Audit.Extends(ctx, anchored)
			if tt.badID == 0 {
				wantID, wantHash, _ := db.Audit.Head(ctx)
				if err != nil || head != (state.AuditHead{ID: wantID, Hash: wantHash}) {
					t.Fatalf("Extends = %+v, %v; want the head #%d and no error", head, err, wantID)
				}
				return
			}
			var chainErr *state.ChainError
			if !errors.As(err, &chainErr) || chainErr.EntryID != tt.badID || !strings.Contains(chainErr.Reason, tt.inError) {
				t.Fatalf("Extends = %+v, %v; want a chain error at entry %d saying %q", head, err, tt.badID, tt.inError)
			}
		})
	}
}

// TestExtendsFromNothing: a new Steward has anchored nothing, and any log extends that.
func TestExtendsFromNothing(t *testing.T) {
	db := openTemp(t)
	if head, err := db.Audit.Extends(t.Context(), state.AuditHead{}); err != nil || head.ID != 0 {
		t.Fatalf("Extends of an empty log = %+v, %v", head, err)
	}
	appendEntries(t, db, 2)
	if head, err := db.Audit.Extends(t.Context(), state.AuditHead{}); err != nil || head.ID != 2 {
		t.Fatalf("Extends = %+v, %v; want head #2", head, err)
	}
}

func exec(t *testing.T, db *state.DB, sql string) {
	t.Helper()
	if _, err := db.Raw.RawDB.ExecContext(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

// TestCheckCheckpointsReport compares a log with checkpoints read back from the room,
// some redacted and some unreadable: the report counts what was compared, lists every
// redacted one, and still names the first misfit past a redaction.
func TestCheckCheckpointsReport(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	appendEntries(t, db, 6)
	at := func(entryID int64) state.Checkpoint {
		hash, err := db.Audit.HashOf(ctx, entryID)
		if err != nil || hash == "" {
			t.Fatalf("entry %d: %q, %v", entryID, hash, err)
		}
		return state.Checkpoint{AuditHead: state.AuditHead{ID: entryID, Hash: hash}, EventID: "$cp"}
	}
	checkpoints := []state.Checkpoint{
		at(2), {EventID: "$gone", Redacted: true}, {EventID: "$sealed", Unreadable: true}, at(4), at(6),
	}
	report, err := db.Audit.CheckCheckpoints(ctx, checkpoints)
	if err != nil {
		t.Fatal(err)
	}
	if report.Compared != 3 || report.Newest == nil || report.Newest.ID != 6 || report.Misfit != nil || report.Unreadable != 1 ||
		len(report.Redacted) != 1 || report.Redacted[0].EventID != "$gone" || report.Fits() {
		t.Fatalf("report of an intact log with a redacted checkpoint = %+v, want 3 compared, newest #6, 1 redacted, 1 unreadable, not fitting", report)
	}

	if report, err = db.Audit.CheckCheckpoints(ctx, []state.Checkpoint{at(2), at(4)}); err != nil || !report.Fits() || report.Compared != 2 {
		t.Fatalf("report of an intact log = %+v, %v; want it to fit", report, err)
	}
	// A message of Steward's current device it can't decrypt had its keys removed from
	// the database: whatever it said is hidden, so the log does not pass. One of an
	// earlier device only counts.
	earlier := state.Checkpoint{EventID: "$old", Unreadable: true}
	if report, err = db.Audit.CheckCheckpoints(ctx, []state.Checkpoint{at(2), earlier, at(4)}); err != nil || !report.Fits() || report.Unreadable != 1 {
		t.Fatalf("report with a message of an earlier device = %+v, %v; want it to fit, 1 unreadable", report, err)
	}
	stripped := state.Checkpoint{EventID: "$stripped", Unreadable: true, KeysMissing: true}
	if report, err = db.Audit.CheckCheckpoints(ctx, []state.Checkpoint{at(2), at(4), stripped}); err != nil || report.Fits() ||
		report.Unreadable != 1 || report.KeysMissing != 1 || report.Compared != 2 {
		t.Fatalf("report with a message whose keys were removed = %+v, %v; want it not to fit", report, err)
	}

	exec(t, db, "DELETE FROM audit WHERE id > 3")
	if report, err = db.Audit.CheckCheckpoints(ctx, checkpoints); err != nil {
		t.Fatal(err)
	}
	if report.Misfit == nil || report.Misfit.Checkpoint.ID != 4 || !strings.Contains(report.Misfit.Reason, "no longer in the log") ||
		report.Compared != 3 || len(report.Redacted) != 1 {
		t.Fatalf("report of a cut-back log = %+v (misfit %+v), want entry 4 named past the redaction", report, report.Misfit)
	}

	if report, err = db.Audit.CheckCheckpoints(ctx, nil); err != nil || !report.Fits() || report.Compared != 0 || report.Newest != nil {
		t.Fatalf("report of no checkpoints = %+v, %v", report, err)
	}
}
