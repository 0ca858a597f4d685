package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// marshalSubject encodes a name with one attribute per relative
// distinguished name, as openssl -subj "/O=a/O=b" does. pkix.Name would put
// several values of one attribute (two Organizations, say) into a single
// RDN, whose DER SET encoding sorts them, so their order, which Kubernetes
// reads as the order of a user's groups, would be lost.
func marshalSubject(n pkix.Name) ([]byte, error) {
	var seq pkix.RDNSequence
	for _, rdn := range n.ToRDNSequence() {
		for _, atv := range rdn {
			seq = append(seq, pkix.RelativeDistinguishedNameSET{atv})
		}
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding subject: %w", err)
	}
	return der, nil
}
