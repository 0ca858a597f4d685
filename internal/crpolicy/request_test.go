package crpolicy_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// TestRequestError: a spec.request certplane cannot read is described in
// one sentence, never with the ASN.1 parser's internals.
func TestRequestError(t *testing.T) {
	key, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	good, err := pki.CreateCSR(rand.Reader, &pki.Request{CommonName: "app"}, key)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	forged := *block
	forged.Bytes = append([]byte(nil), block.Bytes...)
	forged.Bytes[len(forged.Bytes)-1] ^= 0xff
	malformed := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: block.Bytes[:len(block.Bytes)/2]})
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, weak)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		request []byte
		want    string
	}{
		{"not PEM", []byte("not a certificate request"), "it is not PEM-encoded: want a certificate request in PEM"},
		{"a key", keyPEM, "it holds a private key, not a certificate request"},
		{"truncated PEM", good[:len(good)/2], "it holds a damaged or truncated PEM block, not a readable certificate request"},
		{"malformed DER", malformed, "it is not a valid certificate request: its DER does not parse"},
		{"forged signature", pem.EncodeToMemory(&forged), "its signature does not verify, so the requester has not shown that it holds the private key"},
		{"weak key", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: weakDER}), "its key is refused: RSA key too short: 1024 bits, need at least 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pki.ParseCSRPEM(tt.request)
			if err == nil {
				t.Fatal("the request parses")
			}
			got := crpolicy.RequestError(tt.request, err)
			if want := crpolicy.MessageBadRequest + tt.want; got != want {
				t.Errorf("message %q, want %q", got, want)
			}
		})
	}
	if got := crpolicy.KeyError("self-key", []byte("garbage"), errors.New("pki: no PEM data found")); got !=
		`Failed to get key "self-key" referenced in annotation "cert-manager.io/private-key-secret-name": tls.key cannot be read: no PEM data found` {
		t.Errorf("KeyError = %q", got)
	}
	_, err = pki.ParsePrivateKeyPEM([]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	if got := crpolicy.KeyError("self-key", nil, err); strings.Contains(got, "asn1") || !strings.Contains(got, "tls.key is not a valid private key") {
		t.Errorf("KeyError of a malformed key = %q", got)
	}
}
