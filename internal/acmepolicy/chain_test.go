package acmepolicy_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/certplane/certplane/internal/acmepolicy"
)

type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// issue makes a certificate for cn signed by parent, or self-signed when
// parent is nil.
func issue(t *testing.T, cn string, parent *testCA, isCA bool) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	signerCert, signerKey := tmpl, crypto.Signer(key)
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert, key}
}

func TestSelectChain(t *testing.T) {
	rootA := issue(t, "Root A", nil, true)
	rootB := issue(t, "Root B", nil, true)
	interA := issue(t, "Inter", rootA, true)
	interB := issue(t, "Inter", rootB, true)
	leaf := issue(t, "www.example.com", interA, false)
	chains := [][]*x509.Certificate{
		{leaf.cert, interA.cert},             // root-most issued by Root A
		{},                                   // skipped
		{leaf.cert, nil},                     // skipped
		{leaf.cert, interB.cert},             // root-most issued by Root B
		{leaf.cert, interB.cert, rootB.cert}, // ends in self-signed Root B
		{leaf.cert, interA.cert, rootA.cert}, // ends in self-signed Root A
	}
	tests := []struct {
		preferred string
		chains    [][]*x509.Certificate
		want      int
	}{
		{"", chains, 0},
		{"Root A", chains, 0},
		{"Root B", chains, 3},
		{"Root B", chains[4:], 0},
		{"Root A", chains[1:], 4},
		{"Inter", chains, 0},
		{"root b", chains, 0},
		{"Nobody", chains, 0},
		{"Root A", nil, 0},
	}
	for _, tt := range tests {
		if got := acmepolicy.SelectChain(tt.chains, tt.preferred); got != tt.want {
			t.Errorf("SelectChain(%d chains, %q) = %d, want %d", len(tt.chains), tt.preferred, got, tt.want)
		}
	}
}
