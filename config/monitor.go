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

// Defaults of the monitor section. Levels are percentages, except load's,
// which are the 5-minute load average per CPU core.
const (
	DefaultMonitorInterval = Duration(30 * time.Second)
	DefaultAlertFor        = Duration(2 * time.Minute)
	DefaultHysteresis      = 3.0
	DefaultGroupWait       = Duration(10 * time.Second)
	DefaultEscalateAfter   = Duration(15 * time.Minute)
	DefaultAnnounceAfter   = Duration(10 * time.Minute)

	DefaultCPUWarning     = 90.0
	DefaultCPUCritical    = 98.0
	DefaultCPUFor         = Duration(5 * time.Minute) // a busy CPU is normal for a while
	DefaultMemoryWarning  = 90.0
	DefaultMemoryCritical = 95.0
	DefaultSwapWarning    = 50.0
	DefaultSwapCritical   = 80.0
	DefaultLoadWarning    = 2.0
	DefaultLoadCritical   = 4.0

	DefaultDiskWarning    = 85.0
	DefaultDiskCritical   = 95.0
	DefaultInodesWarning  = 85.0
	DefaultInodesCritical = 95.0
	DefaultDiskForecast   = Duration(72 * time.Hour)
	DefaultHTTPInterval   = Duration(30 * time.Second)
	DefaultHTTPTimeout    = Duration(10 * time.Second)
	DefaultLatencyWarning = Duration(2 * time.Second)
	DefaultCertWarning    = Duration(14 * 24 * time.Hour)
	DefaultCertCritical   = Duration(3 * 24 * time.Hour)
	DefaultDigestHour     = 9
	DefaultDigestZone     = "UTC"

	DefaultRestartLoop   = 3
	DefaultRestartWindow = Duration(10 * time.Minute)
	DefaultContainersFor = Duration(0) // not monitor.for: a container that died is down now
)

// Bounds of the monitor section's durations and of monitor.hysteresis.
const (
	minCheckInterval = Duration(time.Second) // checking more often only costs
	maxGroupWait     = Duration(5 * time.Minute)
	minEscalateAfter = Duration(time.Minute)
	maxEscalateAfter = Duration(24 * time.Hour)
	maxAnnounceAfter = Duration(24 * time.Hour)
	maxHysteresis    = 20.0
	minRestartLoop   = 2 // one restart is a container recovering, not a loop
	minRestartWindow = Duration(time.Minute)
	maxRestartWindow = Duration(24 * time.Hour)
)

