package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/e2e/testbed"
)

// listenerToken is the bearer token of the tests' Steward listener; Alertmanager
// presents it from a credentials file.
const listenerToken = "e2e-0123456789abcdef0123456789abcdef"

// listener is a Steward with its listener on, and with alertmanager.url when the
// test has an Alertmanager.
type listener struct {
	// Addr is the listener's host:port; TokenFile holds listenerToken.
	Addr, TokenFile string
	// Dir is the test's folder under the test bed's.
	Dir string
}

// newListener picks the listener's port and writes its token, in a folder of the
// test's own.
func newListener(t testing.TB) *listener {
	t.Helper()
	dir := filepath.Join(w.Dir, fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	port, err := testbed.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{Addr: fmt.Sprintf("127.0.0.1:%d", port), TokenFile: filepath.Join(dir, "token"), Dir: dir}
	if err = os.WriteFile(l.TokenFile, []byte(listenerToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// start restarts Steward with the listener (and alertmanagerURL, when set), alerts
// posted a second after they fire, and env added to its environment for this run.
func (l *listener) start(t testing.TB, alertmanagerURL string, groupWait time.Duration, env ...string) {
	t.Helper()
	withConfig(t, l.config(alertmanagerURL, groupWait))
	w.Steward.Env = env
	err := w.Steward.Start(t.Context())
	w.Steward.Env = nil
	if err != nil {
		t.Fatal(err)
	}
}

// config turns the listener on in a Steward config, with alertmanagerURL when set,
// and the host's own checks off.
func (l *listener) config(alertmanagerURL string, groupWait time.Duration) func(*testbed.StewardConfig) {
	return func(c *testbed.StewardConfig) {
		c.TopLevel = append(c.TopLevel, fmt.Sprintf("http: {listen: %q, token_file: %q}", l.Addr, l.TokenFile))
		if alertmanagerURL != "" {
			c.TopLevel = append(c.TopLevel, fmt.Sprintf("alertmanager: {url: %q}", alertmanagerURL))
		}
		c.Monitor = fmt.Sprintf("{interval: 1m, group_wait: %s, disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}, containers: {enabled: false}}", groupWait)
	}
}

// webhookURL is where Alertmanager sends.
func (l *listener) webhookURL() string { return "http://" + l.Addr + "/alertmanager" }

// send posts body to /alertmanager with auth as the Authorization header and
// returns the status.
func (l *listener) send(t testing.TB, auth string, body []byte) (int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, l.webhookURL(), strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// deliver posts body with the token and fails t unless it is answered 200.
func (l *listener) deliver(t testing.TB, body []byte) {
	t.Helper()
	code, err := l.send(t, "Bearer "+listenerToken, body)
	if err != nil || code != http.StatusOK {
		t.Fatalf("webhook answered %d, %v; want 200", code, err)
	}
}

// webhookAlert is one alert of a webhook payload.
type webhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"startsAt"`
	EndsAt      string            `json:"endsAt"`
	Generator   string            `json:"generatorURL"`
	Fingerprint string            `json:"fingerprint"`
}

// webhook is the payload Alertmanager 0.25 sends for alerts.
func webhook(status string, alerts ...webhookAlert) []byte {
	body, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": `{}:{alertname="E2E"}`, "truncatedAlerts": 0, "status": status, "receiver": "steward",
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://127.0.0.1:9093", "alerts": alerts,
	})
	if err != nil {
		panic(err)
	}
	return body
}

// hostDown is the alert about host n being down, with a fingerprint of the run.
func hostDown(run int64, n int, status, severity string) webhookAlert {
	return webhookAlert{
		Status:      status,
		Labels:      map[string]string{"alertname": "E2EHostDown", "instance": fmt.Sprintf("host%04d:9100", n), "job": "node", "severity": severity},
		Annotations: map[string]string{"summary": fmt.Sprintf("host%04d of run %d is down", n, run)},
		StartsAt:    "2025-06-01T12:00:00Z", EndsAt: "0001-01-01T00:00:00Z",
		Generator:   "http://127.0.0.1:9090/graph?g0.expr=up+%3D%3D+0",
		Fingerprint: fmt.Sprintf("%08x%08x", run&0xffffffff, n),
	}
}

// startStack starts node exporter, Prometheus and Alertmanager with rules, sending to
// l, and stops them when the test ends.
func (l *listener) startStack(t testing.TB, rules string, repeat time.Duration) *testbed.Monitoring {
	t.Helper()
	m, err := testbed.StartMonitoring(t.Context(), filepath.Join(l.Dir, "monitoring"), rules, testbed.AlertmanagerConfig{
		WebhookURL: l.webhookURL(), TokenFile: l.TokenFile, RepeatInterval: repeat,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m
}

// diskRules fires when the textfile metric steward_e2e_broken of a disk is 1, with
// HTML in its summary that must reach nobody as HTML.
func diskRules(alertname string) string {
	return fmt.Sprintf(`groups:
  - name: steward-e2e
    interval: 1s
    rules:
      - alert: %s
        expr: steward_e2e_broken > 0
        labels:
          severity: critical
        annotations:
          summary: 'Backup disk <b>{{ $labels.disk }}</b> on {{ $labels.instance }} is broken'
          description: 'SMART reports {{ $value }} failing sectors.'
`, alertname)
}

// amAlert is an alert as Alertmanager's API v2 lists it.
type amAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Status      struct {
		State      string   `json:"state"`
		SilencedBy []string `json:"silencedBy"`
	} `json:"status"`
}

// amAlertsNamed lists Alertmanager's alerts named alertname.
func amAlertsNamed(t testing.TB, m *testbed.Monitoring, alertname string) []amAlert {
	t.Helper()
	var all, named []amAlert
	if err := m.Alertmanager.GetJSON(t.Context(), "/api/v2/alerts", &all); err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if a.Labels["alertname"] == alertname {
			named = append(named, a)
		}
	}
	return named
}

// webhookDeliveries is how many notifications Alertmanager delivered to Steward.
func webhookDeliveries(t testing.TB, m *testbed.Monitoring) float64 {
	t.Helper()
	total, err := m.Alertmanager.Metric(t.Context(), "alertmanager_notifications_total", `integration="webhook"`)
	if err != nil {
		t.Fatal(err)
	}
	failed, err := m.Alertmanager.Metric(t.Context(), "alertmanager_notifications_failed_total", `integration="webhook"`)
	if err != nil {
		t.Fatal(err)
	}
	return total - failed
}

// eventually polls cond every 200 ms until it holds, failing t after limit.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
	}
}

var alertNumber = regexp.MustCompile(`\(#(\d+)\)`)

// A rule fires in a real Prometheus, goes through a real Alertmanager to Steward and
// reaches the admins encrypted with its severity, labels and link, its summary's HTML
// shown as text. Alertmanager's repeats post nothing; clearing the metric resolves the
// same message, with an edit and a follow-up.
func TestAlertmanagerAlertLifecycle(t *testing.T) {
	ctx := t.Context()
	l := newListener(t)
	m := l.startStack(t, diskRules("E2EBackupDiskBroken"), 2*time.Second)
	l.start(t, m.Alertmanager.URL, time.Second)
	// The node exporter's address is in the alert: this run's alone (as a rule).
	fired := "Critical: Backup disk <b>sdb</b> on " + m.Node.Addr
	before := w.Alice.CountBodies(w.AdminRoom, w.StewardID, fired)
	queuedBefore, err := w.CountOutbox(ctx, w.AdminRoom, fired)
	if err != nil {
		t.Fatal(err)
	}
	if err = m.Node.SetGauge("steward_e2e_broken", `disk="sdb"`, 1); err != nil {
		t.Fatal(err)
	}
	alert, err := w.Alice.WaitForNew(ctx, w.AdminRoom, w.StewardID, fired, before, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	content := alert.Content.AsMessage()
	for _, want := range []string{
		"🔴 " + fired + " is broken",
		"Now: SMART reports 1 failing sectors.",
		"Labels: disk=sdb, instance=" + m.Node.Addr + ", job=node",
		"More: http", "/graph?g0.expr=steward_e2e_broken",
	} {
		if !strings.Contains(content.Body, want) {
			t.Errorf("the alert lacks %q:\n%s", want, content.Body)
		}
	}
	if !strings.Contains(content.FormattedBody, "Backup disk &lt;b&gt;sdb&lt;/b&gt;") || strings.Contains(content.FormattedBody, "<b>sdb</b>") {
		t.Errorf("the summary's HTML reached the room as HTML:\n%s", content.FormattedBody)
	}

	// Alertmanager repeats the group every 2 s: two more deliveries, recorded
	// before they were answered, and nothing new in the room or the outbox.
	firing := amAlertsNamed(t, m, "E2EBackupDiskBroken")
	if len(firing) != 1 {
		t.Fatalf("Alertmanager has %d such alerts, want 1", len(firing))
	}
	fingerprint := "am:" + firing[0].Fingerprint
	delivered := webhookDeliveries(t, m)
	eventually(t, time.Minute, "two repeats", func() bool { return webhookDeliveries(t, m) >= delivered+2 })
	if n, err := w.CountAlerts(ctx, fingerprint); err != nil || n != 1 {
		t.Errorf("Steward has %d alerts %s after repeats (%v), want 1", n, fingerprint, err)
	}
	if n, err := w.CountOutbox(ctx, w.AdminRoom, fired); err != nil || n-queuedBefore != 1 {
		n -= queuedBefore
		t.Errorf("the outbox has %d messages about the alert after repeats (%v), want the one", n, err)
	}
	if n := w.Alice.CountBodies(w.AdminRoom, w.StewardID, fired) - before; n != 1 {
		t.Errorf("the alert was posted %d times, want once", n)
	}

	// Cleared: the same message says it resolved, and a follow-up says so too.
	if err = m.Node.SetGauge("steward_e2e_broken", `disk="sdb"`, 0); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.WaitForEdit(ctx, w.AdminRoom, w.StewardID, alert.ID, "✅ Resolved: Backup disk <b>sdb</b>", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	followUp, err := w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, alert.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := followUp.Content.AsMessage().Body; !strings.Contains(b, "✅ Resolved: Backup disk <b>sdb</b>") {
		t.Errorf("follow-up = %q", b)
	}
	if n := w.Alice.CountBodies(w.AdminRoom, w.StewardID, fired) - before; n != 1 {
		t.Errorf("the alert was posted %d times, want once", n)
	}
}

// !silence on an alert from Alertmanager makes the silence there too, with the
// reason and the admin; the alert resolves while silenced, which Alertmanager never
// tells; !unsilence expires the silence there and Steward, asking, resolves it.
func TestAlertmanagerSilence(t *testing.T) {
	ctx := t.Context()
	l := newListener(t)
	m := l.startStack(t, diskRules("E2EBackupDiskSilenced"), 2*time.Second)
	l.start(t, m.Alertmanager.URL, time.Second)
	if err := m.Node.SetGauge("steward_e2e_broken", `disk="sdc"`, 1); err != nil {
		t.Fatal(err)
	}
	alert, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, "Critical: Backup disk <b>sdc</b> on "+m.Node.Addr, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	number := alertNumber.FindStringSubmatch(alert.Content.AsMessage().Body)
	if number == nil {
		t.Fatalf("no alert number in %q", alert.Content.AsMessage().Body)
	}
	reply := command(t, w.Alice, w.AdminRoom, "!silence "+number[1]+" 1h swapping the disk")
	body := reply.Content.AsMessage().Body
	if !strings.Contains(body, "Alertmanager has it too, so it stops sending them.") {
		t.Fatalf("!silence = %q", body)
	}
	silenceID := regexp.MustCompile(`Silence #(\d+)`).FindStringSubmatch(body)[1]

	type amSilence struct {
		ID        string `json:"id"`
		Comment   string `json:"comment"`
		CreatedBy string `json:"createdBy"`
		EndsAt    string `json:"endsAt"`
		Status    struct {
			State string `json:"state"`
		} `json:"status"`
		Matchers []struct {
			Name    string `json:"name"`
			Value   string `json:"value"`
			IsRegex bool   `json:"isRegex"`
			IsEqual bool   `json:"isEqual"`
		} `json:"matchers"`
	}
	silences := func() []amSilence {
		var all, ours []amSilence
		if err := m.Alertmanager.GetJSON(ctx, "/api/v2/silences", &all); err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			if strings.Contains(s.Comment, "swapping the disk") {
				ours = append(ours, s)
			}
		}
		return ours
	}
	made := silences()
	if len(made) != 1 {
		t.Fatalf("Alertmanager has %d silences with the reason, want 1: %+v", len(made), made)
	}
	s := made[0]
	if s.CreatedBy != w.Alice.UserID.String() || s.Status.State != "active" || s.Comment != "swapping the disk (Steward silence #"+silenceID+")" {
		t.Errorf("Alertmanager's silence = %+v", s)
	}
	matchers := map[string]string{}
	for _, mt := range s.Matchers {
		if mt.IsRegex || !mt.IsEqual {
			t.Errorf("matcher %+v is not an equality", mt)
		}
		matchers[mt.Name] = mt.Value
	}
	if matchers["alertname"] != "E2EBackupDiskSilenced" || matchers["disk"] != "sdc" || matchers["instance"] != m.Node.Addr || matchers["severity"] != "critical" {
		t.Errorf("matchers = %v, want the alert's labels", matchers)
	}
	eventually(t, time.Minute, "Alertmanager to mark the alert silenced", func() bool {
		a := amAlertsNamed(t, m, "E2EBackupDiskSilenced")
		return len(a) == 1 && a[0].Status.State == "suppressed"
	})

	// Cleared while silenced: Alertmanager drops it and tells nobody.
	if err = m.Node.SetGauge("steward_e2e_broken", `disk="sdc"`, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "Alertmanager to see the alert resolved", func() bool { return len(amAlertsNamed(t, m, "E2EBackupDiskSilenced")) == 0 })

	reply = command(t, w.Alice, w.AdminRoom, "!unsilence "+silenceID)
	if b := reply.Content.AsMessage().Body; !strings.Contains(b, "Alertmanager's silence ended too.") {
		t.Errorf("!unsilence = %q", b)
	}
	if ended := silences(); len(ended) != 1 || ended[0].Status.State != "expired" {
		t.Errorf("Alertmanager's silence after !unsilence: %+v, want it expired", ended)
	}
	// Steward asked, and resolved the same message.
	if err = w.Steward.WaitForLog(ctx, "Resolving alerts that resolved upstream while silenced", time.Minute); err != nil {
		t.Error(err)
	}
	if _, err = w.Alice.WaitForEdit(ctx, w.AdminRoom, w.StewardID, alert.ID, "✅ Resolved: Backup disk <b>sdc</b>", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, alert.ID, time.Minute); err != nil {
		t.Error(err)
	}
}

// With Alertmanager out of reach, !silence holds in Steward and says so plainly.
func TestAlertmanagerSilenceWhenUnreachable(t *testing.T) {
	ctx := t.Context()
	l := newListener(t)
	port, err := testbed.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	l.start(t, fmt.Sprintf("http://127.0.0.1:%d", port), time.Second)
	run := time.Now().UnixNano()
	l.deliver(t, webhook("firing", hostDown(run, 1, "firing", "warning")))
	alert, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, fmt.Sprintf("host0001 of run %d is down", run), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	number := alertNumber.FindStringSubmatch(alert.Content.AsMessage().Body)[1]
	reply := command(t, w.Alice, w.AdminRoom, "!silence "+number+" 1h rebooting the switch")
	if b := reply.Content.AsMessage().Body; !strings.Contains(b, "Couldn't reach Alertmanager to silence it there: the silence holds here") {
		t.Errorf("!silence = %q", b)
	}
	if _, err = w.Alice.WaitForEdit(ctx, w.AdminRoom, w.StewardID, alert.ID, "🔕 Silenced by "+w.Alice.UserID.String(), time.Minute); err != nil {
		t.Error(err)
	}
}

// A wrong or missing token gets 401 and a body over 1 MiB 413, malformed payloads
// 400: none of them is recorded, and the token reaches no log.
func TestAlertmanagerWebhookRefused(t *testing.T) {
	ctx := t.Context()
	l := newListener(t)
	l.start(t, "", time.Second)
	run := time.Now().UnixNano()
	good := webhook("firing", hostDown(run, 1, "firing", "critical"))
	huge := hostDown(run, 2, "firing", "critical")
	huge.Annotations["description"] = strings.Repeat("x", 1<<20)
	wrongVersion := strings.Replace(string(good), `"version":"4"`, `"version":"3"`, 1)
	for _, tt := range []struct {
		name, auth string
		body       []byte
		want       int
	}{
		{"no token", "", good, http.StatusUnauthorized},
		{"a wrong token", "Bearer not-the-token-not-the-token", good, http.StatusUnauthorized},
		{"the token as a password", "Basic " + listenerToken, good, http.StatusUnauthorized},
		{"over 1 MiB", "Bearer " + listenerToken, webhook("firing", huge), http.StatusRequestEntityTooLarge},
		{"not JSON", "Bearer " + listenerToken, good[:len(good)/2], http.StatusBadRequest},
		{"version 3", "Bearer " + listenerToken, []byte(wrongVersion), http.StatusBadRequest},
	} {
		if code, err := l.send(t, tt.auth, tt.body); err != nil || code != tt.want {
			t.Errorf("%s: %d, %v; want %d", tt.name, code, err, tt.want)
		}
	}
	for _, n := range []int{1, 2} {
		fp := "am:" + hostDown(run, n, "", "").Fingerprint
		if count, err := w.CountAlerts(ctx, fp); err != nil || count != 0 {
			t.Errorf("refused deliveries recorded %d alerts %s (%v)", count, fp, err)
		}
	}
	// The right token is taken, so the refusals above were about what they said.
	l.deliver(t, good)
	if _, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, fmt.Sprintf("host0001 of run %d is down", run), time.Minute); err != nil {
		t.Fatal(err)
	}
	logged, err := os.ReadFile(w.Steward.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logged), listenerToken) {
		t.Error("the listener's token is in Steward's log")
	}
}

// Steward dies (SIGKILL-like, at the crash point) between recording a webhook and
// answering it. Alertmanager, unanswered, sends it again: after the restart the alert
// is there once, posted once, and the repeated delivery adds nothing.
func TestAlertmanagerCrashBetweenRecordAndAnswer(t *testing.T) {
	ctx := t.Context()
	l := newListener(t)
	l.start(t, "", time.Second, "STEWARD_CRASH_AT=webhook-recorded")
	run := time.Now().UnixNano()
	delivery := webhook("firing", hostDown(run, 1, "firing", "critical"))
	summary := fmt.Sprintf("host0001 of run %d is down", run)
	if code, err := l.send(t, "Bearer "+listenerToken, delivery); err == nil {
		t.Fatalf("the delivery was answered %d; Steward should have died before answering", code)
	}
	if !w.Steward.WaitExit(30 * time.Second) {
		t.Fatal("Steward did not crash at webhook-recorded")
	}
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	alert, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, summary, time.Minute)
	if err != nil {
		t.Fatalf("the recorded alert was lost in the crash: %v", err)
	}
	if !strings.Contains(alert.Content.AsMessage().Body, "Critical: "+summary) {
		t.Errorf("alert = %q", alert.Content.AsMessage().Body)
	}
	// Alertmanager's retry of the unanswered delivery.
	l.deliver(t, delivery)
	fp := "am:" + hostDown(run, 1, "", "").Fingerprint
	if n, err := w.CountAlerts(ctx, fp); err != nil || n != 1 {
		t.Errorf("%d alerts %s after the retry (%v), want 1", n, fp, err)
	}
	// A later alert's message comes after anything the retry could have posted.
	l.deliver(t, webhook("firing", hostDown(run, 2, "firing", "warning")))
	if _, err = w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, fmt.Sprintf("host0002 of run %d is down", run), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := w.Alice.CountBodies(w.AdminRoom, w.StewardID, summary); n != 1 {
		t.Errorf("the alert was posted %d times, want once", n)
	}
}

// A webhook of 1,000 alerts is one storm message with counts; their resolution is one
// edit and one follow-up. A Steward of its own takes them, so that the shared one's
// digest of the day is not a storm's.
func TestAlertmanagerStorm(t *testing.T) {
	ctx := t.Context()
	l := newListener(t)
	s, cfg, err := w.NewStewardWith(ctx, fmt.Sprintf("stewardstorm%d", time.Now().UnixNano()%1e9), l.config("", time.Second))
	if s != nil {
		t.Cleanup(func() { _ = s.Stop() })
	}
	if err != nil {
		t.Fatal(err)
	}
	run := time.Now().UnixNano()
	l.deliver(t, stormWebhook(run, 1000, "firing"))
	storm, err := w.Alice.WaitForMessage(ctx, cfg.AdminRoom, cfg.UserID, fmt.Sprintf("host0001 of run %d is down", run), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := storm.Content.AsMessage().Body; !strings.Contains(b, "1000 alerts fired together (100 critical, 900 warning)") || !strings.Contains(b, "…and 985 more; `!alerts` lists the firing ones.") {
		t.Errorf("storm message:\n%s", b)
	}
	l.deliver(t, stormWebhook(run, 1000, "resolved"))
	followUp, err := w.Alice.WaitForReply(ctx, cfg.UserID, cfg.AdminRoom, storm.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := followUp.Content.AsMessage().Body; !strings.HasPrefix(b, "✅ Resolved: 1000 alerts (#") {
		t.Errorf("follow-up = %q", b)
	}
	if _, err = w.Alice.WaitForEdit(ctx, cfg.AdminRoom, cfg.UserID, storm.ID, "1000 alerts, all resolved", time.Minute); err != nil {
		t.Error(err)
	}
	// The storm message and the follow-up, nothing else.
	if posted := stewardMessages(cfg.AdminRoom, cfg.UserID); len(posted) != 2 {
		var bodies []string
		for _, evt := range posted {
			bodies = append(bodies, evt.Content.AsMessage().Body)
		}
		t.Errorf("%d messages for the storm, want 2:\n%s", len(posted), strings.Join(bodies, "\n---\n"))
	}
}

// What a sender makes huge, or heavy to escape, still arrives as a readable alert: a
// label of 100 KiB of angle brackets (600 KiB as JSON), and a storm of twenty whose descriptions HTML and JSON make six
// times longer. Dendrite refused both (an event over 64 KiB), and they were lost.
func TestAlertmanagerHugeAlertsArrive(t *testing.T) {
	ctx := t.Context()
	l := newListener(t)
	s, cfg, err := w.NewStewardWith(ctx, fmt.Sprintf("stewardhuge%d", time.Now().UnixNano()%1e9), l.config("", time.Second))
	if s != nil {
		t.Cleanup(func() { _ = s.Stop() })
	}
	if err != nil {
		t.Fatal(err)
	}
	run := time.Now().UnixNano()
	huge := hostDown(run, 1, "firing", "critical")
	huge.Labels["dump"] = strings.Repeat("<", 100<<10)
	huge.Annotations["summary"] = fmt.Sprintf("huge labels of run %d", run)
	l.deliver(t, webhook("firing", huge))
	msg, err := w.Alice.WaitForMessage(ctx, cfg.AdminRoom, cfg.UserID, fmt.Sprintf("huge labels of run %d", run), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := msg.Content.AsMessage().Body; !strings.Contains(b, "Labels: dump=<<<") || !strings.Contains(b, "instance=host0001:9100") {
		t.Errorf("the alert does not show its labels, cut:\n%.500s", b)
	}

	storm := make([]webhookAlert, 20)
	for i := range storm {
		storm[i] = hostDown(run, 100+i, "firing", "warning")
		storm[i].Annotations["summary"] = fmt.Sprintf("heavy %d of run %d %s", i, run, strings.Repeat("&", 200))
		storm[i].Annotations["description"] = strings.Repeat(`"<>`, 166)
	}
	l.deliver(t, webhook("firing", storm...))
	// The Steward is the test's own: only this storm fires 20 together.
	msg, err = w.Alice.WaitForMessage(ctx, cfg.AdminRoom, cfg.UserID, "20 alerts fired together (20 warning)", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := msg.Content.AsMessage().Body; !strings.Contains(b, "heavy 0 ") || !strings.Contains(b, "…and 5 more") {
		t.Errorf("storm message:\n%.800s", b)
	}
}

// stormWebhook is one notification of n alerts of the run, one in ten critical.
func stormWebhook(run int64, n int, status string) []byte {
	alerts := make([]webhookAlert, n)
	for i := range alerts {
		severity := "warning"
		if i%10 == 0 {
			severity = "critical"
		}
		alerts[i] = hostDown(run, i+1, status, severity)
	}
	return webhook(status, alerts...)
}

// stewardMessages are the messages of the Steward that is sender in room that Alice
// has, edits left out.
func stewardMessages(room id.RoomID, sender id.UserID) []*event.Event {
	var out []*event.Event
	for _, evt := range w.Alice.Messages(room) {
		if evt.Sender == sender && evt.Content.AsMessage().RelatesTo.GetReplaceID() == "" {
			out = append(out, evt)
		}
	}
	return out
}

// The README's Prometheus and Alertmanager snippets are deploy/monitoring's files as
// they are, and those are what Debian's promtool and amtool take: the host rules pass
// their unit tests.
func TestMonitoringExamples(t *testing.T) {
	dir := filepath.Join(testbed.RepoRoot(), "deploy", "monitoring")
	readme, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"prometheus.yml", "host-rules.yml", "alertmanager.yml"} {
		content, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "```yaml\n"+string(content)+"```\n") {
			t.Errorf("README.md does not show deploy/monitoring/%s as it is", name)
		}
	}
	for _, args := range [][]string{
		{"/usr/bin/promtool", "check", "config", "prometheus.yml"},
		{"/usr/bin/promtool", "test", "rules", "host-rules.test.yml"},
		{"/usr/bin/amtool", "check-config", "alertmanager.yml"},
	} {
		cmd := exec.CommandContext(t.Context(), args[0], args[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
