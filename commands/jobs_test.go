package commands_test

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/jobs"
	"github.com/steward-bot/steward/state"
)

// !jobs shows each job's last success, last failure, last duration and when its next
// success is due, from what the pings recorded; the title counts what needs a look.
func TestJobsListsEachJob(t *testing.T) {
	h := newHarness(t, nil, func(h *harness) {
		tracker := jobs.NewTracker([]jobs.Spec{
			{Name: "pgdump", Every: 24 * time.Hour, Grace: 6 * time.Hour},
			{Name: "borg", Every: time.Hour, Grace: 15 * time.Minute},
			{Name: "offsite", Every: 7 * 24 * time.Hour, Grace: 24 * time.Hour},
			{Name: "certs", Every: time.Hour, Grace: 10 * time.Minute},
		}, h.db.Jobs, h.clock.Now)
		h.registry = commands.Builtin(commands.Features{Jobs: tracker})
	})
	ctx, now := t.Context(), h.clock.Now() // Sun 1 Jun 12:00 UTC
	for _, p := range []*state.Ping{
		{Job: "pgdump", Kind: state.PingStart, At: now.Add(-9 * time.Hour)},
		{Job: "pgdump", Kind: state.PingSuccess, At: now.Add(-9*time.Hour + 4*time.Minute)},
		{Job: "borg", Kind: state.PingSuccess, At: now.Add(-2 * time.Hour)},
		{Job: "borg", Kind: state.PingFailure, ExitCode: 2, At: now.Add(-time.Hour), Output: "borg: repository locked"},
		{Job: "certs", Kind: state.PingSuccess, At: now.Add(-80 * time.Minute)},
	} {
		if err := h.db.Jobs.Record(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	replies, _ := h.send(admin, adminRoom, "!jobs")
	reply := onlyReply(t, replies)
	for _, want := range []string{
		"4 jobs, 2 need a look:",
		"pgdump   ✅ ok",
		"03:04 UTC",
		"4 minutes",
		"Mon 2 Jun 03:04 UTC",
		"borg     🔴 failed",
		"11:00 UTC, exit code 2",
		"offsite  no ping yet  never",
		"Sun 8 Jun 12:00 UTC",
		"certs    🔴 late",
		"overdue since 11:40 UTC",
	} {
		if !strings.Contains(reply.Plain, want) {
			t.Errorf("!jobs does not say %q:\n%s", want, reply.Plain)
		}
	}
	compareGolden(t, "jobs.txt", reply.Plain)
	compareGolden(t, "jobs.html", reply.HTML)

	// Admins only, like !alerts.
	if replies, _ = h.send(member, groupRoom, "!jobs"); strings.Contains(onlyReply(t, replies).Plain, "pgdump") {
		t.Errorf("a member was shown the jobs:\n%s", replies[0].Plain)
	}
}

// Without jobs configured, !jobs says where they are configured.
func TestJobsWithoutJobs(t *testing.T) {
	h := newHarness(t, commands.Builtin(commands.Features{}))
	replies, _ := h.send(admin, adminRoom, "!jobs")
	reply := onlyReply(t, replies)
	if !strings.Contains(reply.Plain, "No jobs are configured (jobs in the config file).") {
		t.Errorf("!jobs without jobs answered:\n%s", reply.Plain)
	}
}