// Monitor says what Steward watches on the host and beyond, when that is
// worth an alert, and how alerts reach people. !status shows the same
// values the alerts are about.
type Monitor struct {
	// Disks defaults to the root filesystem; an explicit empty list
	// ("disks: []") turns disk monitoring off.
	Disks []Disk `yaml:"disks"`
	// Interval is how often the host and disk checks run.
	Interval Duration `yaml:"interval"`
	// For is how long a problem must last before it alerts, so a short
	// spike (a backup, a build) does not wake anyone. Checks that have a
	// For of their own fall back to this one.
	For Duration `yaml:"for"`
	// Hysteresis is how far, in percentage points, a value must fall back
	// below a threshold before the alert clears, so a value hovering at
	// the threshold does not alert and clear over and over. For load,
	// which is not a percentage, it is the same share of the threshold
	// (Hysteresis/100 of it).
	Hysteresis float64 `yaml:"hysteresis"`
	// GroupWait is how long Steward waits to gather alerts that fire
	// together (a full disk slowing every service) into one message.
	GroupWait Duration `yaml:"group_wait"`
	// EscalateAfter is how long a critical alert may go unacknowledged
	// before it mentions the on-duty admin; after twice this it mentions
	// every admin.
	EscalateAfter Duration `yaml:"escalate_after"`
	// AnnounceAfter is how long a service members use (HTTPCheck.Public,
	// or a container labelled steward.public=true) may be down before the
	// group room is told, so members learn that the admins know without
	// hearing of every short blip.
	AnnounceAfter Duration `yaml:"announce_after"`
	// CPU is the share of time all cores are busy, in percent.
	CPU Threshold `yaml:"cpu"`
	// Memory is the share of memory in use, in percent.
	Memory Threshold `yaml:"memory"`
	// Swap is the share of swap in use, in percent; hosts without swap
	// skip it.
	Swap Threshold `yaml:"swap"`
	// Load is the 5-minute load average per CPU core. It is not a
	// percentage: any level above 0 is allowed.
	Load Threshold `yaml:"load"`
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
	Enabled *bool `yaml:"enabled"`
	// Warning and Critical are the levels, in the unit of the check.
	Warning  float64 `yaml:"warning"`
	Critical float64 `yaml:"critical"`
	// For is how long the value must stay at a level before it alerts;
	// it defaults to Monitor.For (for CPU, to DefaultCPUFor).
	For Duration `yaml:"for"`
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
	Warning        float64 `yaml:"warning"`
	Critical       float64 `yaml:"critical"`
	InodesWarning  float64 `yaml:"inodes_warning"`
	InodesCritical float64 `yaml:"inodes_critical"`
	// Forecast warns when, at the rate the disk has been filling, it will
	// be full within this span, so there is time to act before the space
	// levels are reached. 0 turns the forecast off.
	Forecast Duration `yaml:"forecast"`
	// For defaults to Monitor.For.
	For Duration `yaml:"for"`
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
	Interval Duration `yaml:"interval"`
	// Timeout is how long a request may take before it counts as down; at
	// most Interval, so requests never pile up.
	Timeout Duration `yaml:"timeout"`
	// Status lists the accepted status codes; nil means any 2xx or 3xx.
	// Use OK.
	Status []int `yaml:"status"`
	// LatencyWarning warns when an answer takes longer than this.
	LatencyWarning Duration `yaml:"latency_warning"`
	// CertWarning and CertCritical are how long before an https
	// certificate expires the check warns and turns critical; CertWarning
	// is the longer one.
	CertWarning  Duration `yaml:"cert_warning"`
	CertCritical Duration `yaml:"cert_critical"`
	// For defaults to Monitor.For.
	For Duration `yaml:"for"`
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
	Enabled *bool `yaml:"enabled"`
	// RestartLoop is how many restarts within RestartWindow make a
	// restart loop; at least 2, since a single restart is the restart
	// policy doing its job.
	RestartLoop int `yaml:"restart_loop"`
	// RestartWindow is the span RestartLoop restarts are counted over,
	// from 1m to 24h.
	RestartWindow Duration `yaml:"restart_window"`
	// For is how long a container's problem must last before it alerts.
	// Unlike other checks' it does not fall back to Monitor.For but
	// defaults to 0s: a container that died is not a spike that passes by
	// itself.
	For Duration `yaml:"for"`
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
	Hour int `yaml:"hour"`
	// TimeZone is an IANA zone name like Europe/Berlin, so the digest
	// arrives at the same local time across daylight saving changes.
	TimeZone string `yaml:"time_zone"`
	// Location is TimeZone loaded, filled in by Load and Parse.
	Location *time.Location `yaml:"-"`
}

