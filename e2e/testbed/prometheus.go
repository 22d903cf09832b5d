package testbed

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Debian's monitoring stack (Prometheus 2.42, Alertmanager 0.25, node exporter 1.5),
// which the Alertmanager tests run for real (.ci/run installs it).
const (
	PrometheusBinary   = "/usr/bin/prometheus"
	AlertmanagerBinary = "/usr/bin/prometheus-alertmanager"
	NodeExporterBinary = "/usr/bin/prometheus-node-exporter"
)

// Daemon is a server of the monitoring stack that the test bed started on a free
// loopback port, with its config, data and log in its own folder.
type Daemon struct {
	Name string
	// Dir holds its config, its data and its log.
	Dir string
	// Addr is host:port; URL is http://Addr.
	Addr, URL string
	cmd       *exec.Cmd
	done      chan struct{}
}

// startDaemon starts bin with args (where {addr} stands for its listen address) in
// dir, and waits until readyPath answers 200.
func startDaemon(ctx context.Context, name, bin, dir, readyPath string, args ...string) (*Daemon, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is not installed (apt-get install prometheus prometheus-alertmanager prometheus-node-exporter; .ci/run does): %w", bin, err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	d := &Daemon{Name: name, Dir: dir, Addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan struct{})}
	d.URL = "http://" + d.Addr
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "{addr}", d.Addr)
	}
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err = d.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = d.cmd.Wait()
		logFile.Close()
		close(d.done)
	}()
	if err = waitHTTP(ctx, d.URL+readyPath, 30*time.Second, d.done); err != nil {
		d.Stop()
		return nil, fmt.Errorf("%s did not start: %w (see %s)", name, err, logFile.Name())
	}
	return d, nil
}

// Stop ends the server (SIGTERM, then SIGKILL after 10 s) and waits until it has.
func (d *Daemon) Stop() {
	if d == nil || d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// GetJSON decodes the JSON answer to GET path.
func (d *Daemon) GetJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s%s: %s: %s", d.Name, path, resp.Status, body)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Metric sums the samples of the metric name, among those whose labels contain
// labels (like `integration="webhook"`), that the server exports on /metrics.
func (d *Daemon) Metric(ctx context.Context, name, labels string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') || !strings.Contains(rest, labels) {
			continue
		}
		fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", d.Name, line, err)
		}
		sum, found = sum+v, true
	}
	if err = scanner.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%s exports no %s{%s}", d.Name, name, labels)
	}
	return sum, nil
}

