package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/e2e/testbed"
	"github.com/steward-bot/steward/state"
)

// ping requests a ping URL as curl in a cron line would, and returns the status and
// the answer.
func ping(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// readJobs reads, beside the running Steward, what its database holds of the jobs'
// pings and of the names pinged that no job has.
func readJobs(t *testing.T) (map[string][]*state.Ping, []*state.UnknownJob) {
	t.Helper()
	ctx := t.Context()
	db, err := state.Open(ctx, filepath.Join(w.Config.DataDir, "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pings := map[string][]*state.Ping{}
	for _, name := range []string{"nightly", "hung", "quick"} {
		if pings[name], err = db.Jobs.History(ctx, name, 100); err != nil {
			t.Fatal(err)
		}
	}
	unknown, err := db.Jobs.Unknown(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return pings, unknown
}

// Jobs ping Steward over real HTTP as cron lines and borgmatic do. A success is
// recorded; a run that starts and does not finish within its grace warns, and its
// success resolves the warning; a failure with its output POSTed alerts at once with
// the last lines, the secrets in them masked, in the encrypted room; a job that never
// pings alerts once its period and grace are over; a wrong token gets 401 and leaves
// no trace; !jobs shows the figures; a name no job has gets 404 and the admins hear of
// it once.
func TestJobPings(t *testing.T) {
	ctx := t.Context()
	var listener testbed.Listener
	withConfig(t, func(c *testbed.StewardConfig) {
		var err error
		if listener, err = c.AddListener(w.Dir); err != nil {
			t.Fatal(err)
		}
		c.TopLevel = append(c.TopLevel, `jobs: [{name: nightly, every: 1h, grace: 30m, hint: "see /var/log/nightly.log"}, {name: hung, every: 1h, grace: 2s}, {name: quick, every: 3s, grace: 2s}]`)
		c.Monitor = "{group_wait: 0s, disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}, containers: {enabled: false}}"
	})
	admins := func(substr string) int { return w.Alice.CountBodies(w.AdminRoom, w.StewardID, substr) }
	waitNew := func(substr string, seen int) (plain, html string) {
		t.Helper()
		evt, err := w.Alice.WaitForNew(ctx, w.AdminRoom, w.StewardID, substr, seen, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return evt.Content.AsMessage().Body, evt.Content.AsMessage().FormattedBody
	}
	const (
		missing  = "Critical: Job quick has not reported success since Steward began watching it"
		running  = "Warning: Job hung started at"
		finished = "✅ Resolved: Job hung started at"
		failed   = "Critical: Job nightly failed with exit code 2"
		fixed    = "✅ Resolved: Job nightly failed"
		notice   = "Something pings jobs that are not configured"
	)
	seen := map[string]int{}
	for _, s := range []string{missing, running, finished, failed, fixed, notice} {
		seen[s] = admins(s)
	}
	if err := w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	base := listener.URL + "/ping/" + listener.Token + "/"

	// A success, as a cron line's curl sends it.
	if code, answer := ping(t, "GET", base+"nightly", ""); code != 200 || answer != "OK" {
		t.Fatalf("the success ping answered %d %q, want 200 OK", code, answer)
	}
	// A wrong token: refused before anything is recorded.
	wrong := listener.URL + "/ping/" + strings.Repeat("0", len(listener.Token)) + "/"
	if code, _ := ping(t, "POST", wrong+"nightly/fail", "wrong token, password=hunter2"); code != http.StatusUnauthorized {
		t.Errorf("a failure with a wrong token answered %d, want 401", code)
	}
	if code, _ := ping(t, "GET", wrong+"intruder", ""); code != http.StatusUnauthorized {
		t.Errorf("a ping to an unknown job with a wrong token answered %d, want 401", code)
	}
	if _, unknown := readJobs(t); len(unknown) != 0 {
		t.Errorf("a ping with a wrong token was counted for the admins' notice: %+v", unknown[0])
	}

	// quick never pings: it alerts once its 3s and 2s of grace are over.
	waitNew(missing, seen[missing])

	// A run that starts and does not finish within its 2s of grace warns; its success
	// resolves the warning.
	if code, _ := ping(t, "GET", base+"hung/start", ""); code != 200 {
		t.Fatalf("the start ping answered %d", code)
	}
	waitNew(running, seen[running])
	if code, _ := ping(t, "POST", base+"hung/0", ""); code != 200 {
		t.Fatalf("the success ping answered %d", code)
	}
	waitNew(finished, seen[finished])

	// A failure with its output: the alert shows the last lines, secrets masked.
	var output strings.Builder
	for _, line := range []string{"pg_dump: starting", "connecting with password=hunter2", "curl -H 'Authorization: Bearer abcdef0123456789xyz' " + base + "nightly",
		"pg_dump: error: could not write to output file: No space left on device"} {
		output.WriteString(line + "\n")
	}
	if code, answer := ping(t, "POST", base+"nightly/2", output.String()); code != 200 || answer != "OK" {
		t.Fatalf("the failure ping answered %d %q", code, answer)
	}
	alert, alertHTML := waitNew(failed, seen[failed])
	if !strings.Contains(alertHTML, "<pre><code>pg_dump: starting\nconnecting with password=•••") {
		t.Errorf("the failure's alert does not show the output as a code block:\n%s", alertHTML)
	}
	for _, want := range []string{"No space left on device", "password=•••", "Hint: see /var/log/nightly.log", "/ping/•••/nightly"} {
		if !strings.Contains(alert, want) {
			t.Errorf("the failure's alert does not show %q:\n%s", want, alert)
		}
	}
	for _, secret := range []string{"hunter2", "abcdef0123456789xyz", listener.Token} {
		if strings.Contains(alert, secret) || strings.Contains(alertHTML, secret) {
			t.Errorf("the failure's alert shows the secret %q:\n%s", secret, alert)
		}
	}

	// !jobs shows the figures.
	listed := command(t, w.Alice, w.AdminRoom, "!jobs").Content.AsMessage().Body
	for _, want := range []string{"3 jobs, 2 need a look:", "nightly", "🔴 failed", "exit code 2", "hung", "✅ ok", "quick", "🔴 late", "overdue since"} {
		if !strings.Contains(listed, want) {
			t.Errorf("!jobs does not show %q:\n%s", want, listed)
		}
	}
	for _, line := range strings.Split(listed, "\n") {
		if strings.HasPrefix(line, "hung") && !strings.Contains(line, "seconds") {
			t.Errorf("!jobs does not show how long hung's run took: %q", line)
		}
	}

	// The next success resolves the failure.
	if code, _ := ping(t, "GET", base+"nightly/0", ""); code != 200 {
		t.Fatalf("the success ping answered %d", code)
	}
	waitNew(fixed, seen[fixed])

	// A name no job has: 404, and the admins are told.
	if code, answer := ping(t, "GET", base+"nightlly", ""); code != http.StatusNotFound || !strings.Contains(answer, `no job "nightlly"`) {
		t.Errorf("a ping to nightlly answered %d %q, want 404 naming it", code, answer)
	}
	told, _ := waitNew(notice, seen[notice])
	if !strings.Contains(told, "nightlly") || strings.Contains(told, "intruder") {
		t.Errorf("the notice of unknown jobs reads:\n%s\nwant nightlly and not the name sent with a wrong token", told)
	}

	// What the wrong token sent left no trace.
	pings, _ := readJobs(t)
	for _, p := range pings["nightly"] {
		if p.Kind == state.PingFailure && p.ExitCode == state.NoExitCode {
			t.Errorf("the failure sent with a wrong token was recorded: %+v", p)
		}
	}
	if n := len(pings["nightly"]); n != 3 {
		t.Errorf("nightly has %d pings recorded, want its 3 with the right token", n)
	}
	if len(pings["hung"]) != 2 || len(pings["quick"]) != 0 {
		t.Errorf("hung has %d pings and quick %d, want 2 and none", len(pings["hung"]), len(pings["quick"]))
	}
}
