// Command sleeper is the process of Steward's test containers: it says it started
// (with a line holding a secret, as careless services do), waits until it is told to
// stop, and stops cleanly (exit code 0) on SIGTERM, as a well-behaved service does. An
// image whose /version says "broken" fails at once instead, as a bad release does. It
// is built static, so the image needs nothing else.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	if version, err := os.ReadFile("/version"); err == nil && strings.Contains(string(version), "broken") {
		fmt.Fprintln(os.Stderr, "fatal: this build is broken: missing config key secret_key=abc123")
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	fmt.Println("connecting to postgres://app:hunter2@db:5432/app")
	fmt.Fprintln(os.Stderr, "ready")
	<-stop
	fmt.Println("stopping")
}
