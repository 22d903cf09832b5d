package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
)

// watcher is the other machine: a Healthchecks-like server that counts the heartbeats
// and an ntfy-like topic that keeps the fallback notices.
type watcher struct {
	mu      sync.Mutex
	beats   []time.Time
	notices []string
}

func (wt *watcher) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	wt.mu.Lock()
	defer wt.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/ping/"):
		wt.beats = append(wt.beats, time.Now())
	case r.URL.Path == "/fallback" && r.Method == http.MethodPost:
		wt.notices = append(wt.notices, string(body))
	default:
		http.NotFound(rw, r)
	}
}

func (wt *watcher) counts() (beats int, notices []string) {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	return len(wt.beats), append([]string(nil), wt.notices...)
}

// notifySocket is systemd's end of sd_notify: it keeps what Steward says.
type notifySocket struct {
	conn *net.UnixConn
	mu   sync.Mutex
	got  []string
}

func listenNotify(t *testing.T) (*notifySocket, string) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySocket{conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return s, path
}

func (s *notifySocket) count(state string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.got {
		if g == state {
			n++
		}
	}
	return n
}

// healthWait polls cond every 200 ms until it holds or limit passes.
func healthWait(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("waited %s for %s", limit, what)
}

// healthGet requests url with the bearer token (none when empty) and returns the status
// and body.
func healthGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Watching the watcher, end to end: the health routes and metrics on the listener,
// systemd's notifications, and a homeserver outage. While ready, the heartbeat
// arrives every second; when the homeserver stops, /readyz says the sync failed, the
// heartbeat stops (so the watcher would alert), the watchdog is still fed (an outage
// is not a hang), and the fallback topic gets one notice that names nothing. When
// the homeserver is back, the heartbeat resumes and the admins read the outage's
// alarm and its resolution.
func TestHeartbeatAndFallbackAcrossAnOutage(t *testing.T) {
	ctx := t.Context()
	wt := &watcher{}
	other := httptest.NewServer(wt)
	defer other.Close()
	const secret = "5f0c1d2e-heartbeat-uuid-3a4b"
	// An HTTP check of a service that is down: a critical alert waits during the
	// outage, whose name must not reach the fallback topic.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/"
	dead.Close()
	port, err := testbed.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	token := "e2e-token-0123456789abcdef0123"
	tokenFile := filepath.Join(t.TempDir(), "http-token")
	if err = os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withConfig(t, func(c *testbed.StewardConfig) {
		c.Monitor = fastMonitor(fmt.Sprintf("disks: [], http: [{name: grandmas-album, url: %q, interval: 1s, timeout: 1s}]", deadURL))
		c.TopLevel = append(c.TopLevel,
			fmt.Sprintf("http: {listen: %q, token_file: %q, ready_sync_age: 3s}", listen, tokenFile),
			fmt.Sprintf("heartbeat: {url: %q, every: 1s}", other.URL+"/ping/"+secret),
			fmt.Sprintf("fallback: {url: %q, after: 2s}", other.URL+"/fallback"))
	})
	notify, sock := listenNotify(t)
	w.Steward.Env = []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=2000000"}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + listen

	// The routes.
	if code, _ := healthGet(t, base+"/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := healthGet(t, base+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	if code, _ := healthGet(t, base+"/metrics", "not-the-token-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d, want 401", code)
	}
	healthWait(t, 30*time.Second, "/readyz to say ready", func() bool {
		code, body := healthGet(t, base+"/readyz", "")
		return code == http.StatusOK && strings.Contains(body, `"ready":true`)
	})
	if _, err = w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "grandmas-album does not answer", time.Minute); err != nil {
		t.Fatal(err)
	}
	// The decision log counts every !ping the shared world's Steward ever answered:
	// this one adds one.
	const pings = `steward_commands_total{command="ping",outcome="ok"}`
	_, before := healthGet(t, base+"/metrics", token)
	command(t, w.Alice, w.AdminRoom, "!ping")
	code, metricsText := healthGet(t, base+"/metrics", token)
	if code != http.StatusOK {
		t.Fatalf("/metrics with the token: %d\n%s", code, metricsText)
	}
	if was, now := metricValue(before, pings), metricValue(metricsText, pings); now != max(was, 0)+1 {
		t.Errorf("%s went from %v to %v with one !ping", pings, was, now)
	}
	for series, want := range map[string]float64{`steward_alerts_firing{severity="critical",source="http"}`: 1,
		`steward_http_requests_total{code="401",route="metrics"}`: 2, "steward_undecrypted_events_waiting": 0} {
		if got := metricValue(metricsText, series); got != want {
			t.Errorf("/metrics: %s is %v, want %v", series, got, want)
		}
	}
	for _, name := range []string{"steward_sync_last_success_age_seconds", "steward_outbox_messages", "go_goroutines", "process_resident_memory_bytes"} {
		if metricValue(metricsText, name) < 0 {
			t.Errorf("/metrics has no %s", name)
		}
	}

	// systemd heard that Steward is ready, and the watchdog is fed.
	healthWait(t, 10*time.Second, "READY=1 and WATCHDOG=1", func() bool { return notify.count("READY=1") == 1 && notify.count("WATCHDOG=1") >= 2 })

	// The heartbeat arrives every second.
	healthWait(t, 30*time.Second, "three heartbeats", func() bool { n, _ := wt.counts(); return n >= 3 })
	wt.mu.Lock()
	for i := 1; i < len(wt.beats); i++ {
		if gap := wt.beats[i].Sub(wt.beats[i-1]); gap < 500*time.Millisecond {
			t.Errorf("heartbeats %d and %d only %s apart, with heartbeat.every 1s", i-1, i, gap)
		}
	}
	wt.mu.Unlock()

	// The outage. Whatever happens, the homeserver runs again for the tests after.
	w.HS.Stop()
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = w.HS.Start(context.WithoutCancel(ctx))
		}
	})
	outageStarted := time.Now()
	var readyz string
	healthWait(t, time.Minute, "/readyz to say not ready", func() bool {
		code, body := healthGet(t, base+"/readyz", "")
		readyz = body
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(readyz, `"sync":{"ok":false`) || !strings.Contains(readyz, "can't be reached") || !strings.Contains(readyz, `"database":{"ok":true}`) {
		t.Errorf("/readyz while the homeserver is down: %s", readyz)
	}
	unready, _ := wt.counts()
	time.Sleep(2 * time.Second) // two heartbeat intervals
	settled, _ := wt.counts()
	if settled > unready+2 {
		t.Errorf("%d heartbeats in the two seconds after /readyz said not ready", settled-unready)
	}
	watchdogBefore := notify.count("WATCHDOG=1")
	healthWait(t, 30*time.Second, "the fallback notice", func() bool { _, n := wt.counts(); return len(n) > 0 })
	time.Sleep(4 * time.Second) // four intervals of quiet, and time for a second notice that must not come
	beats, notices := wt.counts()
	if beats != settled {
		t.Errorf("%d heartbeats while the homeserver was down and Steward not ready", beats-settled)
	}
	if len(notices) != 1 {
		t.Fatalf("fallback notices during one outage: %q, want one", notices)
	}
	notice := notices[0]
	if !strings.Contains(notice, "can't reach its Matrix homeserver since "+outageStarted.UTC().Format("2006-01-02 15:04")) &&
		!strings.Contains(notice, "can't reach its Matrix homeserver since "+outageStarted.Add(-time.Minute).UTC().Format("2006-01-02 15:04")) {
		t.Errorf("the notice does not say since when: %q", notice)
	}
	if !strings.Contains(notice, "critical alert") {
		t.Errorf("the notice does not count the critical alerts: %q", notice)
	}
	for _, secretText := range []string{"grandmas", "album", "does not answer", "@", string(w.AdminRoom), string(w.StewardID)} {
		if strings.Contains(notice, secretText) {
			t.Errorf("the unencrypted notice shows %q: %q", secretText, notice)
		}
	}
	if notify.count("WATCHDOG=1") <= watchdogBefore {
		t.Errorf("the watchdog was not fed during the outage: a homeserver outage would restart Steward")
	}

	// The homeserver is back.
	if err = w.HS.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = false
	healthWait(t, 90*time.Second, "the heartbeat to resume", func() bool { n, _ := wt.counts(); return n > beats })
	if _, err = w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "Steward can't reach the homeserver since", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "✅ Resolved: Steward can't reach the homeserver since", time.Minute); err != nil {
		t.Fatal(err)
	}
	// Right after an outage Steward catches up (device lists, keys) in batches that
	// may take longer than this test's 3 s ready_sync_age: ready again soon, then.
	healthWait(t, 30*time.Second, "/readyz to say ready after the outage", func() bool {
		code, _ := healthGet(t, base+"/readyz", "")
		return code == http.StatusOK
	})

	// The log shows the watcher's host, never its secret.
	if err = w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	if notify.count("STOPPING=1") != 1 {
		t.Errorf("systemd was not told Steward is stopping")
	}
	logText, err := os.ReadFile(w.Steward.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logText), secret) {
		t.Errorf("Steward's log shows the heartbeat URL's secret")
	}
	if strings.Contains(string(logText), token) {
		t.Errorf("Steward's log shows the listener's token")
	}
}

