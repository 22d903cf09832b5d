package jobs_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/jobs"
	"github.com/steward-bot/steward/state"
)

var specs = []jobs.Spec{
	{Name: "pgdump", Every: 24 * time.Hour, Grace: 6 * time.Hour, Hint: "see /var/log/pgdump.log"},
	{Name: "borg", Every: time.Hour, Grace: 15 * time.Minute},
}

// Every form of ping URL Healthchecks knows, by GET, HEAD and POST, is answered "OK"
// and recorded as what it says; a bad exit code or action is refused and recorded
// nowhere.
func TestPingRoutes(t *testing.T) {
	tests := []struct {
		method, path string
		code         int
		kind         state.PingKind
		exitCode     int
	}{
		{"GET", "/pgdump", 200, state.PingSuccess, 0},
		{"POST", "/pgdump", 200, state.PingSuccess, 0},
		{"HEAD", "/pgdump", 200, state.PingSuccess, 0},
		{"GET", "/pgdump/start", 200, state.PingStart, 0},
		{"POST", "/pgdump/fail", 200, state.PingFailure, state.NoExitCode},
		{"GET", "/pgdump/0", 200, state.PingSuccess, 0},
		{"GET", "/pgdump/1", 200, state.PingFailure, 1},
		{"POST", "/pgdump/255", 200, state.PingFailure, 255},
		{"GET", "/pgdump/007", 200, state.PingFailure, 7},
		{"GET", "/pgdump/256", 400, "", 0},
		{"GET", "/pgdump/-1", 400, "", 0},
		{"GET", "/pgdump/+1", 400, "", 0},
		{"GET", "/pgdump/1000", 400, "", 0},
		{"GET", "/pgdump/log", 400, "", 0},
		{"GET", "/pgdump/fail/2", 404, "", 0},
		{"PUT", "/pgdump", 405, "", 0},
		{"DELETE", "/pgdump/start", 405, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			db := openDB(t)
			l := serve(t, jobs.NewTracker(specs, db.Jobs, newClock().Now))
			code, body := l.do(t, tt.method, "/ping/"+token+tt.path, "")
			if code != tt.code {
				t.Fatalf("%s %s answered %d %q, want %d", tt.method, tt.path, code, body, tt.code)
			}
			history := must(db.Jobs.History(t.Context(), "pgdump", 10))(t)
			if tt.code != 200 {
				if len(history) != 0 {
					t.Errorf("a refused ping was recorded: %+v", history[0])
				}
				if tt.code == 400 && !strings.Contains(body, "exit code from 0 to 255") {
					t.Errorf("the refusal does not say what a ping looks like: %q", body)
				}
				return
			}
			if tt.method != "HEAD" && body != "OK" {
				t.Errorf("answered %q, want OK as Healthchecks does", body)
			}
			if len(history) != 1 || history[0].Kind != tt.kind || history[0].ExitCode != tt.exitCode {
				t.Fatalf("recorded %+v, want one %s ping with exit code %d", history, tt.kind, tt.exitCode)
			}
		})
	}
}

// A wrong or missing token gets 401 before anything is recorded: neither the job's
// ping nor, for a name no job has, the count for the admins' notice.
func TestWrongTokenRecordsNothing(t *testing.T) {
	db := openDB(t)
	l := serve(t, jobs.NewTracker(specs, db.Jobs, newClock().Now))
	for _, path := range []string{
		"/ping/" + strings.Repeat("f", len(token)) + "/pgdump",
		"/ping/" + token[:len(token)-1] + "/pgdump/fail",
		"/ping/" + token + "x/pgdump/1",
		"/ping/" + strings.Repeat("f", len(token)) + "/nosuchjob",
	} {
		if code, _ := l.do(t, "POST", path, "password=hunter2"); code != http.StatusUnauthorized {
			t.Errorf("POST %s answered %d, want 401", path, code)
		}
	}
	// Without a token the URL is no ping URL at all.
	if code, _ := l.do(t, "POST", "/ping//pgdump", "password=hunter2"); code < 400 {
		t.Errorf("POST /ping//pgdump answered %d, want a refusal", code)
	}
	if history := must(db.Jobs.History(t.Context(), "pgdump", 10))(t); len(history) != 0 {
		t.Errorf("pings with a wrong token were recorded: %+v", history)
	}
	if unknown := must(db.Jobs.Unknown(t.Context()))(t); len(unknown) != 0 {
		t.Errorf("a ping with a wrong token was counted for the notice: %+v", unknown[0])
	}
	if all := must(db.Jobs.All(t.Context()))(t); len(all) != 0 {
		t.Errorf("pings with a wrong token left jobs behind: %+v", all[0])
	}
}

