// Command idle measures what an idle Steward costs: it starts the test bed (Dendrite,
// the group, Steward in both rooms), lets Steward sit idle for BENCH_IDLE (default 5m),
// and prints its resident memory and CPU use, sampled from /proc every 5 seconds.
// Run it with `make bench-idle`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/steward-bot/steward/e2e/testbed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-idle:", err)
		os.Exit(1)
	}
}

func run() error {
	duration, err := testbed.BenchSpan("BENCH_IDLE", 5*time.Minute)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w, closeWorld, err := testbed.BenchWorld(ctx, "idle", func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	defer closeWorld()
	if err != nil {
		return err
	}
	// One command first, so the idle figures are those of a bot that has done work.
	if _, err = w.Command(ctx, w.Alice, w.AdminRoom, "!ping"); err != nil {
		return err
	}
	usage, err := testbed.MeasureUsage(w.Steward.PID(), duration, ctx.Done())
	if err != nil {
		return err
	}
	fmt.Println("idle Steward " + usage.String())
	return nil
}