// promDuration writes d as Prometheus and Alertmanager read durations.
func promDuration(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// NodeExporter is a node exporter that exports the test's textfile metrics alone, so
// the test decides what Prometheus sees.
type NodeExporter struct {
	*Daemon
	// Textfiles is its textfile collector's folder.
	Textfiles string
}

// StartNodeExporter starts a node exporter in dir with only its textfile collector.
func StartNodeExporter(ctx context.Context, dir string) (*NodeExporter, error) {
	textfiles := filepath.Join(dir, "textfiles")
	if err := os.MkdirAll(textfiles, 0o755); err != nil {
		return nil, err
	}
	d, err := startDaemon(ctx, "node-exporter", NodeExporterBinary, dir, "/metrics",
		"--web.listen-address={addr}", "--collector.disable-defaults", "--collector.textfile",
		"--collector.textfile.directory="+textfiles)
	if err != nil {
		return nil, err
	}
	return &NodeExporter{Daemon: d, Textfiles: textfiles}, nil
}

// SetGauge exports the gauge name{labels} (labels like `disk="sdb"`, or "") with value,
// replacing what name exported before. The file is written aside and renamed, so a
// scrape never reads half of it.
func (n *NodeExporter) SetGauge(name, labels string, value float64) error {
	if labels != "" {
		labels = "{" + labels + "}"
	}
	content := fmt.Sprintf("# TYPE %s gauge\n%s%s %g\n", name, name, labels, value)
	tmp := filepath.Join(n.Textfiles, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(n.Textfiles, name+".prom"))
}

// AlertmanagerConfig is what the test bed's Alertmanager sends where.
type AlertmanagerConfig struct {
	// WebhookURL is the receiver's URL (Steward's /alertmanager), TokenFile the file
	// with the bearer token it presents (http_config.authorization.credentials_file).
	WebhookURL, TokenFile string
	// RepeatInterval is how often it sends a group again that did not change; 1h
	// when zero. Groups wait 1 s and change at most every second.
	RepeatInterval time.Duration
}

// StartAlertmanager starts an Alertmanager in dir that sends every alert to the
// webhook, resolved ones too, without clustering.
func StartAlertmanager(ctx context.Context, dir string, c AlertmanagerConfig) (*Daemon, error) {
	if c.RepeatInterval == 0 {
		c.RepeatInterval = time.Hour
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`route:
  receiver: steward
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: %s
receivers:
  - name: steward
    webhook_configs:
      - url: %q
        send_resolved: true
        http_config:
          authorization:
            credentials_file: %q
`, promDuration(c.RepeatInterval), c.WebhookURL, c.TokenFile)
	configPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	// An empty cluster address turns clustering off: no gossip port, no waiting for
	// peers before the first notification.
	return startDaemon(ctx, "alertmanager", AlertmanagerBinary, dir, "/-/ready",
		"--config.file="+configPath, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address={addr}", "--cluster.listen-address=", "--data.retention=1h", "--log.level=debug")
}

// PrometheusConfig is what the test bed's Prometheus scrapes and evaluates.
type PrometheusConfig struct {
	// Alertmanager is the Alertmanager's host:port.
	Alertmanager string
	// Targets are the node exporters scraped (job "node"), as host:port.
	Targets []string
	// Rules is the content of its one rule file.
	Rules string
}

// StartPrometheus starts a Prometheus in dir that scrapes and evaluates every second
// and sends its alerts to the Alertmanager at once.
func StartPrometheus(ctx context.Context, dir string, c PrometheusConfig) (*Daemon, error) {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	rulesPath := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rulesPath, []byte(c.Rules), 0o644); err != nil {
		return nil, err
	}
	targets, err := json.Marshal(c.Targets)
	if err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: %s
`, rulesPath, c.Alertmanager, targets)
	configPath := filepath.Join(dir, "prometheus.yml")
	if err = os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	return startDaemon(ctx, "prometheus", PrometheusBinary, dir, "/-/ready",
		"--config.file="+configPath, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--storage.tsdb.retention.time=1h",
		"--web.listen-address={addr}", "--rules.alert.resend-delay=1s")
}

// Monitoring is the stack a group runs: one node exporter, Prometheus scraping it,
// and Alertmanager sending to a webhook.
type Monitoring struct {
	Node         *NodeExporter
	Prometheus   *Daemon
	Alertmanager *Daemon
}

// StartMonitoring starts the stack in dir with rules, sending to the webhook as am
// says; on error it has stopped what it started.
func StartMonitoring(ctx context.Context, dir, rules string, am AlertmanagerConfig) (*Monitoring, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	m := &Monitoring{}
	var err error
	dirOf := func(name string) string {
		sub := filepath.Join(dir, name)
		err = errors.Join(err, os.MkdirAll(sub, 0o755))
		return sub
	}
	amDir, nodeDir, promDir := dirOf("alertmanager"), dirOf("node-exporter"), dirOf("prometheus")
	if err != nil {
		return nil, err
	}
	if m.Alertmanager, err = StartAlertmanager(ctx, amDir, am); err != nil {
		return nil, err
	}
	if m.Node, err = StartNodeExporter(ctx, nodeDir); err != nil {
		m.Stop()
		return nil, err
	}
	if m.Prometheus, err = StartPrometheus(ctx, promDir, PrometheusConfig{
		Alertmanager: m.Alertmanager.Addr, Targets: []string{m.Node.Addr}, Rules: rules,
	}); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// Stop stops the stack, Prometheus first, and waits until all of it has stopped.
func (m *Monitoring) Stop() {
	m.Prometheus.Stop()
	if m.Node != nil {
		m.Node.Stop()
	}
	m.Alertmanager.Stop()
}
