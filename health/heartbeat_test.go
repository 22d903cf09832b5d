package health

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/state"
)

// run starts fn on a context the returned stop ends, and waits for it to return.
func run(t *testing.T, fn func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// The heartbeat goes out every Every while Steward is ready and not at all while it
// is not, so the watcher alerts; it resumes when Steward is ready again. The push
// URL's secret path is never logged.
func TestHeartbeatSkipsWhileNotReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const secret = "0e9a8f2c-6f1b-4c53-9d2e-secret"
		var logs bytes.Buffer
		srv := &recorder{}
		ready := &fixedReady{ready: true}
		hb := &Heartbeat{URL: "https://hc.example.org/ping/" + secret, Every: time.Minute, Ready: ready, Client: srv.client()}
		stop := run(t, func(ctx context.Context) { hb.Run(zerolog.New(&logs).WithContext(ctx)) })
		defer stop()

		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		if got := len(srv.all()); got != 3 {
			t.Fatalf("%d heartbeats in the first 2 minutes, want 3 (at 0, 1 and 2 minutes)", got)
		}
		ready.set(false)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if got := len(srv.all()); got != 3 {
			t.Errorf("%d heartbeats after 5 minutes not ready, want still 3", got)
		}
		ready.set(true)
		time.Sleep(time.Minute)
		synctest.Wait()
		beats := srv.all()
		if len(beats) != 4 {
			t.Fatalf("%d heartbeats once ready again, want 4", len(beats))
		}
		for i := 1; i < len(beats); i++ {
			if gap := beats[i].at.Sub(beats[i-1].at); gap < time.Minute {
				t.Errorf("heartbeats %d and %d only %s apart", i-1, i, gap)
			}
		}
		srv.mu.Lock()
		srv.down = true
		srv.mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()
		if !strings.Contains(logs.String(), "Failed to send the heartbeat") || !strings.Contains(logs.String(), "Not ready") {
			t.Errorf("the log does not say the heartbeat stopped or failed:\n%s", logs.String())
		}
		if strings.Contains(logs.String(), secret) || !strings.Contains(logs.String(), "hc.example.org") {
			t.Errorf("the log shows the push URL's secret, or not its host:\n%s", logs.String())
		}
	})
}

// One notice per outage: after After unreachable, not before, not again while the
// outage lasts (a restart in the middle included), again in a later outage. It says
// since when and how many critical alerts wait, and names nothing.
func TestFallbackOncePerOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &recorder{}
		kv := &memKV{}
		sync := &fakeSync{s: Sync{Done: true, LastSuccess: time.Now()}}
		alerts := counts{{Check: "http:grandmas-photo-album", Severity: state.SeverityCritical, N: 2},
			{Check: "alertmanager", Severity: state.SeverityCritical, N: 1}, {Check: "disk", Severity: state.SeverityWarning, N: 4}}
		start := func() func() {
			f := &Fallback{URL: "https://ntfy.example.org/steward-topic", After: 5 * time.Minute, Sync: sync, Alerts: alerts, KV: kv,
				Client: srv.client(), Every: time.Second, Now: time.Now}
			return run(t, f.Run)
		}
		stop := start()
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(srv.all()); n != 0 {
			t.Fatalf("%d notices while the homeserver answers", n)
		}

		down := time.Now()
		sync.set(Sync{Done: true, FailingSince: down, UnreachableSince: down, LastSuccess: down.Add(-time.Second)})
		time.Sleep(4 * time.Minute)
		synctest.Wait()
		if n := len(srv.all()); n != 0 {
			t.Fatalf("%d notices 4 minutes into the outage, before fallback.after", n)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		notices := srv.all()
		if len(notices) != 1 {
			t.Fatalf("%d notices 6 minutes into the outage, want 1", len(notices))
		}
		n := notices[0]
		if n.method != "POST" || !strings.Contains(n.body, "can't reach its Matrix homeserver since "+down.UTC().Format("2006-01-02 15:04 UTC")) ||
			!strings.Contains(n.body, "3 critical alerts are waiting") {
			t.Errorf("notice %s: %q", n.method, n.body)
		}
		for _, word := range []string{"grandmas", "photo", "alertmanager", "disk", "http"} {
			if strings.Contains(n.body, word) {
				t.Errorf("the notice names %q: %q", word, n.body)
			}
		}

		time.Sleep(time.Hour)
		stop()
		stop = start() // a restart in the middle of the outage
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(srv.all()); n != 1 {
			t.Fatalf("%d notices after two hours and a restart in the same outage, want 1", n)
		}

		sync.set(Sync{Done: true, LastSuccess: time.Now()})
		time.Sleep(time.Minute)
		down = time.Now()
		sync.set(Sync{Done: true, FailingSince: down, UnreachableSince: down, LastSuccess: down})
		time.Sleep(6 * time.Minute)
		synctest.Wait()
		stop()
		if n := len(srv.all()); n != 2 {
			t.Errorf("%d notices after a second outage, want 2", n)
		}
	})
}

// A notice that can't be posted is tried again, and counts as sent only once it was.
func TestFallbackRetriesAFailedPost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &recorder{down: true}
		down := time.Now()
		sync := &fakeSync{s: Sync{Done: true, FailingSince: down, UnreachableSince: down}}
		f := &Fallback{URL: "https://ntfy.example.org/t", After: time.Minute, Sync: sync, Alerts: counts{}, KV: &memKV{},
			Client: srv.client(), Every: time.Second, Now: time.Now}
		stop := run(t, f.Run)
		time.Sleep(5 * time.Minute)
		srv.mu.Lock()
		srv.down = false
		srv.mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()
		if got := srv.all(); len(got) != 1 || !strings.Contains(got[0].body, "No critical alert is waiting") {
			t.Errorf("notices once the fallback URL answers: %+v", got)
		}
	})
}

// systemd hears READY=1 after the first sync, WATCHDOG=1 every half interval while
// Steward is alive and none while it is stuck, and STOPPING=1 at the end.
func TestSystemdNotifications(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var sent []string
		synced := make(chan struct{})
		alive := &fixedAlive{alive: true}
		s := &Systemd{Synced: synced, Alive: alive, Watchdog: 2 * time.Minute, Notify: func(state string) error {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, state)
			return nil
		}}
		got := func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), sent...)
		}
		stop := run(t, s.Run)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if g := got(); len(g) != 0 {
			t.Fatalf("notified before the first sync: %q", g)
		}
		close(synced)
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		want := []string{daemon.SdNotifyReady, daemon.SdNotifyWatchdog, daemon.SdNotifyWatchdog, daemon.SdNotifyWatchdog}
		if g := got(); strings.Join(g, " ") != strings.Join(want, " ") {
			t.Fatalf("after the first sync and 2 minutes: %q, want %q", g, want)
		}
		alive.set(false)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if g := got(); len(g) != len(want) {
			t.Errorf("fed the watchdog while stuck: %q", g[len(want):])
		}
		stop()
		if g := got(); g[len(g)-1] != daemon.SdNotifyStopping {
			t.Errorf("last notification %q, want STOPPING=1", g[len(g)-1])
		}
	})
}

type fixedAlive struct {
	mu    sync.Mutex
	alive bool
}

func (f *fixedAlive) Alive(context.Context) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.alive
}

func (f *fixedAlive) set(alive bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alive = alive
}
