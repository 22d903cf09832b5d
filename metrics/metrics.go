// Package metrics is what Steward tells Prometheus on /metrics. What the database
// knows (alerts firing, the outbox, the decision log) is read from it at scrape time
// by one collector, with cheap queries under a timeout, so a metric can never drift
// from what Steward holds; what lives in memory (the sync, the backup checks' last
// reading) is read from its owner through a small interface. The Go runtime's and
// the process's own collectors come with the registry.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/state"
)

// ScrapeTimeout bounds the database reads of one scrape: a database stuck behind a
// long write answers the scrape with what it could read, not at all.
const ScrapeTimeout = 5 * time.Second

// Alerts counts the firing alerts (state.Alerts).
type Alerts interface {
	FiringCounts(ctx context.Context) ([]state.AlertCount, error)
}

// Outbox tells how far behind the sending is (state.Outbox).
type Outbox interface {
	Backlog(ctx context.Context) (n int, oldest time.Time, err error)
}

// Undecrypted counts the messages waiting for their room key (state.Undecrypted).
type Undecrypted interface {
	Count(ctx context.Context) (int, error)
}

// Decisions counts the decision log's entries appended after an entry
// (state.Audit), so that each scrape reads only what is new.
type Decisions interface {
	CountAfter(ctx context.Context, afterID int64) ([]state.AuditCount, int64, error)
}

// Updates counts the container updates that ended, by outcome (state.UpdateJobs).
type Updates interface {
	OutcomeCounts(ctx context.Context) (map[string]int, error)
}

// Runs counts the backup runs of a kind that ended, by outcome (state.BackupRuns):
// the restores.
type Runs interface {
	OutcomeCounts(ctx context.Context, kind string) (map[string]int, error)
}

// Transport is what the Matrix side says of itself.
type Transport interface {
	// LastSync is when a sync was last handled; false before the first.
	LastSync() (time.Time, bool)
	// GaveUpDecrypting counts the messages Steward gave up decrypting since it
	// started.
	GaveUpDecrypting() int
}

// Backups gives each backup set's newest snapshot as its check last read it
// (backup.Checks).
type Backups interface {
	Newest() map[string]time.Time
}

// Jobs gives each job's last success (zero for none yet): the jobs package's
// record of the pings.
type Jobs interface {
	LastSuccesses(ctx context.Context) (map[string]time.Time, error)
}

// Sources are what the collector reads. Jobs may be nil (no job metrics).
type Sources struct {
	// Command names the command a decision log entry was typed as (a name or an
	// alias) and "" for one Steward does not know: whatever anyone types after the
	// prefix is logged, and must not become a label value of its own.
	Command     func(typed string) string
	Alerts      Alerts
	Outbox      Outbox
	Undecrypted Undecrypted
	Decisions   Decisions
	Updates     Updates
	Restores    Runs
	Transport   Transport
	Backups     Backups
	Jobs        Jobs
	Now         func() time.Time
}

var (
	alertsFiring = prometheus.NewDesc("steward_alerts_firing",
		"Alerts firing now, by severity and source (the check's name before its first ':': disk, http, container, backup, alertmanager, job, steward…).",
		[]string{"severity", "source"}, nil)
	outboxMessages = prometheus.NewDesc("steward_outbox_messages",
		"Messages queued and not yet accepted by the homeserver.", nil, nil)
	outboxOldest = prometheus.NewDesc("steward_outbox_oldest_message_age_seconds",
		"Age of the oldest message not yet accepted by the homeserver; 0 when none waits.", nil, nil)
	syncAge = prometheus.NewDesc("steward_sync_last_success_age_seconds",
		"Seconds since a sync with the homeserver last succeeded (a quiet sync returns every 30 s); absent before the first.", nil, nil)
	undecryptedWaiting = prometheus.NewDesc("steward_undecrypted_events_waiting",
		"Encrypted messages waiting for their room key.", nil, nil)
	undecryptable = prometheus.NewDesc("steward_undecryptable_events_total",
		"Encrypted messages Steward gave up decrypting (their key never came), since it started.", nil, nil)
	commands = prometheus.NewDesc("steward_commands_total",
		"Commands by name and outcome, from the decision log (a command run in the background or after approval counts once as started or awaiting_approval, and once with its result).",
		[]string{"command", "outcome"}, nil)
	approvals = prometheus.NewDesc("steward_approvals_total",
		"Approval requests by how they ended (approved, denied, cancelled, expired), from the decision log.", []string{"outcome"}, nil)
	updates = prometheus.NewDesc("steward_updates_total",
		"Container updates by outcome (done, up_to_date, rolled_back, failed), one per container.", []string{"outcome"}, nil)
	restores = prometheus.NewDesc("steward_restores_total",
		"Restores by outcome (ok, failed, interrupted).", []string{"outcome"}, nil)
	backupAge = prometheus.NewDesc("steward_backup_newest_snapshot_age_seconds",
		"Seconds since the newest snapshot of a backup set, as its check last read it; absent for a set without snapshots or not read yet.",
		[]string{"set"}, nil)
	jobSuccess = prometheus.NewDesc("steward_job_last_success_timestamp_seconds",
		"When a job last reported success (Unix time); absent before its first.", []string{"job"}, nil)
)

