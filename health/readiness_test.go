package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/state"
)

var now = time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)

// The rules of readiness: a sync within the limit (a long poll waiting within its
// time counts as current), a database that takes a write, an outbox not stuck; and
// of being alive, which a homeserver outage is not the opposite of.
func TestReadinessRules(t *testing.T) {
	fine := Sync{Done: true, LastSuccess: now.Add(-5 * time.Second), Progress: now.Add(-5 * time.Second)}
	for _, tc := range []struct {
		name               string
		sync               Sync
		kv                 *memKV
		outbox             fakeOutbox
		sync_, db, outbox_ bool
		alive              bool
	}{
		{name: "all fine", sync: fine, kv: &memKV{}, sync_: true, db: true, outbox_: true, alive: true},
		{name: "before the first sync", sync: Sync{Progress: now}, kv: &memKV{}, db: true, outbox_: true, alive: true},
		{name: "last sync 59 s ago", sync: Sync{Done: true, LastSuccess: now.Add(-59 * time.Second), Progress: now.Add(-time.Second)},
			kv: &memKV{}, sync_: true, db: true, outbox_: true, alive: true},
		{name: "last sync 61 s ago, failing since", sync: Sync{Done: true, LastSuccess: now.Add(-61 * time.Second), FailingSince: now.Add(-50 * time.Second),
			UnreachableSince: now.Add(-50 * time.Second), Progress: now.Add(-2 * time.Second)},
			kv: &memKV{}, db: true, outbox_: true, alive: true},
		{name: "a long poll waiting 35 s after a success 35 s ago", sync: Sync{Done: true, LastSuccess: now.Add(-35 * time.Second),
			PollingSince: now.Add(-35 * time.Second), PollTimeout: 30 * time.Second, Progress: now.Add(-35 * time.Second)},
			kv: &memKV{}, sync_: true, db: true, outbox_: true, alive: true},
		{name: "a long poll hanging for 70 s", sync: Sync{Done: true, LastSuccess: now.Add(-70 * time.Second),
			PollingSince: now.Add(-70 * time.Second), PollTimeout: 30 * time.Second, Progress: now.Add(-70 * time.Second)},
			kv: &memKV{}, db: true, outbox_: true, alive: true},
		{name: "a batch handled for 20 s, after a success 50 s ago", sync: Sync{Done: true, LastSuccess: now.Add(-50 * time.Second),
			HandlingSince: now.Add(-20 * time.Second), Progress: now.Add(-20 * time.Second)},
			kv: &memKV{}, sync_: true, db: true, outbox_: true, alive: true},
		{name: "a batch handled for 65 s", sync: Sync{Done: true, LastSuccess: now.Add(-95 * time.Second),
			HandlingSince: now.Add(-65 * time.Second), Progress: now.Add(-65 * time.Second)},
			kv: &memKV{}, db: true, outbox_: true, alive: true},
		{name: "the sync loop stuck in a step for 6 minutes", sync: Sync{Done: true, LastSuccess: now.Add(-6 * time.Minute), Progress: now.Add(-6 * time.Minute)},
			kv: &memKV{}, db: true, outbox_: true},
		{name: "a full disk", sync: fine, kv: &memKV{fail: errors.New("database or disk is full")}, sync_: true, outbox_: true, alive: true},
		{name: "a database locked by a stuck writer", sync: fine, kv: &memKV{block: true}, sync_: true, outbox_: true},
		{name: "a message waiting 4m59s", sync: fine, kv: &memKV{}, outbox: fakeOutbox{n: 3, oldest: now.Add(-4*time.Minute - 59*time.Second)},
			sync_: true, db: true, outbox_: true, alive: true},
		{name: "a message waiting 5 minutes", sync: fine, kv: &memKV{}, outbox: fakeOutbox{n: 3, oldest: now.Add(-5 * time.Minute)},
			sync_: true, db: true, alive: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Readiness{Sync: &fakeSync{s: tc.sync}, KV: tc.kv, Outbox: &tc.outbox, SyncAge: time.Minute, Now: func() time.Time { return now }}
			rep := r.Check(t.Context())
			if rep.Sync.OK != tc.sync_ || rep.Database.OK != tc.db || rep.Outbox.OK != tc.outbox_ || rep.Ready != (tc.sync_ && tc.db && tc.outbox_) {
				t.Errorf("report %+v, want sync %v, database %v, outbox %v", rep, tc.sync_, tc.db, tc.outbox_)
			}
			for _, p := range []Part{rep.Sync, rep.Database, rep.Outbox} {
				if p.OK != (p.Problem == "") {
					t.Errorf("a part says ok=%v with problem %q", p.OK, p.Problem)
				}
			}
			if got := r.Alive(t.Context()); got != tc.alive {
				t.Errorf("alive = %v, want %v", got, tc.alive)
			}
		})
	}
}

// /readyz says which condition failed, in a short JSON body, with 503; 200 when
// ready. A burst of requests writes to the database once.
func TestReadyzSaysWhatFailed(t *testing.T) {
	clock := now
	sync := &fakeSync{s: Sync{Done: true, LastSuccess: now.Add(-2 * time.Minute), UnreachableSince: now.Add(-90 * time.Second), Progress: now}}
	kv := &memKV{}
	r := &Readiness{Sync: sync, KV: kv, Outbox: &fakeOutbox{}, SyncAge: time.Minute, Now: func() time.Time { return clock }}
	get := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		r.Readyz().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("not JSON: %q", rec.Body.String())
		}
		return rec.Code, body
	}
	code, body := get()
	if code != http.StatusServiceUnavailable || body["ready"] != false {
		t.Fatalf("%d %v", code, body)
	}
	syncPart, _ := body["sync"].(map[string]any)
	if syncPart["ok"] != false || !strings.Contains(syncPart["problem"].(string), "2 minutes") || !strings.Contains(syncPart["problem"].(string), "can't be reached") {
		t.Errorf("sync part: %v", syncPart)
	}
	if db, _ := body["database"].(map[string]any); db["ok"] != true || db["problem"] != nil {
		t.Errorf("database part: %v", db)
	}
	for range 50 {
		get()
	}
	if kv.writes != 1 {
		t.Errorf("51 requests within a second made %d database writes", kv.writes)
	}

	sync.set(Sync{Done: true, LastSuccess: now, Progress: now})
	clock = now.Add(time.Second)
	if code, body = get(); code != http.StatusOK || body["ready"] != true {
		t.Errorf("when ready: %d %v", code, body)
	}

	rec := httptest.NewRecorder()
	Healthz().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("/healthz: %d", rec.Code)
	}
}

// A caller that gives up on /readyz (a health checker's timeout, anyone closing the
// connection at once: it needs no token) does not make the report it leaves behind
// say the database failed: that report answers the heartbeat and the watchdog too,
// for a second. It did, with the real database's "context canceled", so a client
// closing its requests in a loop paused the heartbeat and its watcher alerted.
func TestReadinessOutlivesAnAskerWhoGaveUp(t *testing.T) {
	db, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	r := &Readiness{Sync: &fakeSync{s: Sync{Done: true, LastSuccess: now, Progress: now}}, KV: db.KV, Outbox: db.Outbox,
		SyncAge: time.Minute, Now: func() time.Time { return now }}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	rec := httptest.NewRecorder()
	r.Readyz().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil).WithContext(gone))
	if rep := r.Check(t.Context()); !rep.Ready {
		t.Errorf("after an asker gave up, the heartbeat reads %+v", rep)
	}
}
