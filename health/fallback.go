package health

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// KV remembers small values across restarts (state.KV).
type KV interface {
	Get(ctx context.Context, key string) (string, error)
	Set(ctx context.Context, key, value string) error
}

// Alerts counts the firing alerts (state.Alerts).
type Alerts interface {
	FiringCounts(ctx context.Context) ([]state.AlertCount, error)
}

// fallbackKey holds, while an outage's notice has been sent, when that outage
// began; it is cleared by the first sync that succeeds after it.
const fallbackKey = "health.fallback_sent"

// fallbackRetry is how long a notice that could not be posted waits to be tried again.
const fallbackRetry = 30 * time.Second

// Fallback posts one short plain-text notice to URL (an ntfy or Gotify topic) when
// the homeserver has been unreachable for After: since when, and how many critical
// alerts wait. That channel is not end-to-end encrypted, so the notice carries no
// alert text and no names. One notice per outage, remembered in the database so a
// restart in the middle does not send it again; the next outage may send another.
type Fallback struct {
	URL    string
	After  time.Duration
	Sync   SyncSource
	Alerts Alerts
	KV     KV
	Client *http.Client
	// Every is how often the sync's state is looked at.
	Every time.Duration
	Now   func() time.Time
}

// Run watches the sync until ctx ends.
func (f *Fallback) Run(ctx context.Context) {
	log := zerolog.Ctx(ctx).With().Str("component", "fallback").Str("host", hostOf(f.URL)).Logger()
	ctx = log.WithContext(ctx)
	sent, err := f.KV.Get(ctx, fallbackKey)
	if err != nil {
		log.Err(err).Msg("Failed to read whether the fallback notice was sent; assuming it was")
		sent = "unknown"
	}
	var retryAt time.Time
	ticker := time.NewTicker(f.Every)
	defer ticker.Stop()
	for {
		s, now := f.Sync.Sync(), f.Now()
		switch {
		case s.Done && s.FailingSince.IsZero() && sent != "":
			// Back: the next outage gets its own notice.
			if err := f.KV.Set(ctx, fallbackKey, ""); err != nil {
				log.Err(err).Msg("Failed to record the end of the outage for the fallback notice")
			} else {
				sent = ""
			}
		case !s.UnreachableSince.IsZero() && now.Sub(s.UnreachableSince) >= f.After && sent == "" && !now.Before(retryAt):
			if err := f.post(ctx, s.UnreachableSince, now); err != nil {
				log.Warn().Err(err).Msg("Failed to post the fallback notice; trying again later")
				retryAt = now.Add(fallbackRetry)
				break
			}
			log.Info().Time("unreachable_since", s.UnreachableSince).Msg("Posted the fallback notice: the homeserver can't be reached")
			sent = strconv.FormatInt(s.UnreachableSince.UnixMilli(), 10)
			if err := f.KV.Set(ctx, fallbackKey, sent); err != nil {
				// Remembered here until the next start.
				log.Err(err).Msg("Failed to record that the fallback notice was sent")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// post sends the notice.
func (f *Fallback) post(ctx context.Context, since, now time.Time) error {
	counts, err := f.Alerts.FiringCounts(ctx)
	if err != nil {
		return fmt.Errorf("count the critical alerts: %w", err)
	}
	critical := 0
	for _, c := range counts {
		if c.Severity == state.SeverityCritical {
			critical += c.N
		}
	}
	ctx, cancel := context.WithTimeout(ctx, maxRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, strings.NewReader(FallbackNotice(since, now, critical)))
	if err != nil {
		return scrub(err, f.URL)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "Steward fallback")
	resp, err := f.Client.Do(req)
	if err != nil {
		return scrub(err, f.URL)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the fallback URL answered %s", resp.Status)
	}
	return nil
}

// FallbackNotice is the whole notice: when the outage began and a count, nothing a
// reader of an unencrypted channel could learn more from.
func FallbackNotice(since, now time.Time, critical int) string {
	alerts := "No critical alert is waiting."
	switch critical {
	case 0:
	case 1:
		alerts = "1 critical alert is waiting."
	default:
		alerts = fmt.Sprintf("%d critical alerts are waiting.", critical)
	}
	return fmt.Sprintf("Steward can't reach its Matrix homeserver since %s (%s ago). %s Details are in the admin room once it is back.",
		since.UTC().Format("2006-01-02 15:04 UTC"), render.Duration(now.Sub(since)), alerts)
}
