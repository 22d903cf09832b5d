package testbed

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DockerSocket is the local engine's socket, which the stand-in remote engines below
// lead to.
const DockerSocket = "/var/run/docker.sock"

// TLSEngine serves the local Docker Engine over TCP with mutual TLS, as a dockerd
// started with --tlsverify would on another machine: only a client with a certificate
// from its CA gets through. It stands in for a tcp:// host.
type TLSEngine struct {
	// Address is tcp://127.0.0.1:PORT.
	Address string
	// CA, Cert and Key are the client's files: the CA that signed the engine's
	// certificate, and a client certificate and key it accepts.
	CA, Cert, Key string

	ln       net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	accepted int
}

// StartTLSEngine writes a CA, a server and a client certificate to dir and starts
// the engine's TLS front on a free loopback port.
func StartTLSEngine(dir string) (*TLSEngine, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caKey, caCert, err := newCert("steward-e2e CA", nil, nil, true)
	if err != nil {
		return nil, err
	}
	serverKey, serverCert, err := newCert("127.0.0.1", caKey, caCert, false)
	if err != nil {
		return nil, err
	}
	clientKey, clientCert, err := newCert("steward", caKey, caCert, false)
	if err != nil {
		return nil, err
	}
	e := &TLSEngine{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	for path, block := range map[string]*pem.Block{
		e.CA: {Type: "CERTIFICATE", Bytes: caCert.Raw}, e.Cert: {Type: "CERTIFICATE", Bytes: clientCert.Raw},
	} {
		if err = os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, err
		}
	}
	der, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		return nil, err
	}
	if err = os.WriteFile(e.Key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12,
	}
	if e.ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg); err != nil {
		return nil, err
	}
	e.Address = "tcp://" + e.ln.Addr().String()
	e.wg.Add(1)
	go e.serve()
	return e, nil
}

func (e *TLSEngine) serve() {
	defer e.wg.Done()
	for {
		conn, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer conn.Close()
			// The handshake decides: a client without a good certificate ends here.
			if err := conn.(*tls.Conn).Handshake(); err != nil {
				return
			}
			e.mu.Lock()
			e.accepted++
			e.mu.Unlock()
			engine, err := net.Dial("unix", DockerSocket)
			if err != nil {
				return
			}
			defer engine.Close()
			splice(conn, engine)
		}()
	}
}

// Accepted counts the connections that passed the TLS handshake.
func (e *TLSEngine) Accepted() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.accepted
}

// Stop closes the listener; connections in use end with their clients.
func (e *TLSEngine) Stop() { _ = e.ln.Close() }

// splice copies both ways until either side closes.
func splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(a, b); done <- struct{}{} }()
	go func() { _, _ = io.Copy(b, a); done <- struct{}{} }()
	<-done
}

// newCert makes an ECDSA key and a certificate for name, signed by parent (self-signed
// when parent is nil).
func newCert(name string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, isCA bool) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// SSHEngine is an sshd on loopback that lets one test key log in as the user running
// the tests, where "docker system dial-stdio" reaches the local engine: it stands in
// for an ssh:// host. It needs Debian's openssh-server (.ci/run installs it).
type SSHEngine struct {
	// Address is ssh://USER@127.0.0.1:PORT.
	Address string
	// Identity is the client's private key; KnownHosts holds the server's key.
	Identity, KnownHosts string

	cmd    *exec.Cmd
	exited chan struct{}
}

// SSHD is where Debian's openssh-server puts the daemon.
const SSHD = "/usr/sbin/sshd"

// StartSSHEngine makes the keys and config in dir and starts sshd on a free port.
func StartSSHEngine(ctx context.Context, dir string) (*SSHEngine, error) {
	if _, err := os.Stat(SSHD); err != nil {
		return nil, fmt.Errorf("sshd is not installed (apt-get install openssh-server; .ci/run does): %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// sshd wants its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	hostKey, clientKey := filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "client_ed25519")
	for _, key := range []string{hostKey, clientKey} {
		if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	me, err := user.Current()
	if err != nil {
		return nil, err
	}
	clientPub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		return nil, err
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return nil, err
	}
	e := &SSHEngine{
		Address:  fmt.Sprintf("ssh://%s@127.0.0.1:%d", me.Username, port),
		Identity: clientKey, KnownHosts: filepath.Join(dir, "known_hosts"), exited: make(chan struct{}),
	}
	files := map[string]string{
		filepath.Join(dir, "authorized_keys"): string(clientPub),
		e.KnownHosts:                          fmt.Sprintf("[127.0.0.1]:%d %s", port, hostPub),
		filepath.Join(dir, "sshd_config"): strings.Join([]string{
			fmt.Sprintf("Port %d", port), "ListenAddress 127.0.0.1", "HostKey " + hostKey,
			"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
			"PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
			"UsePAM no", "StrictModes no", "PidFile none",
		}, "\n") + "\n",
	}
	for path, content := range files {
		if err = os.WriteFile(path, []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	logFile, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	e.cmd = exec.Command(SSHD, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	e.cmd.Stdout, e.cmd.Stderr = logFile, logFile
	if err = e.cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	go func() {
		_ = e.cmd.Wait()
		_ = logFile.Close()
		close(e.exited)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = conn.Close()
			return e, nil
		}
		select {
		case <-e.exited:
			return nil, errors.New("sshd exited at start; see sshd.log in " + dir)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.Stop()
			return nil, fmt.Errorf("sshd did not listen on port %d", port)
		}
	}
}

// Stop ends sshd.
func (e *SSHEngine) Stop() {
	if e.cmd.Process != nil {
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
}
