package pki_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func TestInspectCertificate(t *testing.T) {
	ca := pkitest.CAAt(t, "inspect-ca", now, 10*24*time.Hour)
	key := pkitest.Key(t, pki.ECDSAP384)
	cert, err := ca.Issue(rand.Reader, now, &pki.Template{
		Subject:  pkix.Name{CommonName: "web", Organization: []string{"acme"}},
		DNSNames: []string{"web.example.com"},
		Usages:   []pki.Usage{"digital signature", "server auth"},
		Duration: 48 * time.Hour,
	}, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	r, err := pki.Inspect(pki.EncodeCertificatesPEM(cert, ca.Certificate), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Certificates) != 2 {
		t.Fatalf("got %d certificates, want 2", len(r.Certificates))
	}
	c := r.Certificates[0]
	if c.CommonName != "web" || c.Issuer != "CN=inspect-ca" || c.KeyAlgorithm != "ECDSA" || c.KeySize != 384 ||
		c.IsCA || c.Expired || c.SecondsLeft != 47*3600 || !slices.Equal(c.DNSNames, []string{"web.example.com"}) ||
		!slices.Equal(c.Usages, []pki.Usage{"digital signature", "server auth"}) || c.SHA256Fingerprint != pki.Fingerprint(cert) {
		t.Errorf("leaf described as %+v", c)
	}
	if !r.Certificates[1].IsCA || !r.Certificates[1].SelfSigned {
		t.Errorf("CA described as %+v", r.Certificates[1])
	}
	if r.Chain == nil || !r.Chain.Valid || !r.Chain.Ordered || r.Chain.Root != "CN=inspect-ca" {
		t.Errorf("chain = %+v, want valid, ordered, rooted at the CA", r.Chain)
	}

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Certificate 1 of 2", "CN=web,O=acme", "web.example.com", "digital signature, server auth", "ECDSA 384", "1d 23h left", "valid, in order"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	expired, err := pki.Inspect(pki.EncodeCertificatesPEM(cert), now.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !expired.Certificates[0].Expired {
		t.Error("expired certificate not marked expired")
	}
}

func TestInspectOutOfOrderBundle(t *testing.T) {
	leaf, inter, root := threeLevels(t)
	r, err := pki.Inspect(pki.EncodeCertificatesPEM(root, inter, leaf), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Chain == nil || !r.Chain.Valid || r.Chain.Ordered {
		t.Errorf("chain = %+v, want valid but not ordered", r.Chain)
	}
	r, err = pki.Inspect(pki.EncodeCertificatesPEM(leaf, root), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Chain == nil || r.Chain.Valid || r.Chain.Error == "" {
		t.Errorf("chain with a gap = %+v, want invalid with an error", r.Chain)
	}
}

func TestInspectKeysNeverShowsKeyMaterial(t *testing.T) {
	key := pkitest.Key(t, pki.RSA2048)
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pki.Inspect(keyPEM, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Keys) != 1 || !r.Keys[0].Private || r.Keys[0].Algorithm != "RSA" || r.Keys[0].Size != 2048 {
		t.Fatalf("keys = %+v", r.Keys)
	}
	var text bytes.Buffer
	_ = r.WriteText(&text)
	js, _ := json.Marshal(r)
	block, _ := pem.Decode(keyPEM)
	body := keyPEM[bytes.Index(keyPEM, []byte("\n"))+1:][:40] // a slice of the base64 body
	for _, out := range [][]byte{text.Bytes(), js} {
		if bytes.Contains(out, body) || bytes.Contains(out, block.Bytes[:16]) {
			t.Fatalf("output contains key material:\n%s", out)
		}
	}
}

func TestInspectRequestAndErrors(t *testing.T) {
	csrPEM, err := pki.CreateCSR(rand.Reader, &pki.Request{CommonName: "jane", Organization: []string{"dev"}}, pkitest.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := pki.Inspect(csrPEM, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Requests) != 1 || r.Requests[0].CommonName != "jane" || !r.Requests[0].SignatureValid {
		t.Errorf("requests = %+v", r.Requests)
	}
	block, _ := pem.Decode(csrPEM)
	if r, err := pki.Inspect(block.Bytes, now); err != nil || len(r.Requests) != 1 {
		t.Errorf("DER request: %v, %+v", err, r)
	}
	for name, data := range map[string][]byte{"empty": nil, "garbage": []byte("garbage"), "unknown block": pem.EncodeToMemory(&pem.Block{Type: "X"})} {
		if _, err := pki.Inspect(data, now); !errors.Is(err, pki.ErrNoPEM) {
			t.Errorf("%s: error = %v, want ErrNoPEM", name, err)
		}
	}
}

func TestTimeLeft(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{364*24*time.Hour + 23*time.Hour + 59*time.Minute, "364d 23h left"},
		{5*time.Hour + 3*time.Minute, "5h 3m left"},
		{90 * time.Second, "1m 30s left"},
		{-(49 * time.Hour), "expired 2d 1h ago"},
	}
	for _, tt := range tests {
		if got := pki.TimeLeft(tt.d); got != tt.want {
			t.Errorf("TimeLeft(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
