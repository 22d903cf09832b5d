package monitor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/steward-bot/steward/redact"
	"github.com/steward-bot/steward/state"
)

// HTTPSpec is one watched endpoint.
type HTTPSpec struct {
	// Name is the check's name in fingerprints: "http:" + Name.
	Name    string
	URL     string
	Every   time.Duration
	Timeout time.Duration
	// StatusOK tells an acceptable status code.
	StatusOK       func(code int) bool
	LatencyWarning time.Duration
	// CertWarning and CertCritical are how long before a certificate expires it warns
	// and is critical.
	CertWarning, CertCritical time.Duration
	For                       time.Duration
	Hint                      string
	Public                    bool
}

// HTTPCheck watches one HTTP(S) endpoint: that it answers with an accepted status,
// how fast, and how long its TLS certificate has left.
type HTTPCheck struct {
	Spec   HTTPSpec
	Client *http.Client
}

// NewHTTPCheck builds the check for spec, with a client of its own that does not
// follow redirects (a redirect is an answer) and does not keep connections idle
// between rounds.
func NewHTTPCheck(spec HTTPSpec) *HTTPCheck {
	return &HTTPCheck{Spec: spec, Client: &http.Client{
		Timeout: spec.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}},
	}}
}

// Name implements Check.
func (c *HTTPCheck) Name() string { return "http:" + c.Spec.Name }

// Interval implements Check.
func (c *HTTPCheck) Interval() time.Duration { return c.Spec.Every }

// Observe implements Check. The endpoint being down is an observation, not an error
// of the check: it is what the check is for.
func (c *HTTPCheck) Observe(ctx context.Context) ([]Observation, error) {
	s := c.Spec
	base := "http:" + s.Name + ":"
	down := Observation{
		Fingerprint: base + "down", Subject: s.Name, Severity: state.SeverityCritical,
		Hint: s.Hint, For: s.For, Public: s.Public,
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("build request for %s: %w", displayURL(s.URL), err)
	}
	req.Header.Set("User-Agent", "Steward health check")
	start := time.Now()
	resp, err := c.Client.Do(req)
	latency := time.Since(start)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, ctx.Err() // shutting down: nothing was learnt
		}
		down.Summary = fmt.Sprintf("%s does not answer", s.Name)
		// The transport's own words, without the URL (which may hold a token).
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		down.Value = redact.Secrets(err.Error())
		return []Observation{down}, nil
	}
	resp.Body.Close()
	var obs []Observation
	if !s.StatusOK(resp.StatusCode) {
		down.Summary = fmt.Sprintf("%s answers %s", s.Name, resp.Status)
		down.Value = fmt.Sprintf("GET %s: %s after %s", displayURL(s.URL), resp.Status, latency.Round(time.Millisecond))
		obs = append(obs, down)
	} else if s.LatencyWarning > 0 && latency > s.LatencyWarning {
		obs = append(obs, Observation{
			Fingerprint: base + "slow", Subject: s.Name, Severity: state.SeverityWarning, Hint: s.Hint, For: s.For,
			Summary: fmt.Sprintf("%s is slow", s.Name),
			Value:   fmt.Sprintf("answered in %s (warning above %s)", latency.Round(time.Millisecond), s.LatencyWarning),
		})
	}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		left := resp.TLS.PeerCertificates[0].NotAfter.Sub(time.Now())
		if severity := certSeverity(left, s); severity != state.SeverityOK {
			obs = append(obs, Observation{
				Fingerprint: base + "cert", Subject: s.Name, Severity: severity, Hint: s.Hint,
				Summary: fmt.Sprintf("The TLS certificate of %s expires in %s", s.Name, humanForecast(left)),
				Value:   "expires " + resp.TLS.PeerCertificates[0].NotAfter.UTC().Format("2006-01-02 15:04 UTC"),
			})
		}
	}
	return obs, nil
}

// displayURL is an endpoint's address as alerts show it: without a password or the
// query string, either of which may hold a secret.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL)"
	}
	u.RawQuery, u.Fragment = "", ""
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

func certSeverity(left time.Duration, s HTTPSpec) state.Severity {
	switch {
	case left <= s.CertCritical:
		return state.SeverityCritical
	case left <= s.CertWarning:
		return state.SeverityWarning
	default:
		return state.SeverityOK
	}
}
