package vault

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// tlsCertFor returns a client certificate from a throwaway CA.
func tlsCertFor(t testing.TB) tls.Certificate {
	t.Helper()
	ca := pkitest.CA(t, "client CA")
	return clientCert(t, ca, "client")
}

// clientCert issues a client-auth certificate from ca as a tls.Certificate.
func clientCert(t testing.TB, ca *pki.CA, cn string) tls.Certificate {
	t.Helper()
	leaf, key := pkitest.Leaf(t, ca, cn, []pki.Usage{pki.UsageDigitalSignature, pki.UsageClientAuth})
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
}

func tlsConfigWithRoots(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
