// Package podcertpolicy holds the decisions of certplane's
// PodCertificateRequest signers (certificates.k8s.io/v1) as pure functions:
// whether a request is still to be handled, whether it is denied, and, if
// not, the certificate it gets and the times that go with it, within the
// rules kube-apiserver enforces on the status. Nothing here does I/O or
// reads the clock.
package podcertpolicy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	certv1 "k8s.io/api/certificates/v1"

	"github.com/certplane/certplane/pkg/pki"
)

// SPIFFESigner issues X.509-SVIDs to pods.
const SPIFFESigner = "certplane.io/spiffe"

// Condition types and the reasons certplane writes.
const (
	ConditionIssued = "Issued"
	ConditionDenied = "Denied"
	ConditionFailed = "Failed"

	// ReasonIssued: the certificate is in status.certificateChain.
	ReasonIssued = "Issued"
	// ReasonUnsupportedKeyType and ReasonInvalidUnverifiedUserAnnotations
	// are the API's well-known reasons for Denied.
	ReasonUnsupportedKeyType               = "UnsupportedKeyType"
	ReasonInvalidUnverifiedUserAnnotations = "InvalidUnverifiedUserAnnotations"
	// ReasonNamespaceMismatch: a namespaced Issuer serves only its own namespace.
	ReasonNamespaceMismatch = "NamespaceMismatch"
	// ReasonBadRequest: the stub request cannot be read.
	ReasonBadRequest = "BadRequest"
	// ReasonSigningFailed: the signer could not issue (no CA, expired CA,
	// a CA ending too soon for the shortest lifetime allowed).
	ReasonSigningFailed = "SigningFailed"
)

const (
	// MinLifetime is the shortest lifetime kube-apiserver accepts.
	MinLifetime = time.Hour
	// DefaultMaxLifetime is the longest lifetime certplane gives unless
	// the signer is told otherwise: kube-apiserver's default
	// maxExpirationSeconds.
	DefaultMaxLifetime = 24 * time.Hour
	// Backdate moves NotBefore back for clock skew; kube-apiserver wants
	// NotBefore within five minutes of its clock.
	Backdate = time.Minute
	// refreshMargin is how close to NotBefore and NotAfter beginRefreshAt
	// may be (kube-apiserver's rule).
	refreshMargin = 10 * time.Minute
	// CleanerAge is when kube-controller-manager's cleaner deletes a
	// request: older ones are left alone.
	CleanerAge = 15 * time.Minute
)

// Terminal reports whether a request already has its final condition
// (Issued, Denied or Failed) or a certificate.
func Terminal(pcr *certv1.PodCertificateRequest) bool {
	if pcr.Status.CertificateChain != "" {
		return true
	}
	for _, c := range pcr.Status.Conditions {
		switch c.Type {
		case ConditionIssued, ConditionDenied, ConditionFailed:
			return true
		}
	}
	return false
}

// Pending reports whether a request is still to be handled at now: not
// terminal, and not so old that the cleaner is about to delete it.
func Pending(pcr *certv1.PodCertificateRequest, now time.Time) bool {
	return !Terminal(pcr) && now.Sub(pcr.CreationTimestamp.Time) < CleanerAge
}

// Rules are a signer's settings.
type Rules struct {
	// TrustDomain names the SPIFFE trust domain, such as cluster.local.
	TrustDomain string
	// MaxLifetime caps every certificate's lifetime. If zero,
	// DefaultMaxLifetime. It is never under MinLifetime.
	MaxLifetime time.Duration
	// Namespace, if set, is the only namespace served (a namespaced
	// Issuer's).
	Namespace string
	// KnownAnnotations are the unverifiedUserAnnotations keys the signer
	// reads; any other key is denied.
	KnownAnnotations []string
}

// Decision is what a signer does with a request. Exactly one of Issue,
// Deny and Fail is set.
type Decision struct {
	Issue, Deny, Fail bool
	Reason, Message   string
	// When issuing: the template (Duration and Backdate set so that the
	// lifetime is exactly Lifetime), the requested public key, and the
	// refresh point as a fraction of the lifetime.
	Template  *pki.Template
	PublicKey crypto.PublicKey
	Lifetime  time.Duration
}

