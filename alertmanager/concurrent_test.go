package alertmanager

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/steward-bot/steward/monitor"
)

// heldReporter records how many notifications are being recorded at once; each
// waits for release.
type heldReporter struct {
	mu        sync.Mutex
	now, most int
	release   chan struct{}
	reported  int
}

func (h *heldReporter) Report(context.Context, string, []monitor.Observation, []string) error {
	h.mu.Lock()
	h.now++
	h.most = max(h.most, h.now)
	h.mu.Unlock()
	<-h.release
	h.mu.Lock()
	h.now--
	h.reported++
	h.mu.Unlock()
	return nil
}

// Alertmanager sends each group's notification apart, many at once after its restart
// or in a storm grouped by instance. They are recorded one at a time: at once, they
// waited for SQLite's write lock in its busy handler, and some gave up after its 5
// seconds (64 groups of 100 alerts, delivered 3 times each, had 2 to 14 of 192
// answered 500), while the bot's own writes waited in the same queue.
func TestReceiverRecordsOneNotificationAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep := &heldReporter{release: make(chan struct{})}
		recv := &Receiver{Alerts: rep}
		const senders = 8
		codes := make(chan int, senders)
		for range senders {
			go func() {
				req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/alertmanager",
					strings.NewReader(payload("firing", alertJSON("firing", "00000000000000aa", diskLabels, nil))))
				rec := httptest.NewRecorder()
				recv.ServeHTTP(rec, req)
				codes <- rec.Code
			}()
		}
		synctest.Wait()
		rep.mu.Lock()
		waiting := rep.now
		rep.mu.Unlock()
		if waiting != 1 {
			t.Errorf("%d notifications are being recorded at once, want 1", waiting)
		}
		close(rep.release)
		for range senders {
			if code := <-codes; code != http.StatusOK {
				t.Errorf("answered %d", code)
			}
		}
		if rep.most != 1 || rep.reported != senders {
			t.Errorf("%d recorded at most at once, %d in all; want 1 and %d", rep.most, rep.reported, senders)
		}
	})
}

// A notification whose sender gave up while it waited its turn is not recorded:
// Alertmanager sends it again.
func TestReceiverDropsANotificationItsSenderGaveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep := &heldReporter{release: make(chan struct{})}
		recv := &Receiver{Alerts: rep}
		body := payload("firing", alertJSON("firing", "00000000000000aa", diskLabels, nil))
		first := make(chan int, 1)
		go func() {
			rec := httptest.NewRecorder()
			recv.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/alertmanager", strings.NewReader(body)))
			first <- rec.Code
		}()
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		second := make(chan int, 1)
		go func() {
			rec := httptest.NewRecorder()
			recv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodPost, "/alertmanager", strings.NewReader(body)))
			second <- rec.Code
		}()
		synctest.Wait()
		cancel()
		if code := <-second; code == http.StatusOK {
			t.Errorf("the notification given up was answered %d", code)
		}
		close(rep.release)
		if code := <-first; code != http.StatusOK {
			t.Errorf("the first was answered %d", code)
		}
		if rep.reported != 1 {
			t.Errorf("%d recorded, want the first alone", rep.reported)
		}
	})
}