// Collector reads Steward's metrics at scrape time.
type Collector struct {
	src Sources
	// ctx carries the logger; each scrape's reads end after ScrapeTimeout.
	ctx context.Context

	// The decision log is counted incrementally: the counts so far and the newest
	// entry counted. Entries are never changed or deleted, so the counts only grow.
	decisionsMu sync.Mutex
	decisions   map[decisionKey]int
	lastEntry   int64
}

type decisionKey struct{ action, outcome string }

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector makes the collector of src; ctx carries the logger and ends nothing.
func NewCollector(ctx context.Context, src Sources) *Collector {
	if src.Now == nil {
		src.Now = time.Now
	}
	return &Collector{src: src, ctx: context.WithoutCancel(ctx), decisions: make(map[decisionKey]int)}
}

// NewRegistry is a registry with the Go runtime's and the process's collectors;
// Steward's own are registered on it by their owners.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg's metrics. A source that fails leaves its metrics out, logged,
// and the rest are served.
func Handler(ctx context.Context, reg prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      errorLog{zerolog.Ctx(ctx)},
		Timeout:       2 * ScrapeTimeout,
	})
}

// errorLog is promhttp's logger as a zerolog warning.
type errorLog struct{ log *zerolog.Logger }

func (l errorLog) Println(v ...any) {
	l.log.Warn().Str("component", "metrics").Msg(strings.TrimSpace(fmt.Sprintln(v...)))
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{alertsFiring, outboxMessages, outboxOldest, syncAge, undecryptedWaiting, undecryptable,
		commands, approvals, updates, restores, backupAge, jobSuccess} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(c.ctx, ScrapeTimeout)
	defer cancel()
	now := c.src.Now()
	c.collectAlerts(ctx, ch)
	c.collectOutbox(ctx, ch, now)
	c.collectTransport(ctx, ch, now)
	c.collectDecisions(ctx, ch)
	c.collectOutcomes(ctx, ch)
	for set, newest := range c.src.Backups.Newest() {
		if !newest.IsZero() {
			ch <- prometheus.MustNewConstMetric(backupAge, prometheus.GaugeValue, now.Sub(newest).Seconds(), set)
		}
	}
	if c.src.Jobs != nil {
		last, err := c.src.Jobs.LastSuccesses(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(jobSuccess, err)
		}
		for job, t := range last {
			if !t.IsZero() {
				ch <- prometheus.MustNewConstMetric(jobSuccess, prometheus.GaugeValue, float64(t.UnixMilli())/1000, job)
			}
		}
	}
}

func (c *Collector) collectAlerts(ctx context.Context, ch chan<- prometheus.Metric) {
	counts, err := c.src.Alerts.FiringCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(alertsFiring, err)
		return
	}
	type key struct{ severity, source string }
	bySource := make(map[key]int)
	for _, n := range counts {
		source, _, _ := strings.Cut(n.Check, ":")
		bySource[key{n.Severity.String(), source}] += n.N
	}
	for k, n := range bySource {
		ch <- prometheus.MustNewConstMetric(alertsFiring, prometheus.GaugeValue, float64(n), k.severity, k.source)
	}
}

