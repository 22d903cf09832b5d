package alertmanager

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-bot/steward/state"
)

// fakeAlertmanager is API v2's silences and alerts, as Alertmanager 0.25 answers them.
type fakeAlertmanager struct {
	mu       sync.Mutex
	silences map[string]map[string]any
	expired  map[string]bool
	// active are the fingerprints GET /api/v2/alerts lists.
	active []string
	// auth is the last Authorization header.
	auth string
}

func newFakeAlertmanager(t *testing.T) (*fakeAlertmanager, *httptest.Server) {
	f := &fakeAlertmanager{silences: map[string]map[string]any{}, expired: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /prefix/api/v2/silences", func(w http.ResponseWriter, r *http.Request) {
		var s map[string]any
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.auth = r.Header.Get("Authorization")
		silenceID := fmt.Sprintf("5b7e0000-0000-4000-8000-%012d", len(f.silences)+1)
		f.silences[silenceID] = s
		_ = json.NewEncoder(w).Encode(map[string]string{"silenceID": silenceID})
	})
	mux.HandleFunc("DELETE /prefix/api/v2/silence/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		silenceID := r.PathValue("id")
		switch {
		case f.silences[silenceID] == nil:
			http.Error(w, `"silence not found"`, http.StatusNotFound)
		case f.expired[silenceID]:
			http.Error(w, `"silence `+silenceID+` already expired"`, http.StatusInternalServerError)
		default:
			f.expired[silenceID] = true
		}
	})
	mux.HandleFunc("GET /prefix/api/v2/alerts", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var alerts []map[string]any
		for _, fp := range f.active {
			alerts = append(alerts, map[string]any{"fingerprint": fp, "labels": map[string]string{"alertname": "X"}, "status": map[string]any{"state": "suppressed"}})
		}
		_ = json.NewEncoder(w).Encode(alerts)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestClientSilencesAnAlert(t *testing.T) {
	fake, srv := newFakeAlertmanager(t)
	c, err := NewClient(strings.Replace(srv.URL, "http://", "http://steward:s3cret@", 1) + "/prefix")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	s := &state.Silence{ID: 7, Matcher: "am:*", Reason: "replacing the disk", CreatedBy: "@alice:example.org", EndsAt: now.Add(2 * time.Hour)}
	a := &state.Alert{ID: 3, Check: Source, Fingerprint: "am:3f2a9c1b0d4e5f67", Labels: map[string]string{"severity": "critical", "alertname": "DiskFull", "instance": "web1:9100", "empty": ""}}
	silenceID, err := c.Silence(t.Context(), s, a)
	if err != nil {
		t.Fatal(err)
	}
	got := fake.silences[silenceID]
	if got == nil {
		t.Fatalf("the silence %q is not in Alertmanager", silenceID)
	}
	if got["createdBy"] != "@alice:example.org" || got["comment"] != "replacing the disk (Steward silence #7)" ||
		got["startsAt"] != "2025-06-01T12:00:00Z" || got["endsAt"] != "2025-06-01T14:00:00Z" {
		t.Errorf("silence = %v", got)
	}
	matchers, _ := json.Marshal(got["matchers"])
	want := `[{"isEqual":true,"isRegex":false,"name":"alertname","value":"DiskFull"},{"isEqual":true,"isRegex":false,"name":"instance","value":"web1:9100"},{"isEqual":true,"isRegex":false,"name":"severity","value":"critical"}]`
	if string(matchers) != want {
		t.Errorf("matchers = %s\nwant       %s", matchers, want)
	}
	if fake.auth != "Basic c3Rld2FyZDpzM2NyZXQ=" {
		t.Errorf("the URL's credentials were sent as %q", fake.auth)
	}

	if err = c.Expire(t.Context(), silenceID); err != nil || !fake.expired[silenceID] {
		t.Fatalf("Expire: %v (expired: %v)", err, fake.expired[silenceID])
	}
	// Ended already, or gone: ended.
	if err = c.Expire(t.Context(), silenceID); err != nil {
		t.Errorf("Expire of an expired silence: %v", err)
	}
	if err = c.Expire(t.Context(), "5b7e0000-0000-4000-8000-999999999999"); err != nil {
		t.Errorf("Expire of an unknown silence: %v", err)
	}

	if _, err = c.Silence(t.Context(), s, &state.Alert{ID: 4, Check: Source}); err == nil {
		t.Error("a silence without matchers was sent; it would silence everything or be refused")
	}
}

func TestClientTellsWhatResolved(t *testing.T) {
	fake, srv := newFakeAlertmanager(t)
	c, err := NewClient(srv.URL + "/prefix/")
	if err != nil {
		t.Fatal(err)
	}
	fake.active = []string{"00000000000000aa"}
	alerts := []*state.Alert{
		{Check: Source, Fingerprint: "am:00000000000000aa"},
		{Check: Source, Fingerprint: "am:00000000000000bb"},
		{Check: "disk", Fingerprint: "disk:/var"},
	}
	resolved, err := c.Resolved(t.Context(), alerts)
	if err != nil {
		t.Fatal(err)
	}
	if len(resolved) != 1 || resolved[0] != "am:00000000000000bb" {
		t.Errorf("Resolved = %q, want the one Alertmanager no longer has", resolved)
	}
}

func TestClientFailsPlainly(t *testing.T) {
	_, srv := newFakeAlertmanager(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := strings.Replace(down.URL, "http://", "http://steward:s3cret@", 1)
	down.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "silence invalid: at least one matcher must not match the empty string", http.StatusBadRequest)
	}))
	t.Cleanup(broken.Close)
	s := &state.Silence{ID: 1, Reason: "r", CreatedBy: "@alice:example.org", EndsAt: time.Now().Add(time.Hour)}
	a := &state.Alert{ID: 1, Check: Source, Labels: map[string]string{"alertname": "X"}}
	for name, raw := range map[string]string{"unreachable": downURL, "refusing": broken.URL, "no such path": srv.URL + "/elsewhere"} {
		c, err := NewClient(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err = c.Silence(t.Context(), s, a); err == nil {
			t.Errorf("%s: Silence succeeded", name)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
		if err = c.Expire(t.Context(), "x"); name != "no such path" && err == nil {
			t.Errorf("%s: Expire succeeded", name)
		}
		if _, err = c.Resolved(t.Context(), nil); err == nil {
			t.Errorf("%s: Resolved succeeded", name)
		}
	}
	for _, raw := range []string{"", "alertmanager:9093", "ftp://am.example.org", "http://"} {
		if _, err := NewClient(raw); err == nil {
			t.Errorf("NewClient(%q) took it", raw)
		}
	}
}

// A token in alertmanager.url, as its user name or in its query, is shown by no
// error: they are logged.
func TestClientErrorsShowNoToken(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(down.URL, "http://")
	down.Close()
	s := &state.Silence{ID: 1, Reason: "r", CreatedBy: "@alice:example.org", EndsAt: time.Now().Add(time.Hour)}
	a := &state.Alert{ID: 1, Check: Source, Labels: map[string]string{"alertname": "X"}}
	for _, raw := range []string{"http://t0ken-t0ken@" + host + "/", "http://" + host + "/?token=t0ken-t0ken", "http://steward:t0ken-t0ken@" + host} {
		c, err := NewClient(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, silenceErr := c.Silence(t.Context(), s, a)
		_, resolvedErr := c.Resolved(t.Context(), nil)
		for _, err := range []error{silenceErr, c.Expire(t.Context(), "x"), resolvedErr} {
			if err == nil {
				t.Fatalf("%s: a request to a closed port succeeded", raw)
			}
			if strings.Contains(err.Error(), "t0ken") {
				t.Errorf("the error shows the token: %v", err)
			}
			if !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("the error does not say why: %v", err)
			}
		}
	}
}
