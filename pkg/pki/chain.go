package pki

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// ParseCertificatesPEM reads every "CERTIFICATE" block in data, in order.
// Text between blocks is ignored; other block types are skipped. No
// certificate at all is ErrNoPEM.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pki: parsing certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: want a certificate", ErrNoPEM)
	}
	return certs, nil
}

// EncodeCertificatesPEM joins certificates into one PEM bundle, in order.
func EncodeCertificatesPEM(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// IsSelfSigned reports whether c is signed by its own key. Unlike
// CheckSignatureFrom it also holds for a self-signed leaf.
func IsSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// OrderChain puts certificates in chain order: the leaf first, then each
// certificate's issuer. The certificates must form exactly one chain; a
// certificate that fits nowhere, a fork or a loop is ErrChain.
func OrderChain(certs []*x509.Certificate) ([]*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no certificates", ErrChain)
	}
	n := len(certs)
	// issuer[i] is the index of the certificate that signed certs[i], or -1.
	issuer := make([]int, n)
	issued := make([]int, n) // how many certificates each one signed
	for i, c := range certs {
		issuer[i] = -1
		for j, p := range certs {
			if i != j && issuedBy(c, p) {
				issuer[i] = j
				issued[j]++
				break
			}
		}
	}
	leaf := -1
	for i := range certs {
		if issued[i] > 1 {
			return nil, fmt.Errorf("%w: %s issued more than one of them", ErrChain, describeName(certs[i].Subject))
		}
		if issued[i] == 0 {
			if leaf >= 0 {
				return nil, fmt.Errorf("%w: both %s and %s are leaves", ErrChain,
					describeName(certs[leaf].Subject), describeName(certs[i].Subject))
			}
			leaf = i
		}
	}
	if leaf < 0 {
		return nil, fmt.Errorf("%w: the certificates sign each other in a loop", ErrChain)
	}
	ordered := make([]*x509.Certificate, 0, n)
	for i := leaf; i >= 0 && len(ordered) < n; i = issuer[i] {
		ordered = append(ordered, certs[i])
	}
	if len(ordered) != n {
		return nil, fmt.Errorf("%w: %d of %d certificates are not in the leaf's chain", ErrChain, n-len(ordered), n)
	}
	return ordered, nil
}

// issuedBy reports whether parent signed c (and c is not parent).
func issuedBy(c, parent *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, parent.RawSubject) || bytes.Equal(c.Raw, parent.Raw) {
		return false
	}
	return c.CheckSignatureFrom(parent) == nil
}

// Root returns the last certificate of an ordered chain if it is
// self-signed, or nil.
func Root(chain []*x509.Certificate) *x509.Certificate {
	if len(chain) == 0 || !IsSelfSigned(chain[len(chain)-1]) {
		return nil
	}
	return chain[len(chain)-1]
}

// VerifyChain checks that chain (leaf first, as OrderChain returns) leads to
// one of roots at time now. When roots is nil the chain's own self-signed
// root is trusted. usages limits the extended key usages the leaf must be
// valid for; nil accepts any.
func VerifyChain(chain []*x509.Certificate, roots []*x509.Certificate, now time.Time, usages ...x509.ExtKeyUsage) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: no certificates", ErrChain)
	}
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     usages,
	}
	if len(usages) == 0 {
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	if roots == nil {
		if r := Root(chain); r != nil {
			roots = []*x509.Certificate{r}
		}
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := chain[0].Verify(opts); err != nil {
		return fmt.Errorf("%w: %w", ErrChain, err)
	}
	return nil
}

// Fingerprint returns the SHA-256 fingerprint of a certificate's DER as
// upper-case hex pairs joined by colons, as openssl x509 -fingerprint prints.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}
