package acmepolicy

import (
	"bytes"
	"crypto/x509"
)

// SelectChain returns the index of the chain to keep among those the ACME
// server offers (the default one first, then the alternates): the first
// whose root-most certificate was issued by a CA with common name preferred
// or, when that certificate is self-signed, has that common name itself. It
// returns 0 when preferred is empty or no chain matches. Empty chains and
// nil certificates are skipped.
func SelectChain(chains [][]*x509.Certificate, preferred string) int {
	if preferred == "" {
		return 0
	}
	for i, chain := range chains {
		if len(chain) == 0 {
			continue
		}
		top := chain[len(chain)-1]
		if top == nil {
			continue
		}
		if top.Issuer.CommonName == preferred {
			return i
		}
		if selfSigned(top) && top.Subject.CommonName == preferred {
			return i
		}
	}
	return 0
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}
