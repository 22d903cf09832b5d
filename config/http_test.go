package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listenerDoc is base with the listener on and a token file at tokenPath.
func listenerDoc(tokenPath, rest string) string {
	return base + fmt.Sprintf("http:\n  listen: 127.0.0.1:9464\n  token_file: %q\n", tokenPath) + rest
}

func writeToken(t *testing.T, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The listener's settings load with their defaults, the token is read from its file,
// and no printing of the config shows it.
func TestListenerConfig(t *testing.T) {
	const token = "5f0c2a9e7b1d4c3a8e6f9b2d1c0a7e4f"
	doc := listenerDoc(writeToken(t, token), `alertmanager:
  url: http://127.0.0.1:9093
jobs:
  - name: pgdump
    every: 1d
  - name: borg.home
    every: 6h
    grace: 30m
    hint: see borgmatic's log
heartbeat:
  url: https://hc-ping.com/abc
fallback:
  url: https://ntfy.sh/topic
`)
	cfg, err := Parse([]byte(doc), env(envPassword))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.HTTP.Token() != token {
		t.Errorf("token %q, want the file's content without its newline", cfg.HTTP.Token())
	}
	if got := cfg.Jobs[0].Grace.D(); got != 6*time.Hour {
		t.Errorf("pgdump's grace %s, want a quarter of its every (6h)", got)
	}
	if got := cfg.Jobs[1].Grace.D(); got != 30*time.Minute {
		t.Errorf("borg.home's grace %s, want 30m as set", got)
	}
	if cfg.Heartbeat.Every.D() != time.Minute || cfg.Fallback.After.D() != 5*time.Minute {
		t.Errorf("heartbeat every %s, fallback after %s, want the defaults 1m and 5m", cfg.Heartbeat.Every, cfg.Fallback.After)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, *cfg); strings.Contains(s, token) {
			t.Errorf("%s of the config shows the token", verb)
		}
	}
}

func TestListenerProblems(t *testing.T) {
	good := writeToken(t, "5f0c2a9e7b1d4c3a8e6f9b2d1c0a7e4f")
	cases := []struct {
		name string
		doc  string
		key  string
		msg  string
	}{
		{"listen without a token file", base + "http:\n  listen: 127.0.0.1:9464\n", "http.token_file", "required"},
		{"listener as the README shows it", listenerDoc(good, ""), "", ""},
		{"listen not host:port", strings.Replace(listenerDoc(good, ""), "127.0.0.1:9464", "localhost", 1), "http.listen", "not host:port"},
		{"listen on every interface by accident", strings.Replace(listenerDoc(good, ""), "127.0.0.1:9464", ":9464", 1), "http.listen", "every interface"},
		{"token file missing", listenerDoc(filepath.Join(t.TempDir(), "nope"), ""), "http.token_file", "can't read it"},
		{"token too short", listenerDoc(writeToken(t, "short"), ""), "http.token_file", "too short"},
		{"token not for a URL", listenerDoc(writeToken(t, "abcdefgh/ijklmnopqrstuv"), ""), "http.token_file", "URL path"},
		{"token file empty", listenerDoc(writeToken(t, ""), ""), "http.token_file", "is empty"},
		{"alertmanager url not a URL", listenerDoc(good, "alertmanager:\n  url: 127.0.0.1:9093\n"), "alertmanager.url", "not an http://"},
		{"job without a name", listenerDoc(good, "jobs:\n  - every: 1d\n"), "jobs[0].name", "required"},
		{"job name with a slash", listenerDoc(good, "jobs:\n  - name: a/b\n    every: 1d\n"), "jobs[0].name", "not a job name"},
		{"job named twice", listenerDoc(good, "jobs:\n  - name: a\n    every: 1d\n  - name: a\n    every: 1h\n"), "jobs[1].name", "also jobs[0]"},
		{"job without every", listenerDoc(good, "jobs:\n  - name: a\n"), "jobs[0].every", "required"},
		{"jobs without the listener", base + "jobs:\n  - name: a\n    every: 1d\n", "jobs", "http.listen"},
		{"heartbeat url not a URL", listenerDoc(good, "heartbeat:\n  url: ftp://x/\n"), "heartbeat.url", "not an http://"},
		{"fallback url not a URL", listenerDoc(good, "fallback:\n  url: x\n"), "fallback.url", "not an http://"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), env(envPassword))
			if c.key == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse: %v, want problems at %s", err, c.key)
			}
			for _, p := range *ps {
				if p.Key == c.key && strings.Contains(p.Msg, c.msg) {
					if strings.Contains(p.Msg, "5f0c2a9e") {
						t.Errorf("the problem shows the token: %s", p.Msg)
					}
					return
				}
			}
			t.Errorf("problems %v, want one at %s saying %q", ps, c.key, c.msg)
		})
	}
}

// These URLs carry secrets (a password for Alertmanager's proxy, a Healthchecks
// ping's UUID, an ntfy topic's token): one that is not a URL is refused without being
// repeated, since a refused reload lists its problems in the admin room and the
// decision log.
func TestListenerURLProblemsShowNoSecret(t *testing.T) {
	good := writeToken(t, "5f0c2a9e7b1d4c3a8e6f9b2d1c0a7e4f")
	for _, tt := range []struct{ key, doc, secret string }{
		{"alertmanager.url", "alertmanager:\n  url: admin:hunter2hunter2@am.example.org:9093\n", "hunter2"},
		{"alertmanager.url", "alertmanager:\n  url: ftp://admin:hunter2hunter2@am.example.org/\n", "hunter2"},
		{"heartbeat.url", "heartbeat:\n  url: hc-ping.com/0d6e4b5a-7c1f-4a3e-9b2d-8f1e6c3a5b7d\n", "0d6e4b5a"},
		{"fallback.url", "fallback:\n  url: ntfy.sh/steward?auth=tk_s3cr3tvalue\n", "s3cr3t"},
	} {
		_, err := Parse([]byte(listenerDoc(good, tt.doc)), env(envPassword))
		var ps *Problems
		if !errors.As(err, &ps) {
			t.Fatalf("%s: Parse: %v, want a problem", tt.key, err)
		}
		found := false
		for _, p := range *ps {
			if p.Key == tt.key {
				found = true
				if !strings.Contains(p.Msg, "not an http:// or https:// URL") {
					t.Errorf("%s: problem %q does not say what is wrong", tt.key, p.Msg)
				}
			}
		}
		if !found {
			t.Errorf("%s: problems %v, want one there", tt.key, ps)
		}
		if strings.Contains(err.Error(), tt.secret) {
			t.Errorf("%s: the problems show the secret: %v", tt.key, err)
		}
	}
}
