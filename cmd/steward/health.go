package main

import (
	"context"
	"net/http"
	"time"

	"github.com/steward-bot/steward/bot"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/health"
	"github.com/steward-bot/steward/httpapi"
	"github.com/steward-bot/steward/jobs"
	"github.com/steward-bot/steward/metrics"
	"github.com/steward-bot/steward/service"
	"github.com/steward-bot/steward/state"
)

// fallbackPoll is how often the fallback looks at the sync's state: it is read from
// memory, so a second costs nothing and keeps fallback.after precise.
const fallbackPoll = time.Second

// buildHealth makes readiness, which the listener, the heartbeat, the watchdog and
// the self-check share, and what tells systemd about it (reading the watchdog's
// interval from the environment systemd sets).
func (p *parts) buildHealth() (err error) {
	p.transport = transportHealth{p.matrix}
	p.readiness = &health.Readiness{
		Sync: p.transport, KV: p.db.KV, Outbox: p.db.Outbox, SyncAge: p.cfg.HTTP.ReadySyncAge.D(), Now: time.Now,
	}
	p.systemd, err = health.NewSystemd(p.matrix.FirstSynced(), p.readiness)
	return err
}

// routeHealth adds what the listener serves about Steward itself: /healthz and
// /readyz for anyone (a container's health check has no token), /metrics for who
// holds the token.
func (p *parts) routeHealth(ctx context.Context, srv *httpapi.Server) {
	srv.Handle("GET /healthz", "healthz", httpapi.Open, health.Healthz())
	srv.Handle("GET /readyz", "readyz", httpapi.Open, p.readiness.Readyz())
	srv.Handle("GET /metrics", "metrics", httpapi.Bearer, metrics.Handler(ctx, p.metrics))
}

// healthServices are the loops that tell the outside how Steward is: systemd's
// notifications, and the heartbeat and the fallback notice when configured.
func (p *parts) healthServices() []service.Service {
	services := []service.Service{service.Loop("systemd notifications", p.systemd.Run)}
	client := &http.Client{}
	if hb := p.cfg.Heartbeat; hb.URL != "" {
		heartbeat := &health.Heartbeat{URL: hb.URL, Every: hb.Every.D(), Ready: p.readiness, Client: client}
		services = append(services, service.Loop("heartbeat", heartbeat.Run))
	}
	if fb := p.cfg.Fallback; fb.URL != "" {
		fallback := &health.Fallback{
			URL: fb.URL, After: fb.After.D(), Sync: p.transport, Alerts: p.db.Alerts, KV: p.db.KV, Client: client,
			Every: fallbackPoll, Now: time.Now,
		}
		services = append(services, service.Loop("fallback notice", fallback.Run))
	}
	return services
}

// fallbackWhileConnecting posts the fallback notice when Steward can't even connect:
// a start waits for the homeserver (a reboot that brought Steward back first, an
// outage that began while it was stopped), and nothing else runs meanwhile. The
// outage counts from the start; the notice is the same one, once per outage (the
// fallback after the connection clears its mark at the first sync). It returns what
// stops it, called once Connect returned.
func fallbackWhileConnecting(ctx context.Context, cfg *config.Config, db *state.DB) (stop func()) {
	fb := cfg.Fallback
	if fb.URL == "" {
		return func() {}
	}
	fallback := &health.Fallback{
		URL: fb.URL, After: fb.After.D(), Sync: connecting{since: time.Now()}, Alerts: db.Alerts, KV: db.KV,
		Client: &http.Client{}, Every: fallbackPoll, Now: time.Now,
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fallback.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// connecting is the sync as it stands before Steward connected: the homeserver not
// reached since the start.
type connecting struct{ since time.Time }

func (c connecting) Sync() health.Sync {
	return health.Sync{UnreachableSince: c.since, FailingSince: c.since}
}

// commandName is the name of the command typed as typed (a name or an alias), ""
// for none, for the metrics' command label.
func (p *parts) commandName(typed string) string {
	if cmd := p.registry.Lookup(typed); cmd != nil {
		return cmd.Name
	}
	return ""
}

// jobSuccesses is the jobs' record of pings as metrics read it.
type jobSuccesses struct{ t *jobs.Tracker }

var _ metrics.Jobs = jobSuccesses{}

// LastSuccesses implements metrics.Jobs: each configured job's last success, zero
// before its first.
func (j jobSuccesses) LastSuccesses(ctx context.Context) (map[string]time.Time, error) {
	list, err := j.t.Status(ctx)
	if err != nil {
		return nil, err
	}
	last := make(map[string]time.Time, len(list))
	for _, s := range list {
		last[s.Spec.Name] = s.Job.LastSuccess
	}
	return last, nil
}

// transportHealth is the Matrix transport as health and metrics read it.
type transportHealth struct{ b *bot.Bot }

var (
	_ health.Transport  = transportHealth{}
	_ metrics.Transport = transportHealth{}
)

// Sync implements health.SyncSource.
func (t transportHealth) Sync() health.Sync {
	s := t.b.SyncStatus()
	return health.Sync{
		Done: s.FirstSyncDone, LastSuccess: s.LastSuccess, FailingSince: s.FailingSince, UnreachableSince: s.UnreachableSince,
		LastError: s.LastError, PollingSince: s.PollingSince, PollTimeout: s.PollTimeout, HandlingSince: s.HandlingSince,
		Progress: s.Progress,
	}
}

// Undecryptable implements health.Transport.
func (t transportHealth) Undecryptable() []health.UndecryptableRun {
	runs, _ := t.b.Undecryptable()
	out := make([]health.UndecryptableRun, len(runs))
	for i, r := range runs {
		out[i] = health.UndecryptableRun{Sender: r.Sender, Device: r.Device, Count: r.Count, First: r.First, Last: r.Last}
	}
	return out
}

// LastSync implements metrics.Transport.
func (t transportHealth) LastSync() (time.Time, bool) {
	s := t.b.SyncStatus()
	return s.LastSuccess, !s.LastSuccess.IsZero()
}

// GaveUpDecrypting implements metrics.Transport.
func (t transportHealth) GaveUpDecrypting() int {
	_, total := t.b.Undecryptable()
	return total
}
