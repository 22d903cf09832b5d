package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/steward-bot/steward/e2e/testbed"
)

// BenchmarkRoundTrip measures, over the local homeserver and in the same run, how long
// an admin waits for Steward's encrypted answer to !ping, next to how long a plain
// message takes to go from one person to another and back (alice -> bob -> alice, both
// encrypted). The difference is what Steward itself adds. Run with -benchtime 200x.
func BenchmarkRoundTrip(b *testing.B) {
	// The test bed's Steward has a per-sender rate limit high enough for 200 pings.
	b.Run("encrypted_ping", func(b *testing.B) {
		samples := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			command(b, w.Alice, w.AdminRoom, "!ping")
			samples = append(samples, time.Since(start))
		}
		reportPercentiles(b, samples)
	})
	b.Run("plain_message_echo", func(b *testing.B) {
		samples := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			i++
			text := fmt.Sprintf("echo request %d %d", time.Now().UnixNano(), i)
			start := time.Now()
			if _, err := w.Alice.Say(b.Context(), w.AdminRoom, text); err != nil {
				b.Fatal(err)
			}
			if err := w.Bob.WaitForText(b.Context(), w.AdminRoom, w.Alice.UserID, text, time.Minute); err != nil {
				b.Fatal(err)
			}
			if _, err := w.Bob.Say(b.Context(), w.AdminRoom, "re: "+text); err != nil {
				b.Fatal(err)
			}
			if err := w.Alice.WaitForText(b.Context(), w.AdminRoom, w.Bob.UserID, "re: "+text, time.Minute); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, time.Since(start))
		}
		reportPercentiles(b, samples)
	})
}

func reportPercentiles(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(p float64) float64 {
		return float64(samples[min(len(samples)-1, int(p*float64(len(samples))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkContainerDeathToAlert measures how long after a container dies its
// encrypted alert is readable in the admin room, with the default check interval
// (30 s: the engine's event is what starts the check) and no group wait. Each round
// kills the container, waits for the alert, starts it again and waits for the
// resolution. Run with -benchtime 20x.
func BenchmarkContainerDeathToAlert(b *testing.B) {
	ctx := b.Context()
	api, err := testbed.Docker(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer api.Close()
	name := fmt.Sprintf("steward-bench-%d", time.Now().UnixNano())
	containerID, err := testbed.RunContainer(ctx, api, name, nil, b.Cleanup)
	if err != nil {
		b.Fatal(err)
	}
	withConfig(b, func(c *testbed.StewardConfig) {
		c.Monitor = "{group_wait: 0s, disks: [], cpu: {enabled: false}, memory: {enabled: false}, swap: {enabled: false}, load: {enabled: false}}"
	})
	if err = w.Steward.Start(ctx); err != nil {
		b.Fatal(err)
	}
	command(b, w.Alice, w.AdminRoom, "!ping")
	fired, resolved := "Critical: Container "+name+" is down", "✅ Resolved: Container "+name+" is down"
	samples := make([]time.Duration, 0, b.N)
	rounds := 0
	for b.Loop() {
		rounds++
		start := time.Now()
		if _, err = api.ContainerKill(ctx, containerID, client.ContainerKillOptions{}); err != nil {
			b.Fatal(err)
		}
		if err = w.Alice.WaitForCount(ctx, w.AdminRoom, w.StewardID, fired, rounds, time.Minute); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		if _, err = api.ContainerStart(ctx, containerID, client.ContainerStartOptions{}); err != nil {
			b.Fatal(err)
		}
		if err = w.Alice.WaitForCount(ctx, w.AdminRoom, w.StewardID, resolved, rounds, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	reportPercentiles(b, samples)
}
