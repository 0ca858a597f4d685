// Package pkitest makes throwaway keys and CAs for tests of code that uses
// package pki.
package pkitest

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// Key returns a new ECDSA P-256 key, or the key spec's key when given.
func Key(t testing.TB, spec ...pki.KeySpec) crypto.Signer {
	t.Helper()
	s := pki.ECDSAP256
	if len(spec) > 0 {
		s = spec[0]
	}
	k, err := pki.GenerateKey(rand.Reader, s)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	return k
}

// CA returns a self-signed CA named cn, valid for a year from now.
func CA(t testing.TB, cn string) *pki.CA {
	t.Helper()
	return CAAt(t, cn, time.Now(), 365*24*time.Hour)
}

// CAAt returns a self-signed CA named cn, valid for d from now.
func CAAt(t testing.TB, cn string, now time.Time, d time.Duration) *pki.CA {
	t.Helper()
	key := Key(t)
	cert, err := pki.SelfSign(rand.Reader, now, &pki.Template{
		Subject:  pkix.Name{CommonName: cn},
		IsCA:     true,
		Duration: d,
	}, key)
	if err != nil {
		t.Fatalf("self-signing CA: %v", err)
	}
	ca, err := pki.NewCA(cert, key)
	if err != nil {
		t.Fatalf("pairing CA: %v", err)
	}
	return ca
}

// Leaf issues a certificate for a new key from ca with the given usages and
// DNS names, valid for a day.
func Leaf(t testing.TB, ca *pki.CA, cn string, usages []pki.Usage, dnsNames ...string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := Key(t)
	cert, err := ca.Issue(rand.Reader, time.Now(), &pki.Template{
		Subject:  pkix.Name{CommonName: cn},
		DNSNames: dnsNames,
		Usages:   usages,
		Duration: 24 * time.Hour,
	}, key.Public())
	if err != nil {
		t.Fatalf("issuing %s: %v", cn, err)
	}
	return cert, key
}
