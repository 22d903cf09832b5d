// Command sleeper is the process of Steward's test containers: it says it started
// (with a line holding a secret, as careless services do), answers HTTP on port 8080
// with its version, and stops cleanly (exit code 0) on SIGTERM, as a well-behaved
// service does. An image whose /version says "broken" fails at once instead, as a bad
// release does. "sleeper health" is its health check: it asks the running sleeper,
// and fails when the version says "sick". It is built static, so the image needs
// nothing else.
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	version, _ := os.ReadFile("/version")
	if len(os.Args) > 1 && os.Args[1] == "health" {
		resp, err := http.Get("http://127.0.0.1:8080/")
		if err != nil || resp.StatusCode != http.StatusOK || strings.Contains(string(version), "sick") {
			fmt.Println("unhealthy: the service does not answer as it should")
			os.Exit(1)
		}
		fmt.Println("healthy")
		return
	}
	if strings.Contains(string(version), "broken") {
		fmt.Fprintln(os.Stderr, "fatal: this build is broken: missing config key secret_key=abc123")
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		_ = http.ListenAndServe(":8080", http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(rw, "version %s", strings.TrimSpace(string(version)))
		}))
	}()
	fmt.Println("connecting to postgres://app:hunter2@db:5432/app")
	fmt.Fprintln(os.Stderr, "ready")
	<-stop
	fmt.Println("stopping")
}