// A name no job has gets 404 saying so, and is counted for the admins' notice; the
// configured jobs are left alone.
func TestUnknownJobIsCounted(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	l := serve(t, jobs.NewTracker(specs, db.Jobs, clk.Now))
	for range 3 {
		code, body := l.do(t, "GET", "/ping/"+token+"/pgdmp", "")
		if code != http.StatusNotFound || !strings.Contains(body, `no job "pgdmp" is configured`) {
			t.Fatalf("a ping to pgdmp answered %d %q, want 404 saying no such job is configured", code, body)
		}
		clk.Advance(time.Minute)
	}
	if code, _ := l.do(t, "GET", "/ping/"+token+"/"+strings.Repeat("x", 200)+"/fail", ""); code != http.StatusNotFound {
		t.Errorf("a ping to a long unknown name answered %d, want 404", code)
	}
	unknown := must(db.Jobs.Unknown(t.Context()))(t)
	if len(unknown) != 2 || unknown[0].Name != "pgdmp" || unknown[0].Count != 3 || !unknown[0].LastSeen.Equal(clk.Now().Add(-time.Minute)) {
		t.Fatalf("unknown names counted: %+v, want pgdmp 3 times and the long one", unknown)
	}
	if long := unknown[1].Name; len(long) > 70 || !strings.HasPrefix(long, "xxxx") {
		t.Errorf("the long name is kept as %q, want it cut short", long)
	}
	if all := must(db.Jobs.All(t.Context()))(t); len(all) != 0 {
		t.Errorf("a ping to an unknown name made a job: %+v", all[0])
	}
}

// A URL that carries the token where the job's name goes too (a script that adds it
// twice) leaves no trace of the token in the names counted, which the admins' notice
// lists and the log shows.
func TestUnknownNameShowsNoToken(t *testing.T) {
	db := openDB(t)
	l := serve(t, jobs.NewTracker(specs, db.Jobs, newClock().Now))
	for _, name := range []string{token, "pgdump-" + token} {
		if code, _ := l.do(t, "GET", "/ping/"+token+"/"+name, ""); code != http.StatusNotFound {
			t.Fatalf("a ping to %s answered %d, want 404", name, code)
		}
	}
	unknown := must(db.Jobs.Unknown(t.Context()))(t)
	if len(unknown) != 2 {
		t.Fatalf("unknown names counted: %+v, want 2", unknown)
	}
	for _, u := range unknown {
		if strings.Contains(u.Name, token[:8]) {
			t.Errorf("an unknown name is kept with the token: %q", u.Name)
		}
	}
}

// A failing job's POSTed output is kept for its alert: the last lines only, with
// passwords, bearer tokens and the ping token itself masked.
func TestFailureOutputIsMaskedAndCut(t *testing.T) {
	db := openDB(t)
	l := serve(t, jobs.NewTracker(specs, db.Jobs, newClock().Now))
	var out strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&out, "pg_dump: step %d\r\n", i)
	}
	out.WriteString("pg_dump: connecting with password=hunter2\n")
	out.WriteString("curl -H 'Authorization: Bearer abcdef0123456789xyz' https://steward/ping/" + token + "/pgdump\n")
	out.WriteString("pg_dump: error: connection refused\n\n")
	if code, body := l.do(t, "POST", "/ping/"+token+"/pgdump/2", out.String()); code != 200 {
		t.Fatalf("the failure ping answered %d %q", code, body)
	}
	job := jobNamed(t, db, "pgdump")
	if job == nil || !job.Failed() || job.ExitCode != 2 {
		t.Fatalf("pgdump = %+v, want a failure with exit code 2", job)
	}
	lines := strings.Split(job.Output, "\n")
	if len(lines) != 21 || lines[0] != "…" || lines[1] != "pg_dump: step 24" || lines[20] != "pg_dump: error: connection refused" {
		t.Errorf("kept output, %d lines:\n%s\nwant a cut mark, then the last 20 lines from step 24 on", len(lines), job.Output)
	}
	for _, secret := range []string{"hunter2", "abcdef0123456789xyz", token, "\r"} {
		if strings.Contains(job.Output, secret) {
			t.Errorf("the kept output still holds %q:\n%s", secret, job.Output)
		}
	}
	if !strings.Contains(job.Output, "password=•••") || !strings.Contains(job.Output, "/ping/•••/pgdump") {
		t.Errorf("the masked output does not show what was masked:\n%s", job.Output)
	}
	// The ping's history keeps the same.
	if history := must(db.Jobs.History(t.Context(), "pgdump", 1))(t); len(history) != 1 || history[0].Output != job.Output {
		t.Errorf("the history holds %+v, want the ping with the same output", history)
	}
}

func TestLastLines(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes on one line
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"blank", "\n\n  \n", ""},
		{"short", "done\n", "done"},
		{"crlf", "a\r\nb\r\n", "a\nb"},
		{"progress", "10%\r50%\r100%\rdone\n", "10%\n50%\n100%\ndone"},
		{"bearer", "Authorization: Bearer xyz0123456789abc", "Authorization: •••"},
		{"one long line", long, "…\n" + strings.Repeat("é", 2048)},
		{"invalid utf-8", "bad \xff byte", "bad \uFFFD byte"},
		// A secret split across the line cut is masked whole, before the cut.
		{"split secret", "password:\n  hunter2\n" + strings.Repeat("y\n", 19), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jobs.LastLines([]byte(tt.in), token)
			if tt.name == "split secret" {
				if strings.Contains(got, "hunter2") {
					t.Errorf("LastLines(%q) = %q: the secret after the cut is kept", tt.in, got)
				}
				return
			}
			if got != tt.want {
				t.Errorf("LastLines(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
	// A body larger than the masked window keeps its end.
	big := strings.Repeat("filler line\n", 20000) + "the end\n"
	if got := jobs.LastLines([]byte(big), token); !strings.HasSuffix(got, "filler line\nthe end") || len(strings.Split(got, "\n")) != 21 {
		t.Errorf("LastLines of a large body = %q…, want its last 20 lines", got[:min(len(got), 80)])
	}
}
