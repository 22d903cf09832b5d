package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/state"
)

// requestTimeout bounds every request to Alertmanager: a !silence waits for it.
const requestTimeout = 5 * time.Second

// Client speaks Alertmanager's API v2 (alertmanager.url) for !silence and !unsilence:
// a silence set on an alert that came from Alertmanager is made there too, so
// Alertmanager stops sending it, and ended there with Steward's.
type Client struct {
	base *url.URL
	http *http.Client
	now  func() time.Time
}

var _ monitor.Upstream = (*Client)(nil)

// NewClient makes a client of the Alertmanager at rawURL (like http://127.0.0.1:9093,
// or with the path a reverse proxy serves it under). Credentials in the URL are sent as
// basic authentication and never shown.
func NewClient(rawURL string) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("alertmanager.url: not an http:// or https:// URL with a host")
	}
	return &Client{base: u, http: &http.Client{Timeout: requestTimeout}, now: time.Now}, nil
}

// Source is the check Alertmanager's alerts are filed under.
func (c *Client) Source() string { return Source }

// Name names Alertmanager for people.
func (c *Client) Name() string { return "Alertmanager" }

// matcher is one of a silence's matchers in API v2.
type matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// Silence makes a silence in Alertmanager for alert a, with a matcher for each of its
// labels, from now until s ends, created by the admin who set s with s's reason; it
// returns the silence's ID.
func (c *Client) Silence(ctx context.Context, s *state.Silence, a *state.Alert) (string, error) {
	var matchers []matcher
	for _, name := range slices.Sorted(maps.Keys(a.Labels)) {
		if value := a.Labels[name]; value != "" {
			matchers = append(matchers, matcher{Name: name, Value: value, IsEqual: true})
		}
	}
	if len(matchers) == 0 {
		return "", fmt.Errorf("alert #%d has no labels to match in Alertmanager", a.ID)
	}
	comment := strings.TrimSpace(s.Reason)
	if comment == "" {
		comment = "silenced in Steward"
	}
	body, err := json.Marshal(struct {
		Matchers  []matcher `json:"matchers"`
		StartsAt  time.Time `json:"startsAt"`
		EndsAt    time.Time `json:"endsAt"`
		CreatedBy string    `json:"createdBy"`
		Comment   string    `json:"comment"`
	}{matchers, c.now().UTC(), s.EndsAt.UTC(), s.CreatedBy.String(), fmt.Sprintf("%s (Steward silence #%d)", comment, s.ID)})
	if err != nil {
		return "", err
	}
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	if err = c.do(ctx, http.MethodPost, "api/v2/silences", body, &created); err != nil {
		return "", fmt.Errorf("create a silence in Alertmanager for alert #%d: %w", a.ID, err)
	}
	if created.SilenceID == "" {
		return "", fmt.Errorf("create a silence in Alertmanager for alert #%d: no silence ID in the answer", a.ID)
	}
	return created.SilenceID, nil
}

// Expire ends the silence upstreamID now. One Alertmanager no longer has, or that
// ended already, is ended.
func (c *Client) Expire(ctx context.Context, upstreamID string) error {
	err := c.do(ctx, http.MethodDelete, "api/v2/silence/"+url.PathEscape(upstreamID), nil, nil)
	var status *statusError
	if errors.As(err, &status) && (status.code == http.StatusNotFound || strings.Contains(status.body, "already expired")) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("expire silence %s in Alertmanager: %w", upstreamID, err)
	}
	return nil
}

// Resolved returns the fingerprints of those of alerts that Alertmanager no longer has
// firing. Alertmanager sends nothing about a silenced alert, not even that it
// resolved, so when a silence ends Steward asks.
func (c *Client) Resolved(ctx context.Context, alerts []*state.Alert) ([]string, error) {
	var active []struct {
		Fingerprint string `json:"fingerprint"`
	}
	if err := c.do(ctx, http.MethodGet, "api/v2/alerts", nil, &active); err != nil {
		return nil, fmt.Errorf("list Alertmanager's alerts: %w", err)
	}
	firing := make(map[string]bool, len(active))
	for _, a := range active {
		firing[fingerprintPrefix+a.Fingerprint] = true
	}
	var resolved []string
	for _, a := range alerts {
		if a.Check == Source && !firing[a.Fingerprint] {
			resolved = append(resolved, a.Fingerprint)
		}
	}
	return resolved, nil
}

// statusError is an answer other than 2xx.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("Alertmanager answered %d", e.code)
	}
	return fmt.Sprintf("Alertmanager answered %d: %s", e.code, e.body)
}

// do sends a request to path under the base URL with body as JSON, and decodes a 2xx
// answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.JoinPath(path).String(), reader)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Not the url.Error as it is: it hides a password, but not a token given as
		// the user name or in the query.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(text))}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil
	}
	if err = json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("read Alertmanager's answer: %w", err)
	}
	return nil
}