// monitorDefaults fills in the monitor section. Checks inherit monitor.for,
// so it is defaulted first.
func (v *validator) monitorDefaults(m *Monitor) {
	setDefault(v, "monitor.disks", &m.Disks, []Disk{{Path: DefaultDiskPath}})
	setDefault(v, "monitor.interval", &m.Interval, DefaultMonitorInterval)
	setDefault(v, "monitor.for", &m.For, DefaultAlertFor)
	setDefault(v, "monitor.hysteresis", &m.Hysteresis, DefaultHysteresis)
	setDefault(v, "monitor.group_wait", &m.GroupWait, DefaultGroupWait)
	setDefault(v, "monitor.escalate_after", &m.EscalateAfter, DefaultEscalateAfter)
	setDefault(v, "monitor.announce_after", &m.AnnounceAfter, DefaultAnnounceAfter)
	v.thresholdDefaults("monitor.cpu", &m.CPU, DefaultCPUWarning, DefaultCPUCritical, DefaultCPUFor)
	v.thresholdDefaults("monitor.memory", &m.Memory, DefaultMemoryWarning, DefaultMemoryCritical, m.For)
	v.thresholdDefaults("monitor.swap", &m.Swap, DefaultSwapWarning, DefaultSwapCritical, m.For)
	v.thresholdDefaults("monitor.load", &m.Load, DefaultLoadWarning, DefaultLoadCritical, m.For)
	for i := range m.Disks {
		d, key := &m.Disks[i], fmt.Sprintf("monitor.disks[%d]", i)
		setDefault(v, key+".warning", &d.Warning, DefaultDiskWarning)
		setDefault(v, key+".critical", &d.Critical, DefaultDiskCritical)
		setDefault(v, key+".inodes_warning", &d.InodesWarning, DefaultInodesWarning)
		setDefault(v, key+".inodes_critical", &d.InodesCritical, DefaultInodesCritical)
		setDefault(v, key+".forecast", &d.Forecast, DefaultDiskForecast)
		setDefault(v, key+".for", &d.For, m.For)
	}
	for i := range m.HTTP {
		h, key := &m.HTTP[i], fmt.Sprintf("monitor.http[%d]", i)
		setDefault(v, key+".interval", &h.Interval, DefaultHTTPInterval)
		// A check written to run every 5s should not be refused for the
		// default timeout being longer than that.
		timeout := DefaultHTTPTimeout
		if h.Interval >= minCheckInterval {
			timeout = min(timeout, h.Interval)
		}
		setDefault(v, key+".timeout", &h.Timeout, timeout)
		setDefault(v, key+".latency_warning", &h.LatencyWarning, DefaultLatencyWarning)
		setDefault(v, key+".cert_warning", &h.CertWarning, DefaultCertWarning)
		setDefault(v, key+".cert_critical", &h.CertCritical, DefaultCertCritical)
		setDefault(v, key+".for", &h.For, m.For)
	}
	if m.Containers.Enabled == nil {
		yes := true
		m.Containers.Enabled = &yes
	}
	setDefault(v, "monitor.containers.restart_loop", &m.Containers.RestartLoop, DefaultRestartLoop)
	setDefault(v, "monitor.containers.restart_window", &m.Containers.RestartWindow, DefaultRestartWindow)
	setDefault(v, "monitor.containers.for", &m.Containers.For, DefaultContainersFor)
	if dd := m.DailyDigest; dd != nil {
		setDefault(v, "monitor.daily_digest.hour", &dd.Hour, DefaultDigestHour)
		setDefault(v, "monitor.daily_digest.time_zone", &dd.TimeZone, DefaultDigestZone)
	}
}

// thresholdDefaults fills in the threshold at key with the given levels and
// For.
func (v *validator) thresholdDefaults(key string, t *Threshold, warning, critical float64, forDef Duration) {
	if t.Enabled == nil {
		yes := true
		t.Enabled = &yes
	}
	setDefault(v, key+".warning", &t.Warning, warning)
	setDefault(v, key+".critical", &t.Critical, critical)
	setDefault(v, key+".for", &t.For, forDef)
}

// checkMonitor validates the monitor section and loads the daily digest's
// time zone into its Location.
func (v *validator) checkMonitor(m *Monitor) {
	if m.Interval < minCheckInterval {
		v.invalid("monitor.interval", fmt.Sprintf("must be at least 1s, got %s", m.Interval))
	}
	v.checkFor("monitor.for", m.For)
	if h := m.Hysteresis; math.IsNaN(h) || h < 0 || h > maxHysteresis {
		v.invalid("monitor.hysteresis", fmt.Sprintf("must be from 0 to 20 (percentage points), got %v", h))
	}
	if m.GroupWait < 0 || m.GroupWait > maxGroupWait {
		v.invalid("monitor.group_wait", fmt.Sprintf("must be between 0s and 5m, got %s", m.GroupWait))
	}
	if m.EscalateAfter < minEscalateAfter || m.EscalateAfter > maxEscalateAfter {
		v.invalid("monitor.escalate_after", fmt.Sprintf("must be between 1m and 24h, got %s", m.EscalateAfter))
	}
	if m.AnnounceAfter < 0 || m.AnnounceAfter > maxAnnounceAfter {
		v.invalid("monitor.announce_after", fmt.Sprintf("must be between 0s and 24h, got %s", m.AnnounceAfter))
	}
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
		if d.Forecast < 0 {
			v.invalid(key+".forecast", fmt.Sprintf("must not be negative (0 turns the forecast off), got %s", d.Forecast))
		}
		v.checkFor(key+".for", d.For)
	}

	firstName := map[string]int{}
	for i, h := range m.HTTP {
		key := fmt.Sprintf("monitor.http[%d]", i)
		v.checkHTTP(key, h)
		if j, dup := firstName[h.Name]; dup && h.Name != "" {
			v.invalid(key+".name", fmt.Sprintf("%s is listed twice (also monitor.http[%d]); alerts tell checks apart by name", h.Name, j))
		} else {
			firstName[h.Name] = i
		}
	}

	v.checkContainers(m.Containers)

	if dd := m.DailyDigest; dd != nil {
		dd.Location = v.checkSchedule("monitor.daily_digest", dd.Hour, dd.TimeZone, DefaultDigestZone)
	}
}

