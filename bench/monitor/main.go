// Command monitor measures what Steward's monitoring costs: it starts the test bed,
// 50 containers and 10 local HTTP endpoints, runs Steward with every check on at 30 s
// intervals for BENCH_DURATION (default 5m), and prints Steward's resident memory and
// CPU use. Run it with `make bench-monitor`.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
)

const (
	containers = 50
	endpoints  = 10
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-monitor:", err)
		os.Exit(1)
	}
}

func run() error {
	duration, err := testbed.BenchSpan("BENCH_DURATION", 5*time.Minute)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	w, closeWorld, err := testbed.BenchWorld(ctx, "monitor", logf)
	defer closeWorld()
	if err != nil {
		return err
	}

	api, err := testbed.Docker(ctx)
	if err != nil {
		return err
	}
	defer api.Close()
	var cleanups []func()
	defer func() {
		for _, f := range cleanups {
			f()
		}
	}()
	prefix := fmt.Sprintf("steward-bench-%d-", time.Now().Unix())
	for i := range containers {
		if _, err = testbed.RunContainer(ctx, api, fmt.Sprintf("%s%02d", prefix, i), nil, func(f func()) { cleanups = append(cleanups, f) }); err != nil {
			return err
		}
	}
	var checks []string
	for i := range endpoints {
		server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprintln(rw, "ok") }))
		defer server.Close()
		checks = append(checks, fmt.Sprintf("{name: site%02d, url: %q}", i, server.URL))
	}
	logf("Started %d containers and %d HTTP endpoints; restarting Steward with every check on", containers, endpoints)

	if err = w.Steward.Stop(); err != nil {
		return err
	}
	w.Config.Monitor = "{interval: 30s, disks: [{path: /}], http: [" + strings.Join(checks, ", ") + "]}"
	if err = w.StartSteward(ctx); err != nil {
		return err
	}
	if _, err = w.Command(ctx, w.Alice, w.AdminRoom, "!ping"); err != nil {
		return err
	}
	usage, err := testbed.MeasureUsage(w.Steward.PID(), duration, ctx.Done())
	if err != nil {
		return err
	}
	fmt.Printf("Steward monitoring %d containers, %d HTTP endpoints, the host and one disk at 30 s intervals, %s\n", containers, endpoints, usage)
	return nil
}
