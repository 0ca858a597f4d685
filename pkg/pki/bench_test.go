package pki_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

var benchSpecs = []pki.KeySpec{pki.RSA2048, pki.RSA3072, pki.ECDSAP256, pki.ECDSAP384, pki.Ed25519Key}

func BenchmarkGenerateKey(b *testing.B) {
	for _, spec := range benchSpecs {
		b.Run(spec.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := pki.GenerateKey(rand.Reader, spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseCSR(b *testing.B) {
	for _, spec := range benchSpecs {
		b.Run(spec.String(), func(b *testing.B) {
			key := pkitestKey(b, spec)
			data, err := pki.CreateCSR(rand.Reader, &pki.Request{CommonName: "bench", DNSNames: []string{"bench.example"}}, key)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := pki.ParseCSRPEM(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIssue signs a leaf with a CA of the same algorithm through
// pki.CA.Issue; BenchmarkCreateCertificate does the same signature with a
// bare x509.CreateCertificate, the floor Issue is measured against.
func BenchmarkIssue(b *testing.B) {
	for _, spec := range benchSpecs {
		b.Run(spec.String(), func(b *testing.B) {
			ca, leafPub := benchCA(b, spec)
			tmpl := &pki.Template{
				Subject:  pkix.Name{CommonName: "bench"},
				DNSNames: []string{"bench.example"},
				Usages:   []pki.Usage{pki.UsageDigitalSignature, pki.UsageServerAuth},
				Duration: 24 * time.Hour,
			}
			now := time.Now()
			for b.Loop() {
				if _, err := ca.Issue(rand.Reader, now, tmpl, leafPub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCreateCertificate(b *testing.B) {
	for _, spec := range benchSpecs {
		b.Run(spec.String(), func(b *testing.B) {
			ca, leafPub := benchCA(b, spec)
			now := time.Now()
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(1),
				Subject:      pkix.Name{CommonName: "bench"},
				DNSNames:     []string{"bench.example"},
				NotBefore:    now.Add(-5 * time.Minute),
				NotAfter:     now.Add(24 * time.Hour),
				KeyUsage:     x509.KeyUsageDigitalSignature,
				ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}
			for b.Loop() {
				if _, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate, leafPub, ca.Key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchCA(b *testing.B, spec pki.KeySpec) (*pki.CA, crypto.PublicKey) {
	key := pkitestKey(b, spec)
	cert, err := pki.SelfSign(rand.Reader, time.Now(), &pki.Template{Subject: pkix.Name{CommonName: "bench-ca"}, IsCA: true}, key)
	if err != nil {
		b.Fatal(err)
	}
	ca, err := pki.NewCA(cert, key)
	if err != nil {
		b.Fatal(err)
	}
	return ca, pkitestKey(b, spec).Public()
}

func pkitestKey(b *testing.B, spec pki.KeySpec) crypto.Signer {
	k, err := pki.GenerateKey(rand.Reader, spec)
	if err != nil {
		b.Fatal(err)
	}
	return k
}
