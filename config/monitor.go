package config

import (
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Monitor says what Steward watches on the host and beyond, when that is
// worth an alert, and how alerts reach people. !status shows the same
// values the alerts are about.
type Monitor struct {
	// Disks defaults to the root filesystem; an explicit empty list
	// ("disks: []") turns disk monitoring off.
	Disks []Disk `yaml:"disks" default:"[{path: /}]"`
	// Interval is how often the host and disk checks run.
	Interval Duration `yaml:"interval" default:"30s" min:"1s"`
	// For is how long a problem must last before it alerts, so a short
	// spike (a backup, a build) does not wake anyone. Checks that have a
	// For of their own fall back to this one.
	For Duration `yaml:"for" default:"2m" min:"0s"`
	// Hysteresis is how far, in percentage points, a value must fall back
	// below a threshold before the alert clears, so a value hovering at
	// the threshold does not alert and clear over and over. For load,
	// which is not a percentage, it is the same share of the threshold
	// (Hysteresis/100 of it).
	Hysteresis float64 `yaml:"hysteresis" default:"3" min:"0" max:"20" note:"percentage points"`
	// GroupWait is how long Steward waits to gather alerts that fire
	// together (a full disk slowing every service) into one message.
	GroupWait Duration `yaml:"group_wait" default:"10s" min:"0s" max:"5m"`
	// EscalateAfter is how long a critical alert may go unacknowledged
	// before it mentions the on-duty admin; after twice this it mentions
	// every admin.
	EscalateAfter Duration `yaml:"escalate_after" default:"15m" min:"1m" max:"24h"`
	// AnnounceAfter is how long a service members use (HTTPCheck.Public,
	// or a container labelled steward.public=true) may be down before the
	// group room is told, so members learn that the admins know without
	// hearing of every short blip.
	AnnounceAfter Duration `yaml:"announce_after" default:"10m" min:"0s" max:"24h"`
	// CPU is the share of time all cores are busy, in percent.
	CPU Threshold `yaml:"cpu" default:"{warning: 90, critical: 98, for: 5m}"`
	// Memory is the share of memory in use, in percent.
	Memory Threshold `yaml:"memory" default:"{warning: 90, critical: 95}"`
	// Swap is the share of swap in use, in percent; hosts without swap
	// skip it.
	Swap Threshold `yaml:"swap" default:"{warning: 50, critical: 80}"`
	// Load is the 5-minute load average per CPU core. It is not a
	// percentage: any level above 0 is allowed.
	Load Threshold `yaml:"load" default:"{warning: 2, critical: 4}"`
	// HTTP lists the web endpoints to watch; none by default.
	HTTP []HTTPCheck `yaml:"http"`
	// Containers watches the containers of the Docker Engine at
	// Config.Docker.
	Containers Containers `yaml:"containers"`
	// DailyDigest, when set, posts a digest of the last 24 hours of alerts
	// to the admin room. Nil (the key absent or null) means no digest.
	DailyDigest *DailyDigest `yaml:"daily_digest"`
}

// Threshold is a check's alert levels. A value at or above Warning warns,
// one at or above Critical is critical; Load and Parse make sure Warning is
// below Critical.
type Threshold struct {
	// Enabled, when nil, means true; use On.
	Enabled *bool `yaml:"enabled" default:"true"`
	// Warning and Critical are the levels, in the unit of the check.
	Warning  float64 `yaml:"warning"`
	Critical float64 `yaml:"critical"`
	// For is how long the value must stay at a level before it alerts;
	// it defaults to Monitor.For (for CPU, to 5m: a busy CPU is normal for a
	// while).
	For Duration `yaml:"for" inherit:"monitor.for" min:"0s"`
	// Hint is shown in the alert: what to look at first, or a runbook link.
	Hint string `yaml:"hint"`
}

// On reports whether the check runs. It is true unless enabled is
// explicitly false, so a Threshold built in code without the field still
// alerts.
func (t Threshold) On() bool { return t.Enabled == nil || *t.Enabled }

// Disk names one filesystem to watch by any absolute path on it, and when
// its space and inodes are worth an alert. Levels are percentages used.
type Disk struct {
	Path           string  `yaml:"path"`
	Warning        float64 `yaml:"warning" default:"85"`
	Critical       float64 `yaml:"critical" default:"95"`
	InodesWarning  float64 `yaml:"inodes_warning" default:"85"`
	InodesCritical float64 `yaml:"inodes_critical" default:"95"`
	// Forecast warns when, at the rate the disk has been filling, it will
	// be full within this span, so there is time to act before the space
	// levels are reached. 0 turns the forecast off.
	Forecast Duration `yaml:"forecast" default:"72h" min:"0s" note:"0 turns the forecast off"`
	// For defaults to Monitor.For.
	For Duration `yaml:"for" inherit:"monitor.for" min:"0s"`
	// Hint is shown in the alert: what usually fills this disk, or a
	// runbook link.
	Hint string `yaml:"hint"`
}

// HTTPCheck watches one HTTP(S) endpoint: whether it answers, with an
// accepted status, quickly enough, and with a certificate that is not about
// to expire.
type HTTPCheck struct {
	// Name identifies the check in alerts and their fingerprints, so
	// renaming it starts a new alert; lower-case letters, digits, - and _.
	Name string `yaml:"name"`
	// URL is the http:// or https:// address requested.
	URL string `yaml:"url"`
	// Interval is how often the URL is requested.
	Interval Duration `yaml:"interval" default:"30s" min:"1s"`
	// Timeout is how long a request may take before it counts as down; at
	// most Interval, so requests never pile up.
	Timeout Duration `yaml:"timeout" default:"10s" above:"0"`
	// Status lists the accepted status codes; nil means any 2xx or 3xx.
	// Use OK.
	Status []int `yaml:"status"`
	// LatencyWarning warns when an answer takes longer than this.
	LatencyWarning Duration `yaml:"latency_warning" default:"2s" above:"0"`
	// CertWarning and CertCritical are how long before an https
	// certificate expires the check warns and turns critical; CertWarning
	// is the longer one.
	CertWarning  Duration `yaml:"cert_warning" default:"14d"`
	CertCritical Duration `yaml:"cert_critical" default:"3d" min:"0s"`
	// For defaults to Monitor.For.
	For Duration `yaml:"for" inherit:"monitor.for" min:"0s"`
	// Hint is shown in the alert: where the service runs, or a runbook link.
	Hint string `yaml:"hint"`
	// Public marks a service members use: when it is down longer than
	// Monitor.AnnounceAfter, the group room is told.
	Public bool `yaml:"public"`
}

// OK reports whether code is an accepted answer: one listed in Status, or
// any 2xx or 3xx when Status is nil.
func (h HTTPCheck) OK(code int) bool {
	if h.Status == nil {
		return code >= 200 && code <= 399
	}
	return slices.Contains(h.Status, code)
}

// Containers watches the Docker Engine's containers: one that stopped or
// exited unexpectedly (an exit code other than 0, or killed), is unhealthy,
// keeps restarting or was killed for running out of memory alerts, and so
// does the engine being unreachable. A container stopped on purpose (docker
// stop) does not; one labelled steward.monitor=false is not watched at all,
// and one labelled steward.public=true is announced to members like a
// public HTTP check.
type Containers struct {
	// Enabled, when nil, means true; use On. Turn it off on hosts without
	// Docker, where the unreachable engine would otherwise alert.
	Enabled *bool `yaml:"enabled" default:"true"`
	// RestartLoop is how many restarts within RestartWindow make a
	// restart loop; at least 2, since a single restart is the restart
	// policy doing its job.
	RestartLoop int `yaml:"restart_loop" default:"3" min:"2" note:"one restart is not a loop"`
	// RestartWindow is the span RestartLoop restarts are counted over,
	// from 1m to 24h.
	RestartWindow Duration `yaml:"restart_window" default:"10m" min:"1m" max:"24h"`
	// For is how long a container's problem must last before it alerts.
	// Unlike other checks' it does not fall back to Monitor.For but
	// defaults to 0s: a container that died is not a spike that passes by
	// itself.
	For Duration `yaml:"for" default:"0s" min:"0s"`
	// Hint is shown in the alert: where the compose files live, or a
	// runbook link.
	Hint string `yaml:"hint"`
}

// On reports whether containers are watched. It is true unless enabled is
// explicitly false, so a Containers built in code without the field still
// alerts.
func (c Containers) On() bool { return c.Enabled == nil || *c.Enabled }

// DailyDigest says when the daily digest of alerts is posted.
type DailyDigest struct {
	// Hour is the hour of the day, 0 to 23, in TimeZone.
	Hour int `yaml:"hour" default:"9" min:"0" max:"23" note:"the hour of the day in time_zone"`
	// TimeZone is an IANA zone name like Europe/Berlin, so the digest
	// arrives at the same local time across daylight saving changes.
	TimeZone string `yaml:"time_zone" default:"UTC" nonempty:"true"`
	// Location is TimeZone loaded, filled in by Load and Parse.
	Location *time.Location `yaml:"-" zone:"time_zone"`
}

// checkMonitor validates the monitor section beyond its declared bounds.
func (v *validator) checkMonitor(m *Monitor) {
	v.checkThreshold("monitor.cpu", m.CPU, percentLevel)
	v.checkThreshold("monitor.memory", m.Memory, percentLevel)
	v.checkThreshold("monitor.swap", m.Swap, percentLevel)
	v.checkThreshold("monitor.load", m.Load, loadLevel)

	firstPath := map[string]int{}
	for i, d := range m.Disks {
		key := fmt.Sprintf("monitor.disks[%d]", i)
		switch clean := filepath.Clean(d.Path); {
		case d.Path == "":
			v.invalid(key+".path", "required: an absolute path on the filesystem to watch, like /")
		case !filepath.IsAbs(d.Path):
			v.invalid(key+".path", fmt.Sprintf("must be an absolute path, got %q", d.Path))
		default:
			if j, dup := firstPath[clean]; dup {
				v.invalid(key+".path", fmt.Sprintf("%s is listed twice (also monitor.disks[%d])", d.Path, j))
			} else {
				firstPath[clean] = i
			}
		}
		v.checkLevels(key+".warning", d.Warning, key+".critical", d.Critical, percentLevel)
		v.checkLevels(key+".inodes_warning", d.InodesWarning, key+".inodes_critical", d.InodesCritical, percentLevel)
	}

	firstName := map[string]int{}
	for i := range m.HTTP {
		key := fmt.Sprintf("monitor.http[%d]", i)
		h := &m.HTTP[i]
		v.checkHTTP(key, h)
		if j, dup := firstName[h.Name]; dup && h.Name != "" {
			v.invalid(key+".name", fmt.Sprintf("%s is listed twice (also monitor.http[%d]); alerts tell checks apart by name", h.Name, j))
		} else {
			firstName[h.Name] = i
		}
	}
}

// levelKind says which values the levels of a check accept: above 0 and at
// most max, said as unit (about).
type levelKind struct {
	max         float64
	unit, about string
}

var (
	percentLevel = levelKind{max: 100, unit: "a percentage"} // cpu, memory, swap and disks
	loadLevel    = levelKind{max: math.Inf(1), unit: "a number", about: "the 5-minute load average per CPU core"}
)

// ok reports whether x is a level of kind k.
func (k levelKind) ok(x float64) bool {
	return x > 0 && x <= k.max && !math.IsInf(x, 0)
}

// want says what ok accepts, for messages.
func (k levelKind) want() string {
	s := k.unit + " above 0"
	if !math.IsInf(k.max, 0) {
		s += fmt.Sprintf(" and at most %v", k.max)
	}
	if k.about != "" {
		s += " (" + k.about + ")"
	}
	return s
}

// checkThreshold validates the levels of one of the host checks at key.
func (v *validator) checkThreshold(key string, t Threshold, kind levelKind) {
	v.checkLevels(key+".warning", t.Warning, key+".critical", t.Critical, kind)
}

// checkLevels requires both levels to be of kind and the warning level to be
// below the critical one. A clash is reported at the warning level if it is
// written in the file, else at the critical one, so the line shown is one
// the operator wrote.
func (v *validator) checkLevels(wKey string, w float64, cKey string, c float64, kind levelKind) {
	wOK, cOK := kind.ok(w), kind.ok(c)
	if !wOK {
		v.invalid(wKey, fmt.Sprintf("must be %s, got %v", kind.want(), w))
	}
	if !cOK {
		v.invalid(cKey, fmt.Sprintf("must be %s, got %v", kind.want(), c))
	}
	if !wOK || !cOK || w < c || v.bad[wKey] || v.bad[cKey] {
		return
	}
	if v.set[wKey] {
		v.invalid(wKey, fmt.Sprintf("must be below %s (%v%s), got %v", cKey, c, v.defaultNote(cKey), w))
	} else {
		v.invalid(cKey, fmt.Sprintf("must be above %s (%v%s), got %v", wKey, w, v.defaultNote(wKey), c))
	}
}

// defaultNote marks a value in a message as the default when key is not
// written in the file, so nobody searches the file for it.
func (v *validator) defaultNote(key string) string {
	if v.set[key] {
		return ""
	}
	return ", the default"
}

// The status codes HTTP defines.
const minStatus, maxStatus = 100, 599

// checkHTTP validates one entry of monitor.http at key, apart from whether
// its name is unique, and fits its default timeout within its interval.
func (v *validator) checkHTTP(key string, h *HTTPCheck) {
	invalid := func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') }
	switch {
	case h.Name == "":
		v.invalid(key+".name", "required: a short name for the check, like website; alerts are told apart by it")
	case strings.ContainsFunc(h.Name, invalid):
		v.invalid(key+".name", fmt.Sprintf("not a check name: %q; use lower-case letters, digits, - and _", h.Name))
	}
	if h.URL == "" {
		v.invalid(key+".url", "required: the address to check, like https://example.org/")
	} else if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.invalid(key+".url", fmt.Sprintf("not an http:// or https:// URL with a host: %q", h.URL))
	}
	if !v.set[key+".timeout"] && v.inBounds(key+".interval") {
		// A check written to run every 5s should not be refused for the
		// default timeout being longer than that.
		h.Timeout = min(h.Timeout, h.Interval)
	}
	if v.inBounds(key+".timeout") && v.inBounds(key+".interval") && h.Timeout > h.Interval {
		v.invalid(key+".timeout", fmt.Sprintf("must not be longer than %s.interval (%s%s), so checks never overlap; got %s",
			key, h.Interval, v.defaultNote(key+".interval"), h.Timeout))
	}
	if h.Status != nil && len(h.Status) == 0 {
		v.invalid(key+".status", "must list at least one status code; leave it out to accept any 2xx or 3xx")
	}
	firstSeen := map[int]int{}
	for i, code := range h.Status {
		ckey := fmt.Sprintf("%s.status[%d]", key, i)
		if code < minStatus || code > maxStatus {
			v.invalid(ckey, fmt.Sprintf("not an HTTP status code (%d to %d): %d", minStatus, maxStatus, code))
			continue
		}
		if j, dup := firstSeen[code]; dup {
			v.invalid(ckey, fmt.Sprintf("%d is listed twice (also %s.status[%d])", code, key, j))
			continue
		}
		firstSeen[code] = i
	}
	wKey, cKey := key+".cert_warning", key+".cert_critical"
	if v.inBounds(wKey) && v.inBounds(cKey) && h.CertWarning <= h.CertCritical {
		if v.set[wKey] {
			v.invalid(wKey, fmt.Sprintf("must be longer than %s (%s%s), got %s", cKey, h.CertCritical, v.defaultNote(cKey), h.CertWarning))
		} else {
			v.invalid(cKey, fmt.Sprintf("must be shorter than %s (%s%s), got %s", wKey, h.CertWarning, v.defaultNote(wKey), h.CertCritical))
		}
	}
}
