//go:build cgo && !nopkcs11

package pkcs11

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// Run with -benchtime 1000x for 1,000 signatures each:
//
//	go test -run '^$' -bench 'Sign' -benchtime 1000x ./internal/pkcs11/
//
// BenchmarkSign{HSM,File}P256 issue leaf certificates through pkg/pki with
// a P-256 CA key in SoftHSM and in a PEM file. BenchmarkBareSoftHSMSignP256
// is the floor: crypto11's signer signing a digest, the module's own
// signing time. BenchmarkSignerP256 is the same through this package's
// Signer, so the two differ by this package's own cost.

func BenchmarkSignHSMP256(b *testing.B) {
	needHSM(b)
	benchIssue(b, openSigner(b, keyURI(mainToken, "object=bench-p256"), pki.ECDSAP256))
}

func BenchmarkSignFileP256(b *testing.B) {
	key, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		b.Fatal(err)
	}
	data, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		b.Fatal(err)
	}
	name := filepath.Join(b.TempDir(), "ca.key")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		b.Fatal(err)
	}
	if data, err = os.ReadFile(name); err != nil {
		b.Fatal(err)
	}
	fileKey, err := pki.ParsePrivateKeyPEM(data)
	if err != nil {
		b.Fatal(err)
	}
	benchIssue(b, fileKey)
}

func BenchmarkBareSoftHSMSignP256(b *testing.B) {
	needHSM(b)
	s := openSigner(b, keyURI(mainToken, "object=bench-p256"), pki.ECDSAP256)
	benchSign(b, s.bound.Load().key)
}

func BenchmarkSignerP256(b *testing.B) {
	needHSM(b)
	benchSign(b, openSigner(b, keyURI(mainToken, "object=bench-p256"), pki.ECDSAP256))
}

// benchIssue issues one leaf certificate per iteration from a CA with key.
func benchIssue(b *testing.B, key crypto.Signer) {
	now := time.Now()
	caCert, err := pki.SelfSign(rand.Reader, now, &pki.Template{Subject: pkix.Name{CommonName: "bench CA"}, IsCA: true}, key)
	if err != nil {
		b.Fatal(err)
	}
	ca, err := pki.NewCA(caCert, key)
	if err != nil {
		b.Fatal(err)
	}
	leafKey, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &pki.Template{
		Subject:  pkix.Name{CommonName: "bench"},
		DNSNames: []string{"bench.example"},
		Usages:   []pki.Usage{pki.UsageDigitalSignature, pki.UsageServerAuth},
		Duration: 24 * time.Hour,
	}
	for b.Loop() {
		if _, err := ca.Issue(rand.Reader, now, tmpl, leafKey.Public()); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSign signs one SHA-256 digest per iteration.
func benchSign(b *testing.B, key crypto.Signer) {
	digest := sha256.Sum256([]byte("certplane"))
	for b.Loop() {
		if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