// An admin's device whose messages Steward can't decrypt, three in a row (their room
// key never comes), is an alarm naming the admin and the device and saying what to
// do; it resolves once a message from that device is read.
func TestUndecryptableAdminDeviceAlarm(t *testing.T) {
	ctx := t.Context()
	withConfig(t, func(c *testbed.StewardConfig) { c.Monitor = fastMonitor("disks: []") })
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	device, err := w.Steward.DeviceID()
	if err != nil {
		t.Fatal(err)
	}
	// The keys would go to Steward's device; they are never sent.
	for i := range 3 {
		if _, _, err = w.Bob.SayWithLateKey(ctx, w.AdminRoom, fmt.Sprintf("!ping %d", i), w.StewardID, device); err != nil {
			t.Fatal(err)
		}
	}
	summary := fmt.Sprintf("Steward can't decrypt the messages from %s's device %s", w.Bob.UserID, w.Bob.DeviceID)
	alarm, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, summary, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if body := alarm.Content.AsMessage().Body; !strings.Contains(body, "3 in a row") || !strings.Contains(body, "verify it") || !strings.Contains(body, "restart the client") {
		t.Errorf("the alarm does not say how many or what to do:\n%s", body)
	}
	command(t, w.Bob, w.AdminRoom, "!ping")
	if err = w.Alice.WaitForBody(ctx, w.AdminRoom, w.StewardID, "✅ Resolved: "+summary, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// A Steward that starts while the homeserver is down (a reboot that brought it back
// first) can't connect, and nothing else of it runs; the fallback topic still hears
// of it once, and once the homeserver is back Steward connects and answers.
func TestFallbackWhileConnecting(t *testing.T) {
	ctx := t.Context()
	wt := &watcher{}
	other := httptest.NewServer(wt)
	defer other.Close()
	withConfig(t, func(c *testbed.StewardConfig) {
		c.TopLevel = append(c.TopLevel, fmt.Sprintf("fallback: {url: %q, after: 2s}", other.URL+"/fallback"))
	})
	w.HS.Stop()
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = w.HS.Start(context.WithoutCancel(ctx))
		}
	})
	// Start returns at the first sync, which waits for the homeserver.
	started := make(chan error, 1)
	go func() { started <- w.Steward.Start(ctx) }()
	healthWait(t, 30*time.Second, "the fallback notice", func() bool { _, n := wt.counts(); return len(n) > 0 })
	time.Sleep(3 * time.Second) // time for a second notice that must not come
	_, notices := wt.counts()
	if len(notices) != 1 || !strings.Contains(notices[0], "can't reach its Matrix homeserver") {
		t.Errorf("fallback notices while connecting: %q, want one", notices)
	}
	if err := w.HS.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = false
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	command(t, w.Alice, w.AdminRoom, "!ping")
	if _, notices := wt.counts(); len(notices) != 1 {
		t.Errorf("fallback notices after the homeserver came back: %q, want still one", notices)
	}
}

// metricValue is the value of series (a metric's name with its labels, as /metrics
// writes them) in text, or -1 when text has no such line.
func metricValue(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		value, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return -1
		}
		return v
	}
	return -1
}
