// Command sleeper is the process of Steward's test containers: it waits until it is
// told to stop, and stops cleanly (exit code 0) on SIGTERM, as a well-behaved service
// does. It is built static, so the image needs nothing else.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
