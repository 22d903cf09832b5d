package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// Listener is where a test reaches Steward's HTTP listener, and the token it takes.
type Listener struct {
	// URL is the listener's base, like http://127.0.0.1:9464.
	URL   string
	Token string
}

// AddListener gives the config an HTTP listener on a free loopback port, with a new
// random token written to a file in dir.
func (c *StewardConfig) AddListener(dir string) (Listener, error) {
	port, err := FreePort()
	if err != nil {
		return Listener{}, err
	}
	raw := make([]byte, 32)
	if _, err = rand.Read(raw); err != nil {
		return Listener{}, err
	}
	token := hex.EncodeToString(raw)
	tokenFile := filepath.Join(dir, "http-token")
	if err = os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return Listener{}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c.TopLevel = append(c.TopLevel, fmt.Sprintf("http: {listen: %q, token_file: %q}", addr, tokenFile))
	return Listener{URL: "http://" + addr, Token: token}, nil
}
