package bot

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// SyncStatus is what the sync loop knows about its own progress, for health checks
// and metrics outside the transport: they decide what is healthy, the loop only
// reports.
type SyncStatus struct {
	// FirstSyncDone is set once the first sync of this run has been handled.
	FirstSyncDone bool
	// LastSuccess is when a sync batch was last handled and committed.
	LastSuccess time.Time
	// FailingSince is when the syncs began to fail; zero while they succeed.
	FailingSince time.Time
	// UnreachableSince is when the homeserver stopped answering (no answer at all, or
	// a proxy's 502, 503 or 504); zero while it answers, even with an error.
	UnreachableSince time.Time
	// LastError is the latest failure's text, empty while the syncs succeed.
	LastError string
	// PollingSince is when the long poll now waiting on the homeserver began; zero
	// when none waits. A long poll returns only when something happens or PollTimeout
	// passes, so while it waits the sync is as current as the homeserver is.
	PollingSince time.Time
	PollTimeout  time.Duration
	// HandlingSince is when the batch being handled now arrived (zero when none
	// is): Steward has everything up to then in hand.
	HandlingSince time.Time
	// Progress is when the loop last began or ended a step (a request, a batch); a
	// loop stuck in one step stops moving it.
	Progress time.Time
}

// syncTracker keeps the SyncStatus the loop reports as it goes.
type syncTracker struct {
	mu     sync.Mutex
	status SyncStatus
}

func (t *syncTracker) get() SyncStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// polling records the start of a request; a long poll (timeout > 0) after a success
// is waiting, not late.
func (t *syncTracker) polling(timeout time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.status.Progress = now
	t.status.PollingSince, t.status.PollTimeout, t.status.HandlingSince = time.Time{}, 0, time.Time{}
	if timeout > 0 && t.status.FailingSince.IsZero() {
		t.status.PollingSince, t.status.PollTimeout = now, timeout
	}
}

// answered records that the request returned and its batch is being handled.
func (t *syncTracker) answered() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.status.Progress, t.status.HandlingSince = now, now
	t.status.PollingSince, t.status.PollTimeout = time.Time{}, 0
}

func (t *syncTracker) succeeded(first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.status.LastSuccess, t.status.Progress = now, now
	t.status.FailingSince, t.status.UnreachableSince, t.status.LastError = time.Time{}, time.Time{}, ""
	t.status.PollingSince, t.status.PollTimeout, t.status.HandlingSince = time.Time{}, 0, time.Time{}
	if first {
		t.status.FirstSyncDone = true
	}
}

func (t *syncTracker) failed(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.status.Progress = now
	t.status.PollingSince, t.status.PollTimeout, t.status.HandlingSince = time.Time{}, 0, time.Time{}
	if t.status.FailingSince.IsZero() {
		t.status.FailingSince = now
	}
	switch {
	case !unreachable(err):
		t.status.UnreachableSince = time.Time{}
	case t.status.UnreachableSince.IsZero():
		t.status.UnreachableSince = now
	}
	t.status.LastError = err.Error()
}

// unreachable reports whether err means the homeserver did not answer: the request
// got no response, or a reverse proxy in front of it answered that it couldn't reach
// it.
func unreachable(err error) bool {
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) {
		return false
	}
	if httpErr.Response == nil {
		return true
	}
	switch httpErr.Response.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// SyncStatus is the sync loop's progress now.
func (b *Bot) SyncStatus() SyncStatus { return b.syncState.get() }

// FirstSynced is closed once the first sync of this run has been handled.
func (b *Bot) FirstSynced() <-chan struct{} { return b.firstSync }

// UndecryptableRun is a run of messages from one device that Steward gave up
// decrypting (their room key never came), with no readable message from that device
// since.
type UndecryptableRun struct {
	Sender      id.UserID
	Device      id.DeviceID
	Count       int
	First, Last time.Time
}

// undecryptable keeps the runs of undecryptable messages by device, and counts every
// message given up on since the start.
type undecryptable struct {
	mu    sync.Mutex
	runs  map[undecryptableKey]*UndecryptableRun
	total int
}

type undecryptableKey struct {
	sender id.UserID
	device id.DeviceID
}

// failed counts evt, an encrypted message given up on, against its sender's device.
func (u *undecryptable) failed(evt *event.Event) {
	device := id.DeviceID("")
	if content, ok := evt.Content.Parsed.(*event.EncryptedEventContent); ok {
		device = content.DeviceID
	}
	key := undecryptableKey{evt.Sender, device}
	now := time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.runs == nil {
		u.runs = make(map[undecryptableKey]*UndecryptableRun)
	}
	u.total++
	for k, r := range u.runs {
		if now.Sub(r.Last) > undecryptableRunAge {
			delete(u.runs, k) // a day without news: nobody acts on it any more
		}
	}
	run := u.runs[key]
	if run == nil {
		run = &UndecryptableRun{Sender: evt.Sender, Device: device, First: now}
		u.runs[key] = run
	}
	run.Count++
	run.Last = now
}

// undecryptableRunAge is how long a run is kept after its last message.
const undecryptableRunAge = 24 * time.Hour

// decrypted ends the run of sender's device: it sent a message Steward could read.
// device is "" when the key's source is not known (a key from backup). The run of
// messages that named no device (device_id is optional in encrypted content since
// Matrix 1.3) ends with any readable message of the sender: nothing tells its device
// apart, and it would otherwise never end.
func (u *undecryptable) decrypted(sender id.UserID, device id.DeviceID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.runs, undecryptableKey{sender, device})
	delete(u.runs, undecryptableKey{sender, ""})
}

// Undecryptable returns the runs of messages Steward could not decrypt, by sender
// and device, and how many it gave up on since it started.
func (b *Bot) Undecryptable() (runs []UndecryptableRun, total int) {
	b.undecryptable.mu.Lock()
	defer b.undecryptable.mu.Unlock()
	for _, run := range b.undecryptable.runs {
		runs = append(runs, *run)
	}
	slices.SortFunc(runs, func(a, b UndecryptableRun) int {
		if c := strings.Compare(string(a.Sender), string(b.Sender)); c != 0 {
			return c
		}
		return strings.Compare(string(a.Device), string(b.Device))
	})
	return runs, b.undecryptable.total
}
