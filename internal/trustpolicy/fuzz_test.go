package trustpolicy_test

import (
	"crypto/x509"
	"testing"

	"github.com/certplane/certplane/internal/trustpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// FuzzParseBundle: whatever a trustBundle holds, ParseBundle does not panic,
// and what it accepts publishes as a bundle that it accepts again, holding
// the same certificates, and that publishes again unchanged.
func FuzzParseBundle(f *testing.F) {
	a, b := pkitest.CA(f, "ca a"), pkitest.CA(f, "ca b")
	leaf, _ := pkitest.Leaf(f, a, "leaf", []pki.Usage{pki.UsageServerAuth})
	two := string(pki.EncodeCertificatesPEM(a.Certificate, b.Certificate))
	f.Add(two)
	f.Add("text\n" + two + "more text")
	f.Add(two[:len(two)/2])
	f.Add(string(pki.EncodeCertificatesPEM(leaf)))
	f.Add(string(pki.EncodeCertificatesPEM(a.Certificate, a.Certificate)))
	f.Add("-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END CERTIFICATE-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		certs, err := trustpolicy.ParseBundle(in)
		if err != nil {
			return
		}
		for _, c := range certs {
			if !c.IsCA || !c.BasicConstraintsValid {
				t.Fatalf("accepted a certificate that is not a CA")
			}
		}
		bundle, err := trustpolicy.Bundle("example.com/fuzz", certs)
		if err != nil {
			t.Fatalf("accepted certificates do not publish: %v", err)
		}
		again, err := trustpolicy.ParseBundle(bundle.Spec.TrustBundle)
		if err != nil {
			t.Fatalf("a published bundle is refused: %v", err)
		}
		if !sameSet(certs, again) {
			t.Fatalf("published %d certificates of %d", len(again), len(certs))
		}
		republished, err := trustpolicy.Bundle("example.com/fuzz", again)
		if err != nil || republished.Name != bundle.Name || republished.Spec.TrustBundle != bundle.Spec.TrustBundle {
			t.Fatalf("publishing again changed the bundle: %v", err)
		}
	})
}

func sameSet(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[string]bool{}
	for _, c := range a {
		in[string(c.Raw)] = true
	}
	for _, c := range b {
		if !in[string(c.Raw)] {
			return false
		}
	}
	return true
}
