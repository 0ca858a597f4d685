package trustpolicy

import (
	"bytes"
	"crypto/x509"
	"slices"
	"time"

	certv1 "k8s.io/api/certificates/v1"
)

// Issued is a certificate certplane can see that a signer issued: the
// first certificate of a Secret's tls.crt, of a CSR's status.certificate or
// of a PodCertificateRequest's status.certificateChain. Chain holds the
// certificates that came with it (the rest of that chain, a Secret's
// ca.crt), through which it may lead to a CA that did not sign it directly,
// as a root leads through its intermediate.
type Issued struct {
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
}

// Kept is an old CA that stays in its signer's bundle, and until when.
type Kept struct {
	CA    *x509.Certificate
	Until time.Time
}

// Overlap is what a signer's bundle holds across a CA rotation.
type Overlap struct {
	// CAs is what to publish: the current CAs and the old ones kept.
	CAs []*x509.Certificate
	// Kept are the old CAs that stay, with the time their retention ends.
	Kept []Kept
	// Dropped are the old CAs that leave the bundle.
	Dropped []*x509.Certificate
	// RecheckAt is the earliest Kept.Until, when to decide again; zero
	// when no old CA is kept.
	RecheckAt time.Time
}

// Retain decides which CAs a signer's bundle holds during a rotation, so
// that clients never see a gap. current are the signer's CAs now (none
// when it has none, e.g. a ca issuer whose Secret is being replaced);
// published are the CAs of the bundles published for it so far, which are
// the only memory of the old CAs; issued are the certificates certplane can
// see that the signer issued.
//
// Every current CA is published. A published CA that is not current is
// old, and stays until the latest NotAfter of the unexpired issued
// certificates that lead to it (issued by it, directly or through their
// Chain), and never past its own NotAfter. It leaves the bundle at once
// when it has expired, when no unexpired certificate of it is seen, or when
// a current CA has its subject and public key (a renewal that kept the
// key: its certificates verify against the current one). A certificate
// with the old CA's own public key (the CA itself, or a re-issue of it) is
// not one of its certificates.
//
// A certificate was issued by a CA when its issuer is the CA's subject and
// the CA's key signed it; when both carry key identifiers they must match
// too. Nothing here reads the clock: now is given.
func Retain(current, published []*x509.Certificate, issued []Issued, now time.Time) Overlap {
	var o Overlap
	o.CAs = compactCerts(current)
	var old []*x509.Certificate
	for _, p := range compactCerts(published) {
		if slices.ContainsFunc(o.CAs, func(c *x509.Certificate) bool { return bytes.Equal(c.Raw, p.Raw) }) {
			continue
		}
		old = append(old, p)
	}
	for _, ca := range old {
		until := retainedUntil(ca, o.CAs, issued, now)
		if !until.After(now) {
			o.Dropped = append(o.Dropped, ca)
			continue
		}
		o.CAs = append(o.CAs, ca)
		o.Kept = append(o.Kept, Kept{CA: ca, Until: until})
		if o.RecheckAt.IsZero() || until.Before(o.RecheckAt) {
			o.RecheckAt = until
		}
	}
	return o
}

// retainedUntil is when the old CA ca may leave its bundle: the latest
// NotAfter of the unexpired issued certificates that lead to it, capped at
// its own NotAfter; zero when it may leave now.
func retainedUntil(ca *x509.Certificate, current []*x509.Certificate, issued []Issued, now time.Time) time.Time {
	if !now.Before(ca.NotAfter) {
		return time.Time{}
	}
	if slices.ContainsFunc(current, func(c *x509.Certificate) bool {
		return bytes.Equal(c.RawSubject, ca.RawSubject) && bytes.Equal(c.RawSubjectPublicKeyInfo, ca.RawSubjectPublicKeyInfo)
	}) {
		return time.Time{}
	}
	var until time.Time
	for _, is := range issued {
		c := is.Certificate
		if c == nil || !now.Before(c.NotAfter) || !c.NotAfter.After(until) {
			continue
		}
		if bytes.Equal(c.RawSubjectPublicKeyInfo, ca.RawSubjectPublicKeyInfo) {
			continue
		}
		if leadsTo(c, is.Chain, ca) {
			until = c.NotAfter
		}
	}
	if until.After(ca.NotAfter) {
		until = ca.NotAfter
	}
	return until
}

// leadsTo reports whether ca issued c, directly or through the
// certificates of chain, in at most len(chain) steps.
func leadsTo(c *x509.Certificate, chain []*x509.Certificate, ca *x509.Certificate) bool {
	for range len(chain) + 1 {
		if issuedBy(c, ca) {
			return true
		}
		i := slices.IndexFunc(chain, func(p *x509.Certificate) bool {
			return p != nil && !bytes.Equal(p.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo) && issuedBy(c, p)
		})
		if i < 0 {
			return false
		}
		c = chain[i]
	}
	return false
}

// issuedBy reports whether parent issued child: child's issuer is parent's
// subject, their key identifiers (when both have them) match, and parent's
// key signed child.
func issuedBy(child, parent *x509.Certificate) bool {
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return false
	}
	if len(child.AuthorityKeyId) > 0 && len(parent.SubjectKeyId) > 0 && !bytes.Equal(child.AuthorityKeyId, parent.SubjectKeyId) {
		return false
	}
	return child.CheckSignatureFrom(parent) == nil
}

// compactCerts is certs without nils and repeats, in their order.
func compactCerts(certs []*x509.Certificate) []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(certs))
	for _, c := range certs {
		if c != nil && !slices.ContainsFunc(out, func(d *x509.Certificate) bool { return bytes.Equal(c.Raw, d.Raw) }) {
			out = append(out, c)
		}
	}
	return out
}

// PublishedCAs are the CAs of the bundles certplane manages for signer
// among existing (of any signer), each once. A bundle the apiserver's rules
// refuse adds none.
func PublishedCAs(signer string, existing []certv1.ClusterTrustBundle) []*x509.Certificate {
	var cas []*x509.Certificate
	for i := range existing {
		b := &existing[i]
		if b.Spec.SignerName != signer || !Managed(b) {
			continue
		}
		certs, err := ParseBundle(b.Spec.TrustBundle)
		if err != nil {
			continue
		}
		cas = append(cas, certs...)
	}
	return compactCerts(cas)
}
