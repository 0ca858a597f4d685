package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pkiDir makes, with gencert, a CA ("prefix"-ca) with a server certificate
// for localhost and 127.0.0.1 and a client certificate.
func pkiDir(t *testing.T, dir, prefix string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, prefix+"-ca-csr.json"), `{"CN":"`+prefix+` CA"}`)
	writeFile(t, filepath.Join(dir, prefix+"-server-csr.json"), `{"CN":"server","hosts":["localhost","127.0.0.1"]}`)
	writeFile(t, filepath.Join(dir, prefix+"-client-csr.json"), `{"CN":"client","names":[{"O":"dev"}],"key":{"algo":"rsa","size":2048}}`)
	must(t, dir, "", "gencert", "-initca", prefix+"-ca-csr.json")
	ca := []string{"-ca", prefix + "-ca.pem", "-ca-key", prefix + "-ca-key.pem"}
	must(t, dir, "", append([]string{"gencert", "-profile", "server", prefix + "-server-csr.json"}, ca...)...)
	must(t, dir, "", append([]string{"gencert", "-profile", "client", prefix + "-client-csr.json"}, ca...)...)
}

func loadPair(t *testing.T, dir, prefix string) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, prefix+".pem"), filepath.Join(dir, prefix+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func loadPool(t *testing.T, dir, file string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", file)
	}
	return pool
}

// TestMTLS: a crypto/tls server and client holding gencert's certificates
// complete a mutual TLS handshake; a client certificate from another CA is
// refused, and so is a server certificate whose SANs do not match.
func TestMTLS(t *testing.T) {
	dir := t.TempDir()
	pkiDir(t, dir, "good")
	pkiDir(t, dir, "other")

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{loadPair(t, dir, "good-server")},
		ClientCAs:    loadPool(t, dir, "good-ca.pem"),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	peers := make(chan string, 8)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = conn.Close() }()
				tc := conn.(*tls.Conn)
				_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
				if err := tc.Handshake(); err != nil {
					peers <- "refused: " + err.Error()
					return
				}
				peers <- "client " + tc.ConnectionState().PeerCertificates[0].Subject.String()
				_, _ = tc.Write([]byte("ok"))
			}()
		}
	}()

	dial := func(serverName string, client tls.Certificate) error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{
			ServerName: serverName,
			RootCAs:    loadPool(t, dir, "good-ca.pem"),
			// Send the certificate even when the server's CA list does not
			// name its issuer, so that the server is the one to refuse it.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &client, nil },
			MinVersion:           tls.VersionTLS12,
		})
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 2)
		_, err = conn.Read(buf) // under TLS 1.3 a refused client certificate shows here
		return err
	}

	if err := dial("localhost", loadPair(t, dir, "good-client")); err != nil {
		t.Fatalf("mTLS with certificates from one CA: %v", err)
	}
	if got := <-peers; got != "client CN=client,O=dev" {
		t.Errorf("server saw %q, want client CN=client,O=dev", got)
	}

	if err := dial("localhost", loadPair(t, dir, "other-client")); err == nil {
		t.Error("client certificate from another CA accepted")
	}
	if got := <-peers; !strings.Contains(got, "refused") || !strings.Contains(got, "unknown authority") {
		t.Errorf("server saw %q, want the foreign client refused for an unknown authority", got)
	}

	err = dial("api.example.com", loadPair(t, dir, "good-client"))
	if err == nil || !strings.Contains(err.Error(), "not api.example.com") {
		t.Errorf("server certificate for the wrong name: error = %v, want a name mismatch", err)
	}
	<-peers
}
