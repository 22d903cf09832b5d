package e2e

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
)

// BenchmarkAlertmanagerWebhookToAlert measures how long after Alertmanager's webhook
// is sent its alert is readable, decrypted, by an admin's client (no group wait), and
// how long the webhook waits for its answer (recorded in SQLite first). Each round
// fires a new alert and resolves it. Run with -benchtime 50x.
func BenchmarkAlertmanagerWebhookToAlert(b *testing.B) {
	ctx := b.Context()
	l := newListener(b)
	l.start(b, "", 0)
	command(b, w.Alice, w.AdminRoom, "!ping")
	run := time.Now().UnixNano()
	var toAlert, toAnswer []time.Duration
	n := 0
	for b.Loop() {
		n++
		fired := webhook("firing", hostDown(run, n, "firing", "critical"))
		start := time.Now()
		l.deliver(b, fired)
		toAnswer = append(toAnswer, time.Since(start))
		alert, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, fmt.Sprintf("host%04d of run %d is down", n, run), time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		toAlert = append(toAlert, time.Since(start))
		l.deliver(b, webhook("resolved", hostDown(run, n, "resolved", "critical")))
		if _, err = w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, alert.ID, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	reportPercentiles(b, toAlert)
	slices.Sort(toAnswer)
	b.ReportMetric(float64(toAnswer[len(toAnswer)/2].Microseconds())/1000, "answer-p50-ms")
	b.ReportMetric(float64(toAnswer[min(len(toAnswer)-1, len(toAnswer)*95/100)].Microseconds())/1000, "answer-p95-ms")
}

// BenchmarkAlertmanagerStorm measures one webhook of 1,000 alerts: how long until the
// storm message is readable, how many messages it took (the storm message and, once
// they all resolve in one more webhook, its follow-up), and Steward's peak resident
// memory, sampled every 20 ms, next to its resident memory before. Run with
// -benchtime 3x.
func BenchmarkAlertmanagerStorm(b *testing.B) {
	ctx := b.Context()
	l := newListener(b)
	l.start(b, "", 0)
	command(b, w.Alice, w.AdminRoom, "!ping")
	pid := w.Steward.PID()
	before, err := testbed.ResidentKiB(pid)
	if err != nil {
		b.Fatal(err)
	}
	var toStorm, toAnswer []time.Duration
	var posted []int
	var peak int64
	for b.Loop() {
		run := time.Now().UnixNano()
		firing, resolved := stormWebhook(run, 1000, "firing"), stormWebhook(run, 1000, "resolved")
		messagesBefore := len(stewardMessages(w.AdminRoom, w.StewardID))
		stop := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Go(func() {
			for {
				if rss, err := testbed.ResidentKiB(pid); err == nil {
					peak = max(peak, rss)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
		start := time.Now()
		l.deliver(b, firing)
		toAnswer = append(toAnswer, time.Since(start))
		storm, err := w.Alice.WaitForMessage(ctx, w.AdminRoom, w.StewardID, fmt.Sprintf("host0001 of run %d is down", run), time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		toStorm = append(toStorm, time.Since(start))
		l.deliver(b, resolved)
		if _, err = w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, storm.ID, time.Minute); err != nil {
			b.Fatal(err)
		}
		close(stop)
		sampler.Wait()
		posted = append(posted, len(stewardMessages(w.AdminRoom, w.StewardID))-messagesBefore)
	}
	slices.Sort(toStorm)
	slices.Sort(toAnswer)
	b.Logf("time to the storm message: %v; webhook answered after %v; messages per storm: %v", toStorm, toAnswer, posted)
	b.ReportMetric(float64(toStorm[len(toStorm)/2].Microseconds())/1000, "storm-p50-ms")
	b.ReportMetric(float64(toStorm[len(toStorm)-1].Microseconds())/1000, "storm-max-ms")
	b.ReportMetric(float64(toAnswer[len(toAnswer)/2].Microseconds())/1000, "answer-p50-ms")
	b.ReportMetric(float64(slices.Max(posted)), "messages-max")
	b.ReportMetric(float64(before)/1024, "rss-before-MiB")
	b.ReportMetric(float64(peak)/1024, "rss-peak-MiB")
	b.ReportMetric(0, "ns/op")
}
