package bot

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// A sync that got no answer, or a proxy's "can't reach it", is the homeserver
// unreachable; any other answer, even an error, is a homeserver that answers.
func TestUnreachableTellsNoAnswerFromAnErrorAnswer(t *testing.T) {
	answering := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"something broke"}`))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	for _, tc := range []struct {
		name, url string
		want      bool
	}{
		{"connection refused", gone.URL, true},
		{"502 from a proxy", answering(http.StatusBadGateway), true},
		{"503", answering(http.StatusServiceUnavailable), true},
		{"500 from the homeserver", answering(http.StatusInternalServerError), false},
		{"403", answering(http.StatusForbidden), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, err := mautrix.NewClient(tc.url, "@steward:example.org", "token")
			if err != nil {
				t.Fatal(err)
			}
			client.DefaultHTTPRetries = 0
			_, err = client.FullSyncRequest(t.Context(), mautrix.ReqSync{})
			if err == nil {
				t.Fatal("the sync succeeded")
			}
			if got := unreachable(err); got != tc.want {
				t.Errorf("unreachable(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
	if unreachable(errors.New("an event of the batch could not be recorded")) {
		t.Error("a failure to record a batch counts as the homeserver unreachable")
	}
}

// The status follows the loop: failures since when (and whether unreachable), cleared
// by a success; a long poll waits only while the syncs succeed.
func TestSyncStatusFollowsTheLoop(t *testing.T) {
	var tr syncTracker
	if s := tr.get(); s.FirstSyncDone || !s.LastSuccess.IsZero() {
		t.Fatalf("status before any sync: %+v", s)
	}
	down := mautrix.HTTPError{Message: "request error", WrappedError: errors.New("connection refused")}
	tr.polling(0)
	tr.failed(down)
	first := tr.get()
	if first.FailingSince.IsZero() || first.UnreachableSince.IsZero() || first.LastError == "" {
		t.Fatalf("after a failure with no answer: %+v", first)
	}
	tr.polling(30e9)
	if s := tr.get(); !s.PollingSince.IsZero() {
		t.Errorf("a request while failing counts as a long poll waiting: %+v", s)
	}
	answered := mautrix.HTTPError{Response: &http.Response{StatusCode: 500}, Message: "internal"}
	tr.failed(answered)
	if s := tr.get(); s.FailingSince != first.FailingSince || !s.UnreachableSince.IsZero() {
		t.Errorf("after an answer that was an error: %+v (failing since %s before)", s, first.FailingSince)
	}
	tr.succeeded(true)
	ok := tr.get()
	if !ok.FirstSyncDone || ok.LastSuccess.IsZero() || !ok.FailingSince.IsZero() || ok.LastError != "" {
		t.Errorf("after a success: %+v", ok)
	}
	tr.polling(30e9)
	if s := tr.get(); s.PollingSince.IsZero() || s.PollTimeout == 0 {
		t.Errorf("a long poll after a success is not waiting: %+v", s)
	}
	tr.answered()
	if s := tr.get(); !s.PollingSince.IsZero() || s.HandlingSince.IsZero() {
		t.Errorf("once answered, the poll still waits or no batch is handled: %+v", s)
	}
	tr.succeeded(false)
	if s := tr.get(); !s.HandlingSince.IsZero() {
		t.Errorf("a batch is still handled after its success: %+v", s)
	}
}

// A run of undecryptable messages is counted by device, and ends when that device's
// message is read; another device of the same sender keeps its own.
func TestUndecryptableRunsByDevice(t *testing.T) {
	b := &Bot{}
	u := &b.undecryptable
	msg := func(sender id.UserID, device id.DeviceID) *event.Event {
		return &event.Event{Sender: sender, Content: event.Content{Parsed: &event.EncryptedEventContent{DeviceID: device}}}
	}
	alice := id.UserID("@alice:example.org")
	for range 3 {
		u.failed(msg(alice, "PHONE"))
	}
	u.failed(msg(alice, "LAPTOP"))
	runs, total := b.Undecryptable()
	if total != 4 || len(runs) != 2 || runs[0].Device != "LAPTOP" || runs[0].Count != 1 || runs[1].Device != "PHONE" || runs[1].Count != 3 {
		t.Fatalf("runs %+v, total %d", runs, total)
	}
	b.undecryptable.decrypted(alice, "PHONE")
	runs, total = b.Undecryptable()
	if total != 4 || len(runs) != 1 || runs[0].Device != "LAPTOP" {
		t.Errorf("after PHONE's message was read: runs %+v, total %d", runs, total)
	}
	// Messages that named no device end with any readable message of their sender,
	// the key's source known or not; another device's run stays.
	for range 3 {
		u.failed(msg(alice, ""))
	}
	b.undecryptable.decrypted(alice, "")
	if runs, _ = b.Undecryptable(); len(runs) != 1 || runs[0].Device != "LAPTOP" {
		t.Errorf("after a readable message of a sender whose failed ones named no device: runs %+v", runs)
	}
}
