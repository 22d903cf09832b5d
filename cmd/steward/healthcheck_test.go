package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// steward healthcheck asks http.listen's /readyz: 0 when ready, 1 when not ready,
// not answering, or without a listener to ask.
func TestHealthcheck(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"ready":false,"sync":{"ok":false,"problem":"no successful sync for 2 minutes"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"ready":true}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeFile(t, dir, "password", "hunter2-very-secret\n")
	writeFile(t, dir, "token", "0123456789abcdef0123456789abcdef\n")
	withListener := func(addr string) string {
		return writeFile(t, dir, "steward.yaml", validConfig+"http:\n  listen: "+addr+"\n  token_file: token\n")
	}
	cfg := withListener(srv.Listener.Addr().String())
	if code, out, errOut := runCLI("healthcheck", "--config", cfg); code != 0 || !strings.Contains(out, `"ready":true`) {
		t.Errorf("ready: exit %d, %q %q", code, out, errOut)
	}
	ready = false
	if code, out, _ := runCLI("healthcheck", "--config", cfg); code != 1 || !strings.Contains(out, "no successful sync") {
		t.Errorf("not ready: exit %d, %q", code, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	if code, _, errOut := runCLI("healthcheck", "--config", withListener(closed)); code != 1 || !strings.Contains(errOut, "does not answer") {
		t.Errorf("nothing listening: exit %d, %q", code, errOut)
	}
	noListener := writeFile(t, dir, "plain.yaml", validConfig)
	if code, _, errOut := runCLI("healthcheck", "--config", noListener); code != 1 || !strings.Contains(errOut, "http.listen is not set") {
		t.Errorf("no listener: exit %d, %q", code, errOut)
	}
}
