package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Ready tells whether Steward is ready (Readiness).
type Ready interface {
	Check(ctx context.Context) Report
}

// maxRequestTimeout bounds one request to the heartbeat or fallback URL.
const maxRequestTimeout = 10 * time.Second

// Heartbeat requests URL every Every while Steward is ready, and not at all while it
// is not, so the watcher on the other end (Healthchecks, Uptime Kuma) alerts through
// its own channels when the requests stop. A push URL's path is its secret, so only
// its host is ever logged.
type Heartbeat struct {
	URL    string
	Every  time.Duration
	Ready  Ready
	Client *http.Client
}

// Run beats until ctx ends.
func (h *Heartbeat) Run(ctx context.Context) {
	log := zerolog.Ctx(ctx).With().Str("component", "heartbeat").Str("host", hostOf(h.URL)).Logger()
	ctx = log.WithContext(ctx)
	ticker := time.NewTicker(h.Every)
	defer ticker.Stop()
	// Until the first beat (before the first sync, say) there is nothing to pause.
	started, paused, failing := false, false, false
	for {
		rep := h.Ready.Check(ctx)
		switch {
		case !rep.Ready && started && !paused:
			log.Warn().Str("sync", rep.Sync.Problem).Str("database", rep.Database.Problem).Str("outbox", rep.Outbox.Problem).
				Msg("Not ready: the heartbeat stops until Steward is ready again")
			paused = true
		case rep.Ready:
			if paused {
				log.Info().Msg("Ready again: the heartbeat resumes")
			}
			started, paused = true, false
			err := h.beat(ctx)
			switch {
			case err != nil && !failing:
				log.Warn().Err(err).Msg("Failed to send the heartbeat")
				failing = true
			case err == nil && failing:
				log.Info().Msg("The heartbeat goes through again")
				failing = false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// beat makes one request; any 2xx answer counts.
func (h *Heartbeat) beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(h.Every, maxRequestTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return scrub(err, h.URL)
	}
	req.Header.Set("User-Agent", "Steward heartbeat")
	resp, err := h.Client.Do(req)
	if err != nil {
		return scrub(err, h.URL)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the watcher answered %s", resp.Status)
	}
	return nil
}

// hostOf is the part of a URL that may be logged: its host.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "(unparsable URL)"
}

// scrub removes raw (and its path, which holds a push URL's secret) from err's text:
// net/http puts the whole URL in its errors, spelled its own way (escaped, a
// password masked but not a user name), so its url.Error loses its URL for the host.
func scrub(err error, raw string) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		where := "(URL)"
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			where = u.Scheme + "://" + u.Host + "/…"
		}
		err = fmt.Errorf("%s %s: %w", urlErr.Op, where, urlErr.Err)
	}
	text := err.Error()
	if u, perr := url.Parse(raw); perr == nil {
		text = strings.ReplaceAll(text, raw, u.Scheme+"://"+u.Host+"/…")
		if u.Path != "" && u.Path != "/" {
			text = strings.ReplaceAll(text, u.Path, "/…")
		}
		if u.RawQuery != "" {
			text = strings.ReplaceAll(text, u.RawQuery, "…")
		}
	} else {
		text = strings.ReplaceAll(text, raw, "(URL)")
	}
	return fmt.Errorf("%s", text)
}
