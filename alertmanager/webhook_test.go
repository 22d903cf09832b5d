package alertmanager

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/steward-bot/steward/state"
)

// payload is a webhook body as Alertmanager 0.25 sends it, with alerts in place of
// the alerts list.
func payload(status string, alerts ...string) string {
	return `{"receiver":"steward","status":"` + status + `","alerts":[` + strings.Join(alerts, ",") + `],
		"groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"DiskFull"},"commonAnnotations":{},
		"externalURL":"http://am.example.org:9093","version":"4","groupKey":"{}:{alertname=\"DiskFull\"}","truncatedAlerts":0}`
}

// alertJSON is one alert of a payload.
func alertJSON(status, fingerprint string, labels, annotations map[string]string) string {
	data, err := json.Marshal(map[string]any{
		"status": status, "labels": labels, "annotations": annotations,
		"startsAt": "2025-06-01T12:00:00.000Z", "endsAt": "0001-01-01T00:00:00Z",
		"generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=up+%3D%3D+0", "fingerprint": fingerprint,
	})
	if err != nil {
		panic(err)
	}
	return string(data)
}

var diskLabels = map[string]string{"alertname": "DiskFull", "instance": "web1:9100", "mountpoint": "/var", "severity": "critical"}

func TestParse(t *testing.T) {
	good := alertJSON("firing", "3f2a9c1b0d4e5f67", diskLabels, map[string]string{"summary": "Disk /var on web1 is 95% full"})
	tests := []struct {
		name, body string
		// err is part of the reason given, "" for a payload taken.
		err string
	}{
		{"firing", payload("firing", good), ""},
		{"resolved", payload("resolved", alertJSON("resolved", "3f2a9c1b0d4e5f67", diskLabels, nil)), ""},
		{"firing and resolved", payload("firing", good, alertJSON("resolved", "0000000000000001", diskLabels, nil)), ""},
		{"not JSON", `{"version": "4", "alerts": [`, "not a webhook payload"},
		{"JSON of another shape", `{"version": 4, "alerts": []}`, "not a webhook payload"},
		{"an array", `[]`, "not a webhook payload"},
		{"empty", ``, "not a webhook payload"},
		{"version 3", strings.Replace(payload("firing", good), `"version":"4"`, `"version":"3"`, 1), `version "3", want "4"`},
		{"no version", strings.Replace(payload("firing", good), `"version":"4",`, ``, 1), `version "", want "4"`},
		{"no alerts", `{"version":"4","status":"firing"}`, "without alerts"},
		{"alert without fingerprint", payload("firing", good, alertJSON("firing", "", diskLabels, nil)), "alerts[1] has no fingerprint"},
		{"fingerprint with a glob", payload("firing", alertJSON("firing", "am*", diskLabels, nil)), "alerts[0] has a fingerprint that is not one"},
		{"alert without status", payload("firing", alertJSON("", "3f2a9c1b0d4e5f67", diskLabels, nil)), `alerts[0] has status "", want firing or resolved`},
		{"alert with another status", payload("firing", alertJSON("pending", "3f2a9c1b0d4e5f67", diskLabels, nil)), `alerts[0] has status "pending"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.body))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Parse refused it: %v", err)
			case tt.err != "" && err == nil:
				t.Fatalf("Parse took it: %+v", m)
			case tt.err != "" && !strings.Contains(err.Error(), tt.err):
				t.Fatalf("Parse refused it with %q, want it to say %q", err, tt.err)
			}
		})
	}
}

func TestChanges(t *testing.T) {
	m, err := Parse([]byte(payload("firing",
		alertJSON("firing", "3f2a9c1b0d4e5f67", diskLabels, map[string]string{
			"summary": "Disk /var on web1 is 95% full", "description": "Only 5% of /var is left on web1.",
			"runbook_url": "https://wiki.example.org/disk-full",
		}),
		alertJSON("resolved", "0000000000000001", map[string]string{"alertname": "HostDown", "instance": "db1:9100"}, nil),
	)))
	if err != nil {
		t.Fatal(err)
	}
	firing, resolved := m.Changes()
	if len(firing) != 1 || len(resolved) != 1 || resolved[0] != "am:0000000000000001" {
		t.Fatalf("Changes() = %d firing, resolved %q; want one of each, the resolved one as am:0000000000000001", len(firing), resolved)
	}
	o := firing[0]
	want := map[string]string{
		"fingerprint": "am:3f2a9c1b0d4e5f67",
		"subject":     "DiskFull on web1:9100",
		"summary":     "Disk /var on web1 is 95% full",
		"value":       "Only 5% of /var is left on web1",
		"hint":        "runbook https://wiki.example.org/disk-full",
		"link":        "http://prometheus.example.org:9090/graph?g0.expr=up+%3D%3D+0",
	}
	got := map[string]string{"fingerprint": o.Fingerprint, "subject": o.Subject, "summary": o.Summary, "value": o.Value, "hint": o.Hint, "link": o.Link}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if o.Severity != state.SeverityCritical {
		t.Errorf("severity = %s, want critical", o.Severity)
	}
	if len(o.Labels) != len(diskLabels) || o.Labels["mountpoint"] != "/var" {
		t.Errorf("labels = %v, want %v", o.Labels, diskLabels)
	}
	if o.For != 0 || o.Public {
		t.Errorf("for = %s, public = %v: Alertmanager's alerts fire at once (Prometheus waited its for) and are the admins'", o.For, o.Public)
	}
}

// The summary is the summary annotation, else the description, else the alert's name
// (and instance); it stays text, and a link is only ever http(s).
func TestObservationFallbacks(t *testing.T) {
	tests := []struct {
		name                       string
		labels, annotations        map[string]string
		generatorURL               string
		summary, value, link, subj string
	}{
		{
			name:   "summary and description",
			labels: map[string]string{"alertname": "Load"}, annotations: map[string]string{"summary": "High load", "description": "Load 12 for 10 minutes."},
			summary: "High load", value: "Load 12 for 10 minutes", subj: "Load",
		},
		{
			name:   "description only",
			labels: map[string]string{"alertname": "Load", "instance": "h:9100"}, annotations: map[string]string{"description": "Load is 12 on h"},
			summary: "Load is 12 on h", subj: "Load on h:9100",
		},
		{
			name:    "no annotations",
			labels:  map[string]string{"alertname": "InstanceDown", "instance": "h:9100"},
			summary: "InstanceDown on h:9100", subj: "InstanceDown on h:9100",
		},
		{
			name:    "no alertname",
			labels:  map[string]string{"job": "node"},
			summary: "Alert 00000000000000aa", subj: "Alert 00000000000000aa",
		},
		{
			name:   "HTML stays text",
			labels: map[string]string{"alertname": "X"}, annotations: map[string]string{"summary": `<a href="https://evil.example">click</a><script>alert(1)</script>`},
			summary: `<a href="https://evil.example">click</a><script>alert(1)</script>`, subj: "X",
		},
		{
			name:   "a long summary on many lines",
			labels: map[string]string{"alertname": "X"}, annotations: map[string]string{"summary": "line one\nline two " + strings.Repeat("x", 300)},
			summary: "line one line two " + strings.Repeat("x", maxSummary-19) + "…", subj: "X",
		},
		{name: "an http link", labels: map[string]string{"alertname": "X"}, generatorURL: "https://prom.example.org/graph", link: "https://prom.example.org/graph", summary: "X", subj: "X"},
		{name: "a javascript link", labels: map[string]string{"alertname": "X"}, generatorURL: "javascript:alert(1)", summary: "X", subj: "X"},
		{name: "a link without a host", labels: map[string]string{"alertname": "X"}, generatorURL: "http:///graph", summary: "X", subj: "X"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Alert{Status: StatusFiring, Fingerprint: "00000000000000aa", Labels: tt.labels, Annotations: tt.annotations, GeneratorURL: tt.generatorURL}
			o := a.Observation()
			if o.Summary != tt.summary || o.Value != tt.value || o.Link != tt.link || o.Subject != tt.subj {
				t.Errorf("summary %q value %q link %q subject %q;\nwant    %q value %q link %q subject %q",
					o.Summary, o.Value, o.Link, o.Subject, tt.summary, tt.value, tt.link, tt.subj)
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	tests := map[string]state.Severity{
		"critical": state.SeverityCritical, "Critical": state.SeverityCritical, " critical ": state.SeverityCritical,
		"warning": state.SeverityWarning, "info": state.SeverityInfo, "INFO": state.SeverityInfo,
		"": state.SeverityWarning, "page": state.SeverityWarning, "error": state.SeverityWarning, "none": state.SeverityWarning,
	}
	for label, want := range tests {
		if got := Severity(label); got != want {
			t.Errorf("Severity(%q) = %s, want %s", label, got, want)
		}
	}
}
