package certificates_test

import (
	"testing"

	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// FuzzParseIssued: whatever an issued CSR's status.certificate or a
// Secret's tls.crt holds (the ClusterTrustBundle publishers read both to
// keep an old CA), ParseIssued finds its first certificate and the rest as
// its chain, or says there is none; never a panic.
func FuzzParseIssued(f *testing.F) {
	ca := pkitest.CA(f, "fuzz CA")
	leaf, _ := pkitest.Leaf(f, ca, "leaf", nil, "leaf.example")
	good := pki.EncodeCertificatesPEM(leaf, ca.Certificate)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(append([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), good...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte(nil))
	f.Fuzz(func(t *testing.T, chainPEM []byte) {
		issued, ok := certificates.ParseIssued(chainPEM)
		if ok != (issued.Certificate != nil) {
			t.Fatalf("ok %v with certificate %v", ok, issued.Certificate != nil)
		}
		if !ok && len(issued.Chain) > 0 {
			t.Fatal("a chain without a certificate")
		}
	})
}
