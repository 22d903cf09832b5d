package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// HTTP is Steward's one listener: Alertmanager's webhook and the job pings come in
// through it, the metrics and the health checks go out. No listen address, no
// listener.
type HTTP struct {
	// Listen is host:port, like 127.0.0.1:9464. Loopback by default: put a reverse
	// proxy with TLS in front of it to take requests from other machines.
	Listen string `yaml:"listen"`
	// TokenFile holds the secret that /alertmanager and /metrics require as a bearer
	// token and the ping routes carry in their path; required with Listen.
	TokenFile string `yaml:"token_file"`

	// ReadySyncAge is how long ago a sync may have last succeeded for Steward to be
	// ready (/readyz, the heartbeat): a quiet sync returns every 30 s, so the default
	// minute is one missed. It is also how long the homeserver must be unreachable
	// before Steward raises its own alarm about it.
	ReadySyncAge Duration `yaml:"ready_sync_age" default:"1m" min:"1s"`

	// token is TokenFile's content, read at load time; kept unexported so that no
	// printing of the config shows it. Token hands it out.
	token string
}

// Token returns the secret read from http.token_file.
func (h *HTTP) Token() string { return h.token }

// Alertmanager is the Alertmanager that sends Steward its alerts.
type Alertmanager struct {
	// URL, when set, is where !silence on an alert that came from Alertmanager also
	// creates the silence (its API v2), so Alertmanager stops sending it.
	URL string `yaml:"url"`
}

// Job is a job outside Steward (a cron line, borgmatic, a backup on another machine)
// that reports each run with a ping, Healthchecks-style.
type Job struct {
	// Name is the last part of its ping URL: /ping/TOKEN/NAME.
	Name string `yaml:"name"`
	// Every is how often it runs; a success not reported within Every and Grace
	// alerts.
	Every Duration `yaml:"every" min:"1s"`
	// Grace is how late a success may be, and how long a started run may take; it
	// defaults to a quarter of Every.
	Grace Duration `yaml:"grace" min:"1s"`
	// Hint is shown in the job's alerts: what to look at first.
	Hint string `yaml:"hint"`
}

// Heartbeat is Steward's sign of life to a watcher on another machine (a
// Healthchecks or Uptime Kuma push URL): requested every Every while Steward is
// ready, not at all when it is not, so the watcher alerts through its own channels.
type Heartbeat struct {
	URL   string   `yaml:"url"`
	Every Duration `yaml:"every" default:"1m" min:"1s"`
}

// Fallback is where Steward says, in one short plain-text POST, that it can't reach
// the homeserver: an ntfy or Gotify topic, any URL that takes a POST body. That
// channel is not end-to-end encrypted, so the notice names no alert and nobody.
type Fallback struct {
	URL   string   `yaml:"url"`
	After Duration `yaml:"after" default:"5m" min:"1s"`
}

// jobName is what a job's name may be: it is a part of a URL path.
var jobName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// checkHTTP validates the http, alertmanager, jobs, heartbeat and fallback sections.
func (v *validator) checkListener(c *Config) {
	h := &c.HTTP
	if h.Listen != "" {
		host, port, err := net.SplitHostPort(h.Listen)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			v.invalid("http.listen", fmt.Sprintf("not host:port, like 127.0.0.1:9464: %q", h.Listen))
		} else if host == "" {
			v.invalid("http.listen", fmt.Sprintf("name the address to listen on, like 127.0.0.1:%s; an empty host would listen on every interface", port))
		}
		v.readable("http.token_file", &h.TokenFile, "the file holding the secret token that senders present (make one with: openssl rand -hex 32 > token)")
	} else if h.TokenFile != "" {
		h.TokenFile = v.resolve(h.TokenFile)
	}
	if c.Alertmanager.URL != "" {
		v.checkURL("alertmanager.url", c.Alertmanager.URL)
	}
	seen := map[string]int{}
	for i := range c.Jobs {
		j := &c.Jobs[i]
		key := fmt.Sprintf("jobs[%d]", i)
		switch prev, dup := seen[j.Name]; {
		case j.Name == "":
			v.invalid(key+".name", "required: the job's name, the last part of its ping URL, like pgdump")
		case !jobName.MatchString(j.Name):
			v.invalid(key+".name", fmt.Sprintf("not a job name: %q; use lower-case letters, digits, ., - and _ (at most 64)", j.Name))
		case dup:
			v.invalid(key+".name", fmt.Sprintf("%q is also jobs[%d]", j.Name, prev))
		default:
			seen[j.Name] = i
		}
		if !v.set[key+".every"] {
			v.invalid(key+".every", "required: how often the job runs, like 1d or 6h")
		}
		if !v.set[key+".grace"] && v.inBounds(key+".every") {
			j.Grace = j.Every / 4
		}
	}
	if len(c.Jobs) > 0 && h.Listen == "" {
		v.invalid("jobs", "jobs report through Steward's listener: set http.listen (and http.token_file) too")
	}
	if c.Heartbeat.URL != "" {
		v.checkURL("heartbeat.url", c.Heartbeat.URL)
	}
	if c.Fallback.URL != "" {
		v.checkURL("fallback.url", c.Fallback.URL)
	}
}

// checkURL requires an http:// or https:// URL with a host at key. The problem says
// what is missing without repeating the value: these URLs carry secrets (a password,
// a ping's UUID, a topic's token), and a refused reload lists its problems in the
// admin room and the decision log.
func (v *validator) checkURL(key, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
		v.invalid(key, "not an http:// or https:// URL with a host: it does not start with http:// or https:// (the value is not repeated here, as it may hold a secret)")
	case u.Host == "":
		v.invalid(key, "not an http:// or https:// URL with a host: it names no host after the // (the value is not repeated here, as it may hold a secret)")
	}
}

// readToken reads http.token_file, which checkListener required with http.listen.
// Like the password, its problems name the file, never what is in it.
func (v *validator) readToken(h *HTTP) string {
	const key = "http.token_file"
	if h.Listen == "" || h.TokenFile == "" || v.reported[key] {
		return ""
	}
	data, err := os.ReadFile(h.TokenFile)
	if err != nil {
		v.passwordProblem(key, "can't read the token file: "+err.Error())
		return ""
	}
	token := strings.TrimRightFunc(string(data), unicode.IsSpace)
	switch {
	case token == "":
		v.passwordProblem(key, fmt.Sprintf("the token file %s is empty", h.TokenFile))
	case len(token) < 16:
		v.passwordProblem(key, fmt.Sprintf("the token in %s is too short to be a secret (%d characters; use at least 16, like openssl rand -hex 32)", h.TokenFile, len(token)))
	case strings.ContainsAny(token, "/?#% \t\r\n"):
		v.passwordProblem(key, fmt.Sprintf("the token in %s can't be part of a URL path: use letters, digits, - and _ (like openssl rand -hex 32)", h.TokenFile))
	default:
		return token
	}
	return ""
}
