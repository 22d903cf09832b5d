package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/state"
)

type fakeTransport struct {
	last   time.Time
	gaveUp int
}

func (f fakeTransport) LastSync() (time.Time, bool) { return f.last, !f.last.IsZero() }
func (f fakeTransport) GaveUpDecrypting() int       { return f.gaveUp }

type fakeBackups map[string]time.Time

func (f fakeBackups) Newest() map[string]time.Time { return f }

type fakeJobs map[string]time.Time

func (f fakeJobs) LastSuccesses(context.Context) (map[string]time.Time, error) { return f, nil }

// knownCommands are the commands of the test's Steward, "st" an alias of status.
func knownCommands(typed string) string {
	switch typed {
	case "status", "st":
		return "status"
	case "update":
		return "update"
	}
	return ""
}

// world is a real database with what the metrics count: alerts of several sources,
// an unsent message, decision log entries, an update and a restore.
func world(t *testing.T) (*state.DB, Sources) {
	t.Helper()
	ctx := t.Context()
	db, err := state.Open(ctx, filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	now := time.Now()
	for _, a := range []state.Alert{
		{Fingerprint: "disk:/var", Check: "disk", Severity: state.SeverityCritical, State: state.AlertFiring},
		{Fingerprint: "web", Check: "http:web", Severity: state.SeverityCritical, State: state.AlertFiring},
		{Fingerprint: "api", Check: "http:api", Severity: state.SeverityCritical, State: state.AlertFiring},
		{Fingerprint: "HostDown", Check: "alertmanager", Severity: state.SeverityWarning, State: state.AlertFiring},
		{Fingerprint: "load", Check: "host", Severity: state.SeverityWarning, State: state.AlertPending},
		{Fingerprint: "old", Check: "host", Severity: state.SeverityWarning, State: state.AlertResolved},
	} {
		a.Subject, a.Summary, a.Since, a.UpdatedAt = a.Fingerprint, a.Fingerprint, now, now
		if err = db.Alerts.Insert(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err = db.Outbox.Add(ctx, "!admins:example.org", event.EventMessage, map[string]any{"body": "hi"}, ""); err != nil {
		t.Fatal(err)
	}
	for _, e := range [][2]string{
		{"command.status", "ok"}, {"command.status", "ok"}, {"command.update", "awaiting_approval"},
		{"approval.request", "ok"}, {"approval.vote", "ok"}, {"approval.approved", "ok"}, {"command.update", "ok"},
	} {
		if _, err = db.Audit.Append(ctx, &state.AuditEntry{Actor: "@alice:example.org", Action: e[0], Outcome: e[1]}); err != nil {
			t.Fatal(err)
		}
	}
	for _, outcome := range []string{"done", "rolled_back", ""} {
		if err = db.UpdateJobs.Insert(ctx, &state.UpdateJob{Container: "web", Step: "done", Outcome: outcome, StartedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []state.BackupRun{{Set: "home", Kind: "restore", Outcome: "ok"}, {Set: "home", Kind: "drill", Outcome: "failed"}} {
		r.Started, r.Finished = now, now
		if err = db.BackupRuns.Start(ctx, &r); err != nil {
			t.Fatal(err)
		}
		if err = db.BackupRuns.Save(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	_, oldest, err := db.Outbox.Backlog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scrapedAt := oldest.Add(90 * time.Second)
	return db, Sources{
		Alerts: db.Alerts, Outbox: db.Outbox, Undecrypted: db.Undecrypted, Decisions: db.Audit,
		Updates: db.UpdateJobs, Restores: db.BackupRuns,
		Transport: fakeTransport{last: scrapedAt.Add(-12 * time.Second), gaveUp: 2},
		Backups:   fakeBackups{"home": scrapedAt.Add(-3 * time.Hour), "empty": {}},
		Jobs:      fakeJobs{"pgdump": time.Unix(1_700_000_000, 0), "never": {}},
		Command:   knownCommands,
		Now:       func() time.Time { return scrapedAt },
	}
}

// What a scrape shows, read from the database: alerts firing by severity and source
// (pending and resolved ones not), the outbox and its oldest message's age, commands
// and approvals from the decision log, updates and restores from their journals.
func TestCollectorReadsTheDatabase(t *testing.T) {
	db, src := world(t)
	c := NewCollector(t.Context(), src)
	want := `
# HELP steward_alerts_firing Alerts firing now, by severity and source (the check's name before its first ':': disk, http, container, backup, alertmanager, job, steward…).
# TYPE steward_alerts_firing gauge
steward_alerts_firing{severity="critical",source="disk"} 1
steward_alerts_firing{severity="critical",source="http"} 2
steward_alerts_firing{severity="warning",source="alertmanager"} 1
# HELP steward_approvals_total Approval requests by how they ended (approved, denied, cancelled, expired), from the decision log.
# TYPE steward_approvals_total counter
steward_approvals_total{outcome="approved"} 1
# HELP steward_backup_newest_snapshot_age_seconds Seconds since the newest snapshot of a backup set, as its check last read it; absent for a set without snapshots or not read yet.
# TYPE steward_backup_newest_snapshot_age_seconds gauge
steward_backup_newest_snapshot_age_seconds{set="home"} 10800
# HELP steward_commands_total Commands by name and outcome, from the decision log (a command run in the background or after approval counts once as started or awaiting_approval, and once with its result).
# TYPE steward_commands_total counter
steward_commands_total{command="status",outcome="ok"} 2
steward_commands_total{command="update",outcome="awaiting_approval"} 1
steward_commands_total{command="update",outcome="ok"} 1
# HELP steward_job_last_success_timestamp_seconds When a job last reported success (Unix time); absent before its first.
# TYPE steward_job_last_success_timestamp_seconds gauge
steward_job_last_success_timestamp_seconds{job="pgdump"} 1.7e+09
# HELP steward_outbox_messages Messages queued and not yet accepted by the homeserver.
# TYPE steward_outbox_messages gauge
steward_outbox_messages 1
# HELP steward_outbox_oldest_message_age_seconds Age of the oldest message not yet accepted by the homeserver; 0 when none waits.
# TYPE steward_outbox_oldest_message_age_seconds gauge
steward_outbox_oldest_message_age_seconds 90
# HELP steward_restores_total Restores by outcome (ok, failed, interrupted).
# TYPE steward_restores_total counter
steward_restores_total{outcome="ok"} 1
# HELP steward_sync_last_success_age_seconds Seconds since a sync with the homeserver last succeeded (a quiet sync returns every 30 s); absent before the first.
# TYPE steward_sync_last_success_age_seconds gauge
steward_sync_last_success_age_seconds 12
# HELP steward_undecryptable_events_total Encrypted messages Steward gave up decrypting (their key never came), since it started.
# TYPE steward_undecryptable_events_total counter
steward_undecryptable_events_total 2
# HELP steward_undecrypted_events_waiting Encrypted messages waiting for their room key.
# TYPE steward_undecrypted_events_waiting gauge
steward_undecrypted_events_waiting 0
# HELP steward_updates_total Container updates by outcome (done, up_to_date, rolled_back, failed), one per container.
# TYPE steward_updates_total counter
steward_updates_total{outcome="done"} 1
steward_updates_total{outcome="rolled_back"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	// The decision log is read on from where the last scrape stopped: new entries add
	// to the counts, the old ones are not counted twice.
	if _, err := db.Audit.Append(t.Context(), &state.AuditEntry{Actor: "@bob:example.org", Action: "command.status", Outcome: "refused"}); err != nil {
		t.Fatal(err)
	}
	want = `
# HELP steward_commands_total Commands by name and outcome, from the decision log (a command run in the background or after approval counts once as started or awaiting_approval, and once with its result).
# TYPE steward_commands_total counter
steward_commands_total{command="status",outcome="ok"} 2
steward_commands_total{command="status",outcome="refused"} 1
steward_commands_total{command="update",outcome="awaiting_approval"} 1
steward_commands_total{command="update",outcome="ok"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "steward_commands_total"); err != nil {
		t.Fatal(err)
	}
}

// /metrics serves Steward's metrics with the Go runtime's and the process's, and a
// source that fails leaves out only its own.
func TestHandlerServesWhatItCanRead(t *testing.T) {
	db, src := world(t)
	reg := NewRegistry()
	reg.MustRegister(NewCollector(t.Context(), src))
	rec := httptest.NewRecorder()
	Handler(t.Context(), reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, name := range []string{"steward_alerts_firing", "steward_outbox_messages", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics has no %s:\n%s", name, body)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	Handler(t.Context(), reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "steward_sync_last_success_age_seconds") || !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Errorf("with the database closed: %d\n%s", rec.Code, rec.Body.String())
	}
	if strings.Contains(rec.Body.String(), "steward_outbox_messages ") {
		t.Errorf("the outbox is reported though its database is closed")
	}
}

// What anyone types after the prefix is logged as a command (an unknown one, or a
// stranger's, refused), but the series stay one per command Steward knows: the rest
// count as "other", an alias as its command. A thousand made-up names made a
// thousand series, kept in memory and in Prometheus for good.
func TestCommandsCountedByKnownName(t *testing.T) {
	db, src := world(t)
	ctx := t.Context()
	for i := range 1000 {
		if _, err := db.Audit.Append(ctx, &state.AuditEntry{Actor: "@mallory:example.org", Action: fmt.Sprintf("command.x%d", i), Outcome: state.OutcomeUnknown}); err != nil {
			t.Fatal(err)
		}
	}
	for _, action := range []string{"command.st", "command.\u00e9t\u00e9"} {
		if _, err := db.Audit.Append(ctx, &state.AuditEntry{Actor: "@eve:example.org", Action: action, Outcome: state.OutcomeRefused}); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP steward_commands_total Commands by name and outcome, from the decision log (a command run in the background or after approval counts once as started or awaiting_approval, and once with its result).
# TYPE steward_commands_total counter
steward_commands_total{command="other",outcome="refused"} 1
steward_commands_total{command="other",outcome="unknown_command"} 1000
steward_commands_total{command="status",outcome="ok"} 2
steward_commands_total{command="status",outcome="refused"} 1
steward_commands_total{command="update",outcome="awaiting_approval"} 1
steward_commands_total{command="update",outcome="ok"} 1
`
	if err := testutil.CollectAndCompare(NewCollector(ctx, src), strings.NewReader(want), "steward_commands_total"); err != nil {
		t.Fatal(err)
	}
}
