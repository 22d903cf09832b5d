package alertmanager

import (
	"context"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/httpapi"
	"github.com/steward-bot/steward/monitor"
)

// Reporter is the alert engine as the receiver uses it (monitor.Engine.Report): it
// records in one transaction what a sender says has changed, and a repeat of what it
// has already changes nothing.
type Reporter interface {
	Report(ctx context.Context, source string, firing []monitor.Observation, resolved []string) error
}

var _ Reporter = (*monitor.Engine)(nil)

// Receiver serves POST /alertmanager, Alertmanager's webhook. A notification is
// recorded in SQLite before it is answered, so one Alertmanager thinks was delivered
// is never lost, and one it sends again (a retry, a repeat_interval) posts nothing new.
// The listener (httpapi) checks the token and bounds the body before it gets here.
type Receiver struct {
	Alerts Reporter
	// Hook, when set, is called with "webhook-recorded" between recording a
	// notification and answering it (the crash tests stop the process there).
	Hook func(step string)

	// Gate lets one notification at a time be recorded (Alertmanager sends each
	// group's apart, many at once after its restart or in a storm), shared with the
	// listener's other recording routes; nil gives the receiver one of its own.
	Gate *httpapi.Gate

	own httpapi.Gate
}

var _ http.Handler = (*Receiver)(nil)

// ServeHTTP records one notification: 400 for what is not Alertmanager's payload (the
// reason is logged and answered), 500 when it can't be recorded (Alertmanager tries
// again), 200 once it is.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := zerolog.Ctx(ctx)
	body, ok := httpapi.ReadBody(w, r)
	if !ok {
		return
	}
	msg, err := Parse(body)
	if err != nil {
		log.Info().Err(err).Msg("Refused an Alertmanager webhook")
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	firing, resolved := msg.Changes()
	if msg.TruncatedAlerts > 0 {
		log.Warn().Int("truncated", msg.TruncatedAlerts).Str("receiver", msg.Receiver).
			Msg("Alertmanager left alerts out of a notification (its max_alerts); they come with the next one")
	}
	if err = rc.record(ctx, firing, resolved); err != nil {
		if ctx.Err() != nil {
			log.Debug().Msg("Alertmanager gave up on a webhook before its turn to be recorded")
			http.Error(w, "gave up before it was recorded; send it again", http.StatusServiceUnavailable)
			return
		}
		log.Err(err).Msg("Failed to record an Alertmanager webhook")
		http.Error(w, "can't record the alerts now; try again", http.StatusInternalServerError)
		return
	}
	log.Debug().Int("firing", len(firing)).Int("resolved", len(resolved)).Str("status", msg.Status).Msg("Recorded an Alertmanager webhook")
	if rc.Hook != nil {
		rc.Hook("webhook-recorded")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("recorded\n"))
}

// record reports a notification's changes once no other is being recorded, or fails
// when ctx ends first.
func (rc *Receiver) record(ctx context.Context, firing []monitor.Observation, resolved []string) error {
	gate := rc.Gate
	if gate == nil {
		gate = &rc.own
	}
	return gate.Do(ctx, func(ctx context.Context) error { return rc.Alerts.Report(ctx, Source, firing, resolved) })
}
