package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/state"
)

// appendEntries writes n entries and returns the database.
func appendEntries(t testing.TB, db *state.DB, n int) {
	t.Helper()
	for i := range n {
		_, err := db.Audit.Append(context.Background(), &state.AuditEntry{
			Actor: "@alice:example.org", ActorDevice: "PHONE", RoomID: room, EventID: "$e",
			Action: "command.ping", Arguments: fmt.Sprint(i), Outcome: state.OutcomeOK,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecisionLogChainCatchesTampering edits, deletes and reorders entries behind
// Steward's back, and checks that Verify names the first entry that no longer fits.
func TestDecisionLogChainCatchesTampering(t *testing.T) {
	tests := []struct {
		name    string
		tamper  string // SQL run on a log of 5 entries
		badID   int64
		inError string
	}{
		{"untouched", "", 0, ""},
		{"edited outcome", "UPDATE audit SET outcome='refused' WHERE id=3", 3, "edited"},
		{"edited actor and rehashed", "UPDATE audit SET actor='@mallory:example.org', hash='" + fmt.Sprintf("%064d", 0) + "' WHERE id=2", 2, "edited"},
		{"deleted from the middle", "DELETE FROM audit WHERE id=3", 4, "does not link"},
		{"reordered", `UPDATE audit SET arguments = CASE id WHEN 2 THEN '3' WHEN 3 THEN '2' END,
			hash = CASE id WHEN 2 THEN (SELECT hash FROM audit WHERE id=3) WHEN 3 THEN (SELECT hash FROM audit WHERE id=2) END,
			prev_hash = CASE id WHEN 2 THEN (SELECT prev_hash FROM audit WHERE id=3) WHEN 3 THEN (SELECT prev_hash FROM audit WHERE id=2) END
			WHERE id IN (2, 3)`, 2, "does not link"},
		{"renumbered", "UPDATE audit SET id=id+100 WHERE id=5", 105, "edited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			db := openTemp(t)
			appendEntries(t, db, 5)
			if tt.tamper != "" {
				if _, err := db.Raw.RawDB.ExecContext(ctx, tt.tamper); err != nil {
					t.Fatal(err)
				}
			}
			checked, err := db.Audit.Verify(ctx)
			if tt.badID == 0 {
				if err != nil || checked != 5 {
					t.Fatalf("Verify = %d, %v; want 5 entries and no error", checked, err)
				}
				return
			}
			var chainErr *state.ChainError
			if !errors.As(err, &chainErr) {
				t.Fatalf("Verify = %d, %v; want a ChainError", checked, err)
			}
			if chainErr.EntryID != tt.badID || !strings.Contains(chainErr.Reason, tt.inError) {
				t.Errorf("ChainError = %v, want entry %d (%s)", chainErr, tt.badID, tt.inError)
			}
		})
	}
}

// TestDecisionLogAppendsRace appends from many goroutines at once: the chain must
// still verify (no two entries chained to the same predecessor).
func TestDecisionLogAppendsRace(t *testing.T) {
	db := openTemp(t)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				_, err = db.Audit.Append(context.Background(), &state.AuditEntry{Actor: "@a:x", Action: "command.ping", Outcome: state.OutcomeOK})
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.Audit.Verify(t.Context()); err != nil || n != 160 {
		t.Fatalf("Verify after concurrent appends = %d, %v; want 160 entries intact", n, err)
	}
}

// BenchmarkDecisionLogAppend measures durable appends (each its own transaction, as
// Steward writes them).
func BenchmarkDecisionLogAppend(b *testing.B) {
	db := openTemp(b)
	start := time.Now()
	n := 0
	for b.Loop() {
		appendEntries(b, db, 1)
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "entries/s")
}

// BenchmarkDecisionLogVerifyMillion verifies a chain of one million entries. The chain
// is built in one transaction (not timed).
func BenchmarkDecisionLogVerifyMillion(b *testing.B) {
	ctx := context.Background()
	db := openTemp(b)
	err := db.DoTxn(ctx, func(ctx context.Context) error {
		for i := range 1_000_000 {
			if _, err := db.Audit.Append(ctx, &state.AuditEntry{
				Actor: "@alice:example.org", RoomID: room, Action: "command.ping", Arguments: fmt.Sprint(i), Outcome: state.OutcomeOK,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n, err := db.Audit.Verify(ctx)
		if err != nil || n != 1_000_000 {
			b.Fatalf("Verify = %d, %v", n, err)
		}
	}
}

// TestDecisionLogRehashedEditIsCaught: an editor who also recomputes the edited entry's
// hash still breaks the link from the next entry.
func TestDecisionLogRehashedEditIsCaught(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	appendEntries(t, db, 4)
	entries, err := db.Audit.Find(ctx, state.AuditFilter{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	victim := entries[2] // newest first: this is entry 2
	victim.Outcome = state.OutcomeRefused
	victim.Hash = victim.ComputeHash()
	if _, err = db.Raw.RawDB.ExecContext(ctx, "UPDATE audit SET outcome=?, hash=? WHERE id=?", victim.Outcome, victim.Hash, victim.ID); err != nil {
		t.Fatal(err)
	}
	_, err = db.Audit.Verify(ctx)
	var chainErr *state.ChainError
	if !errors.As(err, &chainErr) || chainErr.EntryID != victim.ID+1 {
		t.Fatalf("Verify = %v, want the entry after %d named", err, victim.ID)
	}
}

// TestDecisionLogFind: the SQL filter and AuditFilter.Matches agree, newest first.
func TestDecisionLogFind(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	now := time.Now()
	for _, e := range []*state.AuditEntry{
		{Time: now.Add(-10 * 24 * time.Hour), Actor: "@alice:x", Action: "command.update", Outcome: "ok"},
		{Time: now.Add(-2 * time.Hour), Actor: "@bob:x", Action: "command.update", Outcome: "ok"},
		{Time: now.Add(-time.Hour), Actor: "@alice:x", Action: "invite", Outcome: "refused"},
		{Time: now, Actor: "@alice:x", Action: "command.ping", Outcome: "ok"},
	} {
		if _, err := db.Audit.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.Audit.Find(ctx, state.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []state.AuditFilter{
		{Limit: 100},
		{Limit: 2},
		{Limit: 100, Actor: "@alice:x"},
		{Limit: 100, Action: "update"},
		{Limit: 100, Action: "invite"},
		{Limit: 100, Since: now.Add(-7 * 24 * time.Hour)},
		{Limit: 100, Actor: "@alice:x", Action: "update", Since: now.Add(-7 * 24 * time.Hour)},
	} {
		got, err := db.Audit.Find(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for _, e := range all {
			if f.Matches(e) && len(want) < f.Limit {
				want = append(want, e.ID)
			}
		}
		var gotIDs []int64
		for _, e := range got {
			gotIDs = append(gotIDs, e.ID)
		}
		if fmt.Sprint(gotIDs) != fmt.Sprint(want) {
			t.Errorf("Find(%+v) = %v, want %v", f, gotIDs, want)
		}
	}
	if got, _ := db.Audit.Find(ctx, state.AuditFilter{Limit: 100, Action: "update"}); len(got) != 2 || got[0].Actor != "@bob:x" {
		t.Errorf("Find(action update) = %d entries, newest first by bob expected", len(got))
	}
}
