package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheckTimeout bounds the request: a health check that hangs is one that fails.
const healthcheckTimeout = 5 * time.Second

// cmdHealthcheck asks the running Steward's /readyz, on http.listen, whether it is
// ready, for a container's health check: the image has no curl.
func cmdHealthcheck(args []string, stdout, stderr io.Writer) int {
	fs, path := flagSet("healthcheck", stderr)
	if fs.Parse(args) != nil {
		return 2
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return 1
	}
	if cfg.HTTP.Listen == "" {
		fmt.Fprintln(stderr, "steward healthcheck: http.listen is not set, so there is no /readyz to ask; set it (like 127.0.0.1:9464)")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+dialable(cfg.HTTP.Listen)+"/readyz", nil)
	if err != nil {
		fmt.Fprintf(stderr, "steward healthcheck: %v\n", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "steward healthcheck: Steward does not answer on %s: %v\n", cfg.HTTP.Listen, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

// dialable is the listen address as a client reaches it: an address that listens on
// every interface is reached on loopback.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
