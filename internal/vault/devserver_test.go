//go:build unix

package vault

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// devVault is a `vault server -dev` started for a test.
type devVault struct {
	addr      string // http://127.0.0.1:port, or https with -dev-tls
	rootToken string
	caPEM     []byte // the -dev-tls CA; nil over plain HTTP
	api       *vaultapi.Client
	out       *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// vaultBinary finds the Vault server: $VAULT_BIN, else bin/vault at the
// root of the module (found by walking up to go.mod).
func vaultBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("VAULT_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("VAULT_BIN: %v", err)
		}
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the package: cannot find bin/vault (set VAULT_BIN)")
		}
		dir = parent
	}
	p := filepath.Join(dir, "bin", "vault")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no Vault server at %s (make tools builds it; or set VAULT_BIN)", p)
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// startVault runs a dev server (in memory, unsealed) on a free loopback port
// with a clean environment, waits for sys/health to answer 200, and kills
// it and its process group at cleanup. With devTLS it serves HTTPS with a
// CA it writes to a temporary directory.
func startVault(t testing.TB, devTLS bool) *devVault {
	t.Helper()
	bin := vaultBinary(t)
	tmp := t.TempDir()
	root := make([]byte, 16)
	_, _ = rand.Read(root)
	v := &devVault{rootToken: "root-" + hex.EncodeToString(root), out: &syncBuffer{}}
	port := freePort(t)
	args := []string{"server", "-dev", "-dev-no-store-token",
		"-dev-root-token-id=" + v.rootToken,
		fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", port)}
	scheme := "http"
	if devTLS {
		scheme = "https"
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+tmp)
	}
	v.addr = fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"HOME=" + tmp, "PATH=/usr/bin:/bin", "TMPDIR=" + tmp}
	cmd.Dir = tmp
	cmd.Stdout, cmd.Stderr = v.out, v.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting vault: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("vault output:\n%s", tail(v.out.String(), 4000))
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	poll := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			select {
			case <-exited:
				t.Fatalf("vault exited while waiting for %s:\n%s", what, tail(v.out.String(), 4000))
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("vault: no %s in 60s:\n%s", what, tail(v.out.String(), 4000))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if devTLS {
		poll("CA file", func() bool {
			b, err := os.ReadFile(filepath.Join(tmp, "vault-ca.pem"))
			v.caPEM = b
			return err == nil && bytes.Contains(b, []byte("END CERTIFICATE"))
		})
	}
	def := vaultapi.DefaultConfig() // the test process's own VAULT_* do not matter: everything is set below
	def.Address = v.addr
	def.MaxRetries = 0
	if devTLS {
		if err := def.ConfigureTLS(&vaultapi.TLSConfig{CACertBytes: v.caPEM}); err != nil {
			t.Fatal(err)
		}
	}
	api, err := vaultapi.NewClient(def)
	if err != nil {
		t.Fatal(err)
	}
	api.SetToken(v.rootToken)
	api.ClearNamespace()
	v.api = api
	hc := &http.Client{Timeout: 2 * time.Second}
	if devTLS {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(v.caPEM)
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	poll("200 from sys/health", func() bool {
		resp, err := hc.Get(v.addr + "/v1/sys/health")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	hc.CloseIdleConnections()
	return v
}

var unsealKeyRE = regexp.MustCompile(`(?m)^Unseal Key: (\S+)$`)

// unsealKey returns the key the dev server printed. Vault prints it in its
// banner, which may come after sys/health first answers: it waits for it.
func (v *devVault) unsealKey(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := unsealKeyRE.FindStringSubmatch(v.out.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatal("vault printed no unseal key in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
