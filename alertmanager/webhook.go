// Package alertmanager joins Steward to a group's Prometheus and Alertmanager: the
// Receiver takes Alertmanager's webhook and files each alert with the alert engine,
// where it follows the lifecycle every Steward alert has, and the Client makes and
// ends silences in Alertmanager for !silence and !unsilence (monitor.Upstream).
package alertmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Source is the name Alertmanager's alerts are filed under in the alert engine (their
// Check), and the start of their fingerprints ("alertmanager" and "am:…").
const Source = "alertmanager"

// fingerprintPrefix starts the fingerprint of every alert that came from Alertmanager,
// so !silence am:* covers them all.
const fingerprintPrefix = "am:"

// The bounds of what an alert shows: a summary is one line, a description a few.
const (
	maxSummary     = 200
	maxDescription = 500
)

// Message is Alertmanager's webhook payload, version 4: one notification for one
// group of alerts (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
type Message struct {
	Version  string `json:"version"`
	GroupKey string `json:"groupKey"`
	// TruncatedAlerts is how many alerts the receiver's max_alerts left out.
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []Alert           `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
}

// Alert is one alert of a notification, as Alertmanager has it now.
type Alert struct {
	// Status is "firing" or "resolved".
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	// Fingerprint is Alertmanager's hash of the labels: the alert's identity.
	Fingerprint string `json:"fingerprint"`
}

// The statuses of an alert.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// fingerprintPattern is what a fingerprint may be: Alertmanager's are 16 hex digits;
// glob characters would make a fingerprint that !silence can't name alone.
var fingerprintPattern = regexp.MustCompile(`^[0-9A-Za-z._-]{1,64}$`)

// Parse reads a webhook body. It refuses what is not Alertmanager's version 4, and
// alerts without a fingerprint or a status, saying why.
func Parse(body []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("not a webhook payload: %w", err)
	}
	if m.Version != "4" {
		return nil, fmt.Errorf("webhook payload version %q, want \"4\" (Alertmanager's)", m.Version)
	}
	if m.Alerts == nil {
		return nil, errors.New("webhook payload without alerts")
	}
	for i, a := range m.Alerts {
		switch {
		case a.Fingerprint == "":
			return nil, fmt.Errorf("alerts[%d] has no fingerprint", i)
		case !fingerprintPattern.MatchString(a.Fingerprint):
			return nil, fmt.Errorf("alerts[%d] has a fingerprint that is not one: %q", i, render.Shorten(a.Fingerprint, 70))
		case a.Status != StatusFiring && a.Status != StatusResolved:
			return nil, fmt.Errorf("alerts[%d] has status %q, want firing or resolved", i, render.Shorten(a.Status, 20))
		}
	}
	return &m, nil
}

// Changes splits the notification into what fires (as the alert engine's
// observations) and the fingerprints of what is resolved.
func (m *Message) Changes() (firing []monitor.Observation, resolved []string) {
	for i := range m.Alerts {
		a := &m.Alerts[i]
		if a.Status == StatusResolved {
			resolved = append(resolved, fingerprintPrefix+a.Fingerprint)
			continue
		}
		firing = append(firing, a.Observation())
	}
	return firing, resolved
}

// Observation is the alert as the alert engine takes it. The summary is the summary
// annotation, else the description, else the alert's name and instance; it is shown
// as text, so HTML in it reaches nobody as HTML.
func (a *Alert) Observation() monitor.Observation {
	subject := a.Labels["alertname"]
	if subject == "" {
		subject = "Alert " + a.Fingerprint
	}
	if instance := a.Labels["instance"]; instance != "" {
		subject += " on " + instance
	}
	summary, description := a.Annotations["summary"], a.Annotations["description"]
	if summary == "" {
		summary, description = description, ""
	}
	if summary == "" {
		summary = subject
	}
	o := monitor.Observation{
		Fingerprint: fingerprintPrefix + a.Fingerprint,
		Subject:     subject,
		Summary:     render.Shorten(summary, maxSummary),
		Severity:    Severity(a.Labels["severity"]),
		Link:        webLink(a.GeneratorURL),
	}
	if len(a.Labels) > 0 {
		o.Labels = maps.Clone(a.Labels)
	}
	if description != "" && description != summary {
		// Shown as "Now: …." by the alert's message.
		o.Value = strings.TrimRight(render.Shorten(description, maxDescription), ".")
	}
	if runbook := webLink(a.Annotations["runbook_url"]); runbook != "" {
		o.Hint = "runbook " + runbook
	}
	return o
}

// Severity maps the severity label to Steward's severities: critical, warning and
// info as they are, anything else (or none) warning.
func Severity(label string) state.Severity {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "critical":
		return state.SeverityCritical
	case "info":
		return state.SeverityInfo
	default:
		return state.SeverityWarning
	}
}

// webLink keeps raw if it is an http:// or https:// URL, the only links an alert
// shows.
func webLink(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return raw
}
