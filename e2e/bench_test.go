package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
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

// BenchmarkUpdateDowntime measures how long a container's service is unreachable
// during !update (from the last answer of the old version to the first answer of the
// new one), next to the same change made by hand with docker stop and docker run
// (create and start), in the same run. The service answers HTTP on a published
// loopback port and is polled every 5 ms. Run with -benchtime 5x.
func BenchmarkUpdateDowntime(b *testing.B) {
	ctx := b.Context()
	api, err := testbed.Docker(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer api.Close()
	repo := newImageRepo(b, api, "bench:stable")
	ref := repo.Ref
	version := 0
	// push makes the next version the image and returns what it answers.
	push := func() string {
		version++
		repo.push(fmt.Sprintf("%d.0", version))
		return fmt.Sprintf("version %d.0", version)
	}
	port, err := testbed.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("steward-bench-web-%d", time.Now().UnixNano())
	hostConfig := &container.HostConfig{PortBindings: network.PortMap{
		network.MustParsePort("8080/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(port)}},
	}}
	run := func() {
		created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name: name, Config: &container.Config{Image: ref, Labels: testbed.Labelled(nil), ExposedPorts: network.PortSet{network.MustParsePort("8080/tcp"): {}}}, HostConfig: hostConfig,
		})
		if err != nil {
			b.Fatal(err)
		}
		if _, err = api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		_, _ = api.ContainerRemove(context.WithoutCancel(ctx), name, client.ContainerRemoveOptions{Force: true})
	})
	current := push()
	run()
	withConfig(b, func(c *testbed.StewardConfig) {
		for i, line := range c.TopLevel {
			if strings.HasPrefix(line, "docker:") {
				c.TopLevel[i] = "docker: {update_check: 0s, settle: 1s}"
			}
		}
	})
	if err = w.Steward.Start(ctx); err != nil {
		b.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitFor := func(answer string) {
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if got, ok := get(url); ok && got == answer {
				return
			}
		}
		b.Fatalf("the service never answered %q", answer)
	}
	waitFor(current)

	var byUpdate, byHand []time.Duration
	for b.Loop() {
		// !update, approved by a second admin.
		next := push()
		done := measureDowntime(url, current, next)
		request := command(b, w.Alice, w.AdminRoom, "!update "+name)
		m := requestIDPattern.FindStringSubmatch(request.Content.AsMessage().Body)
		if m == nil {
			b.Fatalf("!update did not ask for approval: %s", request.Content.AsMessage().Body)
		}
		command(b, w.Bob, w.AdminRoom, "!approve "+m[1])
		byUpdate = append(byUpdate, <-done)
		current = next
		// Steward's update is over once it has removed the previous container.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			if _, err := api.ContainerInspect(ctx, name+"-steward-previous", client.ContainerInspectOptions{}); err != nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("Steward did not finish the update")
			}
		}

		// The same change by hand: docker stop, docker rm, docker run.
		next = push()
		done = measureDowntime(url, current, next)
		if _, err = api.ContainerStop(ctx, name, client.ContainerStopOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err = api.ContainerRemove(ctx, name, client.ContainerRemoveOptions{}); err != nil {
			b.Fatal(err)
		}
		run()
		byHand = append(byHand, <-done)
		current = next
	}
	report := func(prefix string, samples []time.Duration) {
		slices.Sort(samples)
		b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, prefix+"-p50-ms")
		b.ReportMetric(float64(samples[len(samples)-1].Microseconds())/1000, prefix+"-max-ms")
	}
	b.Logf("downtime by !update: %v; by hand: %v", byUpdate, byHand)
	report("update", byUpdate)
	report("by-hand", byHand)
	b.ReportMetric(0, "ns/op")
}

// measureDowntime polls url from now on and sends, once the answer changes from old to
// new, the time between the last old answer and the first new one.
func measureDowntime(url, old, next string) <-chan time.Duration {
	done := make(chan time.Duration, 1)
	go func() {
		lastOld := time.Now()
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			got, ok := get(url)
			switch {
			case ok && got == old:
				lastOld = time.Now()
			case ok && got == next:
				done <- time.Since(lastOld)
				return
			}
		}
		done <- -1
	}()
	return done
}

var benchHTTP = &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}

func get(url string) (string, bool) {
	resp, err := benchHTTP.Get(url)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err == nil && resp.StatusCode == http.StatusOK
}
