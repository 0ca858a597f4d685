package pki_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// threeLevels returns leaf, intermediate and root.
func threeLevels(t *testing.T) (leaf, inter, root *x509.Certificate) {
	t.Helper()
	r := pkitest.CA(t, "root")
	ik := pkitest.Key(t)
	ic, err := r.Issue(rand.Reader, time.Now(), &pki.Template{Subject: pkix.Name{CommonName: "intermediate"}, IsCA: true}, ik.Public())
	if err != nil {
		t.Fatal(err)
	}
	ica, err := pki.NewCA(ic, ik)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := pkitest.Leaf(t, ica, "leaf", []pki.Usage{pki.UsageServerAuth}, "leaf.example")
	return l, ic, r.Certificate
}

func TestOrderChain(t *testing.T) {
	leaf, inter, root := threeLevels(t)
	other := pkitest.CA(t, "other").Certificate
	tests := []struct {
		name    string
		in      []*x509.Certificate
		want    []*x509.Certificate
		wantErr error
	}{
		{"already ordered", []*x509.Certificate{leaf, inter, root}, []*x509.Certificate{leaf, inter, root}, nil},
		{"reversed", []*x509.Certificate{root, inter, leaf}, []*x509.Certificate{leaf, inter, root}, nil},
		{"shuffled no root", []*x509.Certificate{inter, leaf}, []*x509.Certificate{leaf, inter}, nil},
		{"single", []*x509.Certificate{leaf}, []*x509.Certificate{leaf}, nil},
		{"unrelated certificate", []*x509.Certificate{leaf, inter, other}, nil, pki.ErrChain},
		{"gap", []*x509.Certificate{leaf, root}, nil, pki.ErrChain},
		{"empty", nil, nil, pki.ErrChain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pki.OrderChain(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d certificates, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("position %d: %s, want %s", i, got[i].Subject.CommonName, tt.want[i].Subject.CommonName)
				}
			}
		})
	}
}

func TestOrderChainFork(t *testing.T) {
	ca := pkitest.CA(t, "ca")
	a, _ := pkitest.Leaf(t, ca, "a", nil)
	b, _ := pkitest.Leaf(t, ca, "b", nil)
	if _, err := pki.OrderChain([]*x509.Certificate{a, b, ca.Certificate}); !errors.Is(err, pki.ErrChain) {
		t.Errorf("two leaves: error = %v, want ErrChain", err)
	}
}

func TestBundleRootAndVerify(t *testing.T) {
	leaf, inter, root := threeLevels(t)
	bundle := pki.EncodeCertificatesPEM(root, leaf, inter)
	certs, err := pki.ParseCertificatesPEM(append([]byte("text before\n"), bundle...))
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 3 {
		t.Fatalf("parsed %d certificates, want 3", len(certs))
	}
	chain, err := pki.OrderChain(certs)
	if err != nil {
		t.Fatal(err)
	}
	if got := pki.Root(chain); got == nil || got.Subject.CommonName != "root" {
		t.Errorf("Root = %v, want root", got)
	}
	if got := pki.Root(chain[:2]); got != nil {
		t.Errorf("Root of a chain without its root = %v, want nil", got.Subject)
	}
	if err := pki.VerifyChain(chain, nil, time.Now(), x509.ExtKeyUsageServerAuth); err != nil {
		t.Errorf("VerifyChain: %v", err)
	}
	if err := pki.VerifyChain(chain, nil, time.Now(), x509.ExtKeyUsageClientAuth); err == nil {
		t.Error("a server certificate verified for client auth")
	}
	if err := pki.VerifyChain(chain, nil, time.Now().Add(2*24*time.Hour)); !errors.Is(err, pki.ErrChain) {
		t.Errorf("expired leaf: error = %v, want ErrChain", err)
	}
	other := pkitest.CA(t, "other").Certificate
	if err := pki.VerifyChain(chain[:2], []*x509.Certificate{other}, time.Now()); err == nil {
		t.Error("chain verified against a foreign root")
	}
}

func TestParseCertificatesPEMRejects(t *testing.T) {
	good := pki.EncodeCertificatesPEM(pkitest.CA(t, "x").Certificate)
	corrupt := strings.Replace(string(good), "MII", "MIX", 1)
	for name, data := range map[string]string{"empty": "", "garbage": "garbage", "truncated": string(good[:len(good)/2]), "corrupt DER": corrupt} {
		if _, err := pki.ParseCertificatesPEM([]byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestKeyMismatchDetected(t *testing.T) {
	ca := pkitest.CA(t, "ca")
	leaf, key := pkitest.Leaf(t, ca, "leaf", nil)
	if !pki.KeyMatches(leaf.PublicKey, key) {
		t.Error("a certificate's own key does not match it")
	}
	if pki.KeyMatches(leaf.PublicKey, pkitest.Key(t)) {
		t.Error("a foreign key matches")
	}
}

func TestFingerprintMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	c := pkitest.CA(t, "fp").Certificate
	cmd := exec.Command("openssl", "x509", "-noout", "-fingerprint", "-sha256")
	cmd.Stdin = strings.NewReader(string(pki.EncodeCertificatesPEM(c)))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	// "sha256 Fingerprint=AB:CD:..." (the prefix's case varies by version)
	got := strings.TrimSpace(string(out))
	got = got[strings.IndexByte(got, '=')+1:]
	if got != pki.Fingerprint(c) {
		t.Errorf("Fingerprint = %s, openssl says %s", pki.Fingerprint(c), got)
	}
}
