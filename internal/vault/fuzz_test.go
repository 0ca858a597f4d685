package vault

import (
	"bytes"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
)

// FuzzParseIssued feeds ParseIssued arbitrary answers. Whatever it accepts
// must be a chain that starts at the certificate field's first certificate,
// each certificate signed by the next, with no duplicates, and a CA that
// is the top of the chain or its issuer.
func FuzzParseIssued(f *testing.F) {
	p := newTestPKI(f)
	leaf, inter, root, other := pemOf(p.leaf), pemOf(p.inter), pemOf(p.root), pemOf(p.other)
	f.Add(leaf, inter, inter, root)
	f.Add(leaf, "", "", "")
	f.Add(leaf, root, "", "")
	f.Add(leaf, other, "", "")
	f.Add(root, root, "", "")
	f.Add(leaf+inter+root, "", root+inter, "")
	f.Add(inter, leaf, "", "")
	f.Add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "", "", "")
	f.Add("garbage", "garbage", "garbage", "garbage")
	f.Add(leaf[:len(leaf)/2], "", "", "")
	f.Fuzz(func(t *testing.T, certificate, issuingCA, chain0, chain1 string) {
		is, err := ParseIssued(certificate, issuingCA, []string{chain0, chain1})
		if err != nil {
			if is != nil {
				t.Fatal("an error and a result")
			}
			return
		}
		first, err := pki.ParseCertificatesPEM([]byte(certificate))
		if err != nil {
			t.Fatalf("accepted a certificate field that does not parse: %v", err)
		}
		if len(is.Chain) == 0 || !is.Chain[0].Equal(first[0]) {
			t.Fatal("the chain does not start with the certificate field's first certificate")
		}
		for i, c := range is.Chain {
			for _, d := range is.Chain[:i] {
				if bytes.Equal(c.Raw, d.Raw) {
					t.Fatal("duplicate in the chain")
				}
			}
			if i+1 < len(is.Chain) {
				if err := c.CheckSignatureFrom(is.Chain[i+1]); err != nil {
					t.Fatalf("chain[%d] is not signed by chain[%d]: %v", i, i+1, err)
				}
			}
			if len(is.Chain) > 1 && selfSigned(c) {
				t.Fatal("a self-signed certificate in a chain of more than one")
			}
		}
		if is.CA != nil {
			top := is.Chain[len(is.Chain)-1]
			if !top.Equal(is.CA) && top.CheckSignatureFrom(is.CA) != nil {
				t.Fatal("the CA is neither the top of the chain nor its issuer")
			}
		}
		if is.Serial == "" {
			t.Fatal("no serial")
		}
	})
}
