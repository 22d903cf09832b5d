package jobs_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-bot/steward/jobs"
)

// BenchmarkPing measures the pings Steward's listener takes per second on this
// machine: the real stack (token check, body limit, request count, log), each ping
// recorded in a real SQLite database (synchronous=FULL, its history pruned) before it
// is answered, over loopback HTTP, by 1, 8 and 32 clients keeping their connections.
// A failure POSTs 2 KiB of output, masked and cut before it is stored.
func BenchmarkPing(b *testing.B) {
	output := strings.Repeat("pg_dump: dumping table with password=hunter2 and more\n", 40)
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"success", "GET", "/pgdump", ""},
		{"failure-with-output", "POST", "/pgdump/1", output[:2048]},
	} {
		for _, clients := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("%s/clients=%d", tc.name, clients), func(b *testing.B) {
				db := openDB(b)
				l := serve(b, jobs.NewTracker(specs, db.Jobs, time.Now))
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
				url := l.base + "/ping/" + token + tc.path
				var left atomic.Int64
				left.Store(int64(b.N))
				var failed atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for range clients {
					wg.Go(func() {
						for left.Add(-1) >= 0 {
							var body io.Reader
							if tc.body != "" {
								body = strings.NewReader(tc.body)
							}
							req, _ := http.NewRequest(tc.method, url, body)
							resp, err := client.Do(req)
							if err != nil {
								failed.Add(1)
								continue
							}
							answer, _ := io.ReadAll(resp.Body)
							resp.Body.Close()
							if resp.StatusCode != http.StatusOK {
								if failed.Add(1) == 1 {
									b.Logf("a ping answered %s: %s", resp.Status, answer)
								}
							}
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d of %d pings failed", n, b.N)
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pings/s")
			})
		}
	}
}