func deny(reason, format string, args ...any) Decision {
	return Decision{Deny: true, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Decide reads a request against the signer's rules. The certificate's
// subject is empty; its one name is the pod's SPIFFE ID,
// spiffe://<trust domain>/ns/<namespace>/sa/<service account>, with
// digital signature, server auth and client auth, as an X.509-SVID has.
func Decide(pcr *certv1.PodCertificateRequest, r Rules) Decision {
	if r.Namespace != "" && pcr.Namespace != r.Namespace {
		return deny(ReasonNamespaceMismatch, "signer %s serves only namespace %s, not %s", pcr.Spec.SignerName, r.Namespace, pcr.Namespace)
	}
	var unknown []string
	for k := range pcr.Spec.UnverifiedUserAnnotations {
		if !slices.Contains(r.KnownAnnotations, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return deny(ReasonInvalidUnverifiedUserAnnotations, "signer %s does not know the user annotations %s", pcr.Spec.SignerName, strings.Join(unknown, ", "))
	}
	csr, err := x509.ParseCertificateRequest(pcr.Spec.StubPKCS10Request)
	if err != nil {
		return deny(ReasonBadRequest, "spec.stubPKCS10Request is not a PKCS#10 request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return deny(ReasonBadRequest, "spec.stubPKCS10Request is not signed by its key: %v", err)
	}
	if !supportedKey(csr.PublicKey) {
		alg, bits := pki.KeyDescription(csr.PublicKey)
		return deny(ReasonUnsupportedKeyType, "%s %d keys are not signed; use ECDSAP256, ECDSAP384, ECDSAP521, ED25519, RSA3072 or RSA4096", alg, bits)
	}
	lifetime := r.MaxLifetime
	if lifetime <= 0 {
		lifetime = DefaultMaxLifetime
	}
	if pcr.Spec.MaxExpirationSeconds != nil {
		lifetime = min(lifetime, time.Duration(*pcr.Spec.MaxExpirationSeconds)*time.Second)
	}
	if lifetime < MinLifetime {
		return Decision{Fail: true, Reason: ReasonSigningFailed, Message: fmt.Sprintf("the signer's longest lifetime, %s, is under the hour kube-apiserver requires", lifetime)}
	}
	id := &url.URL{Scheme: "spiffe", Host: r.TrustDomain, Path: "/ns/" + pcr.Namespace + "/sa/" + pcr.Spec.ServiceAccountName}
	return Decision{
		Issue: true, Reason: ReasonIssued, PublicKey: csr.PublicKey, Lifetime: lifetime,
		Template: &pki.Template{
			URIs:     []*url.URL{id},
			Usages:   []pki.Usage{pki.UsageDigitalSignature, pki.UsageServerAuth, pki.UsageClientAuth},
			Duration: lifetime - Backdate,
			Backdate: Backdate,
		},
	}
}

// supportedKey: the key types a podCertificate projection may ask for.
func supportedKey(pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen() == 3072 || k.N.BitLen() == 4096
	case *ecdsa.PublicKey:
		return k.Curve == elliptic.P256() || k.Curve == elliptic.P384() || k.Curve == elliptic.P521()
	case ed25519.PublicKey:
		return true
	}
	return false
}

// BeginRefreshAt is when kubelet should start refreshing a certificate
// valid from notBefore to notAfter: between half and four fifths of the
// lifetime, at a point that seed (the pod's UID) keeps stable for one pod
// and spreads across pods, and always inside kube-apiserver's window
// [notBefore+10m, notAfter-10m]. A certificate whose lifetime the CA cut
// below 20 minutes has no such window; ok is false then.
func BeginRefreshAt(notBefore, notAfter time.Time, seed []byte) (t time.Time, ok bool) {
	lifetime := notAfter.Sub(notBefore)
	if lifetime < 2*refreshMargin {
		return time.Time{}, false
	}
	sum := sha256.Sum256(seed)
	// A fraction between 0.5 and 0.8 of the lifetime, in thousandths.
	permille := 500 + binary.BigEndian.Uint64(sum[:8])%301
	at := notBefore.Add(time.Duration(float64(lifetime) * float64(permille) / 1000)).Truncate(time.Second)
	earliest, latest := notBefore.Add(refreshMargin), notAfter.Add(-refreshMargin)
	if at.Before(earliest) {
		at = earliest
	}
	if at.After(latest) {
		at = latest
	}
	return at, true
}
