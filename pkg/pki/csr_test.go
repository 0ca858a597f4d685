package pki_test

import (
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func TestAddHosts(t *testing.T) {
	var r pki.Request
	err := r.AddHosts("my-svc.my-namespace.svc.cluster.local", "192.0.2.24", "2001:db8::1",
		"spiffe://cluster.local/ns/default/sa/web", "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.DNSNames, []string{"my-svc.my-namespace.svc.cluster.local"}) {
		t.Errorf("DNSNames = %v", r.DNSNames)
	}
	if len(r.IPAddresses) != 2 || !r.IPAddresses[0].Equal(net.ParseIP("192.0.2.24")) {
		t.Errorf("IPAddresses = %v", r.IPAddresses)
	}
	if len(r.URIs) != 1 || r.URIs[0].String() != "spiffe://cluster.local/ns/default/sa/web" {
		t.Errorf("URIs = %v", r.URIs)
	}
	if !slices.Equal(r.EmailAddresses, []string{"admin@example.com"}) {
		t.Errorf("EmailAddresses = %v", r.EmailAddresses)
	}
	if err := r.AddHosts(""); err == nil {
		t.Error("AddHosts(\"\") succeeded, want an error")
	}
}

func TestCreateCSRRoundTrip(t *testing.T) {
	for _, spec := range []pki.KeySpec{pki.RSA2048, pki.ECDSAP256, pki.ECDSAP384, pki.Ed25519Key} {
		t.Run(spec.String(), func(t *testing.T) {
			key := pkitest.Key(t, spec)
			req := &pki.Request{
				CommonName:   "system:node:my-pod",
				Organization: []string{"system:nodes"},
				Country:      []string{"KR"},
			}
			if err := req.AddHosts("my-pod.my-namespace.pod.cluster.local", "10.0.34.2"); err != nil {
				t.Fatal(err)
			}
			data, err := pki.CreateCSR(rand.Reader, req, key)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := pki.ParseCSRPEM(data)
			if err != nil {
				t.Fatal(err)
			}
			got := pki.RequestFromCSR(csr)
			if got.CommonName != req.CommonName || !slices.Equal(got.Organization, req.Organization) ||
				!slices.Equal(got.Country, req.Country) || !slices.Equal(got.DNSNames, req.DNSNames) ||
				len(got.IPAddresses) != 1 || !got.IPAddresses[0].Equal(req.IPAddresses[0]) {
				t.Errorf("request after round trip = %+v, want %+v", got, req)
			}
			if !pki.KeyMatches(csr.PublicKey, key) {
				t.Error("CSR carries another public key")
			}
		})
	}
}

func TestParseCSRPEMRejects(t *testing.T) {
	good, err := pki.CreateCSR(rand.Reader, &pki.Request{CommonName: "jane"}, pkitest.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	broken := append([]byte(nil), block.Bytes...)
	broken[len(broken)-5] ^= 0xff // inside the signature
	weak, err := os.ReadFile("testdata/rsa1024.csr")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"empty", nil, pki.ErrNoPEM},
		{"garbage", []byte("-----BEGIN NOTHING-----"), pki.ErrNoPEM},
		{"truncated", good[:len(good)-40], pki.ErrNoPEM},
		{"broken signature", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: broken}), pki.ErrBadSignature},
		{"rsa 1024", weak, pki.ErrWeakKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pki.ParseCSRPEM(tt.data); !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestParseOpenSSLCSR reads the request of the jane example:
// openssl req -new -key jane.key -subj "/CN=jane" -out jane.csr.
func TestParseOpenSSLCSR(t *testing.T) {
	data, err := os.ReadFile("testdata/openssl-jane.csr")
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSRPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if csr.Subject.CommonName != "jane" {
		t.Errorf("CN = %q, want jane", csr.Subject.CommonName)
	}
	keyPEM, err := os.ReadFile("testdata/openssl-rsa2048-pkcs8.key")
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pki.KeyMatches(csr.PublicKey, key) {
		t.Error("openssl CSR does not carry jane's key")
	}
}