// levelKind says which values the levels of a check accept.
type levelKind int

const (
	percentLevel levelKind = iota // cpu, memory, swap and disks
	loadLevel                     // load, per CPU core
)

// ok reports whether x is a level of kind k.
func (k levelKind) ok(x float64) bool {
	if k == loadLevel {
		return x > 0 && !math.IsInf(x, 0)
	}
	return x > 0 && x <= 100
}

// want says what ok accepts, for messages.
func (k levelKind) want() string {
	if k == loadLevel {
		return "a number above 0 (the 5-minute load average per CPU core)"
	}
	return "a percentage above 0 and at most 100"
}

// checkThreshold validates one of the host checks at key.
func (v *validator) checkThreshold(key string, t Threshold, kind levelKind) {
	v.checkLevels(key+".warning", t.Warning, key+".critical", t.Critical, kind)
	v.checkFor(key+".for", t.For)
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

// checkFor requires a check's for at key not to be negative. An inherited
// value is monitor.for, reported there, so only one written here is checked.
func (v *validator) checkFor(key string, d Duration) {
	if v.set[key] && d < 0 {
		v.invalid(key, fmt.Sprintf("must not be negative, got %s", d))
	}
}

// checkHTTP validates one entry of monitor.http at key, apart from whether
// its name is unique.
func (v *validator) checkHTTP(key string, h HTTPCheck) {
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
	intervalOK := h.Interval >= minCheckInterval
	if !intervalOK {
		v.invalid(key+".interval", fmt.Sprintf("must be at least 1s, got %s", h.Interval))
	}
	switch {
	case h.Timeout <= 0:
		v.invalid(key+".timeout", fmt.Sprintf("must be longer than 0, got %s", h.Timeout))
	case intervalOK && h.Timeout > h.Interval:
		v.invalid(key+".timeout", fmt.Sprintf("must not be longer than %s.interval (%s%s), so checks never overlap; got %s",
			key, h.Interval, v.defaultNote(key+".interval"), h.Timeout))
	}
	if h.Status != nil && len(h.Status) == 0 {
		v.invalid(key+".status", "must list at least one status code; leave it out to accept any 2xx or 3xx")
	}
	firstSeen := map[int]int{}
	for i, code := range h.Status {
		ckey := fmt.Sprintf("%s.status[%d]", key, i)
		if code < 100 || code > 599 {
			v.invalid(ckey, fmt.Sprintf("not an HTTP status code (100 to 599): %d", code))
			continue
		}
		if j, dup := firstSeen[code]; dup {
			v.invalid(ckey, fmt.Sprintf("%d is listed twice (also %s.status[%d])", code, key, j))
			continue
		}
		firstSeen[code] = i
	}
	if h.LatencyWarning <= 0 {
		v.invalid(key+".latency_warning", fmt.Sprintf("must be longer than 0, got %s", h.LatencyWarning))
	}
	if h.CertCritical < 0 {
		v.invalid(key+".cert_critical", fmt.Sprintf("must not be negative, got %s", h.CertCritical))
	} else if h.CertWarning <= h.CertCritical && !v.bad[key+".cert_warning"] && !v.bad[key+".cert_critical"] {
		wKey, cKey := key+".cert_warning", key+".cert_critical"
		if v.set[wKey] {
			v.invalid(wKey, fmt.Sprintf("must be longer than %s (%s%s), got %s", cKey, h.CertCritical, v.defaultNote(cKey), h.CertWarning))
		} else {
			v.invalid(cKey, fmt.Sprintf("must be shorter than %s (%s%s), got %s", wKey, h.CertWarning, v.defaultNote(wKey), h.CertCritical))
		}
	}
	v.checkFor(key+".for", h.For)
}

// checkContainers validates monitor.containers.
func (v *validator) checkContainers(c Containers) {
	const key = "monitor.containers"
	if c.RestartLoop < minRestartLoop {
		v.invalid(key+".restart_loop", fmt.Sprintf("must be at least 2 (one restart is not a loop), got %d", c.RestartLoop))
	}
	if c.RestartWindow < minRestartWindow || c.RestartWindow > maxRestartWindow {
		v.invalid(key+".restart_window", fmt.Sprintf("must be between 1m and 24h, got %s", c.RestartWindow))
	}
	v.checkFor(key+".for", c.For)
}