func (c *Collector) collectOutbox(ctx context.Context, ch chan<- prometheus.Metric, now time.Time) {
	n, oldest, err := c.src.Outbox.Backlog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxMessages, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxMessages, prometheus.GaugeValue, float64(n))
	age := 0.0
	if !oldest.IsZero() {
		age = max(now.Sub(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(outboxOldest, prometheus.GaugeValue, age)
}

func (c *Collector) collectTransport(ctx context.Context, ch chan<- prometheus.Metric, now time.Time) {
	if last, ok := c.src.Transport.LastSync(); ok {
		ch <- prometheus.MustNewConstMetric(syncAge, prometheus.GaugeValue, max(now.Sub(last).Seconds(), 0))
	}
	ch <- prometheus.MustNewConstMetric(undecryptable, prometheus.CounterValue, float64(c.src.Transport.GaveUpDecrypting()))
	waiting, err := c.src.Undecrypted.Count(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(undecryptedWaiting, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(undecryptedWaiting, prometheus.GaugeValue, float64(waiting))
}

// collectDecisions counts commands and approvals from the decision log, which has
// every one of them with its outcome: counters kept in memory would start again at
// each restart and miss what a crash cut off, while the log is what happened.
func (c *Collector) collectDecisions(ctx context.Context, ch chan<- prometheus.Metric) {
	c.decisionsMu.Lock()
	defer c.decisionsMu.Unlock()
	counts, last, err := c.src.Decisions.CountAfter(ctx, c.lastEntry)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(commands, err)
		// What was counted before still holds.
	} else {
		for _, n := range counts {
			c.decisions[c.decisionKey(n)] += n.N
		}
		c.lastEntry = last
	}
	for k, n := range c.decisions {
		switch {
		case strings.HasPrefix(k.action, "command."):
			ch <- prometheus.MustNewConstMetric(commands, prometheus.CounterValue, float64(n), strings.TrimPrefix(k.action, "command."), k.outcome)
		case approvalEnds[k.action]:
			ch <- prometheus.MustNewConstMetric(approvals, prometheus.CounterValue, float64(n), strings.TrimPrefix(k.action, "approval."))
		}
	}
}

// otherCommand is the command label of what Steward does not know as a command.
const otherCommand = "other"

// decisionKey is an entry's key among the counts: a command's name as Steward knows
// it, so the counts (and the series) stay as many as its commands, whatever is typed.
func (c *Collector) decisionKey(n state.AuditCount) decisionKey {
	typed, ok := strings.CutPrefix(n.Action, "command.")
	if !ok {
		return decisionKey{n.Action, n.Outcome}
	}
	name := ""
	if c.src.Command != nil {
		name = c.src.Command(typed)
	}
	if name == "" {
		name = otherCommand
	}
	return decisionKey{"command." + name, n.Outcome}
}

// approvalEnds are the decision log actions that close an approval request; the
// request itself and each vote are entries of their own, not outcomes.
var approvalEnds = map[string]bool{
	"approval.approved": true, "approval.denied": true, "approval.cancelled": true, "approval.expired": true,
}

// collectOutcomes counts updates and restores from their own journals, where each
// container update and each restore has one row with its outcome; the decision log
// has one entry per command, which may update many containers.
func (c *Collector) collectOutcomes(ctx context.Context, ch chan<- prometheus.Metric) {
	byOutcome, err := c.src.Updates.OutcomeCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(updates, err)
	}
	for outcome, n := range byOutcome {
		ch <- prometheus.MustNewConstMetric(updates, prometheus.CounterValue, float64(n), outcome)
	}
	byOutcome, err = c.src.Restores.OutcomeCounts(ctx, restoreKind)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(restores, err)
	}
	for outcome, n := range byOutcome {
		ch <- prometheus.MustNewConstMetric(restores, prometheus.CounterValue, float64(n), outcome)
	}
}

// restoreKind is backup.KindRestore, the backup_run kind of a restore; metrics does
// not import the backup package for one word.
const restoreKind = "restore"
