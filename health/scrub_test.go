package health

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// A request to the heartbeat or fallback URL that fails says so without the URL's
// secrets, wherever the URL carries them: its path (a Healthchecks UUID), its query
// (Gotify's token), its user name (a token given as ntfy's user), and written in
// characters net/http spells another way in its error than the configuration does.
func TestFailedRequestsKeepTheURLsSecrets(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, tc := range []struct{ url, secret string }{
		{"http://" + addr + "/ping/0e9a8f2c-secret", "0e9a8f2c-secret"},
		{"http://" + addr + "/message?token=AbCsecret", "AbCsecret"},
		{"http://tk_secretuser@" + addr + "/alerts", "tk_secretuser"},
		{"http://" + addr + "/ping/sécret-ü", "cret"},
		{"http://" + addr + "/ping/a b secret", "secret"},
	} {
		hb := &Heartbeat{URL: tc.url, Every: 1e9, Client: &http.Client{}}
		err := hb.beat(t.Context())
		if err == nil {
			t.Fatalf("%s: no error from a closed port", tc.url)
		}
		if strings.Contains(err.Error(), tc.secret) {
			t.Errorf("the error shows the secret %q: %v", tc.secret, err)
		}
		if !strings.Contains(err.Error(), addr) {
			t.Errorf("the error does not say where: %v", err)
		}
	}
}
