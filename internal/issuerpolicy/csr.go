package issuerpolicy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	certv1 "k8s.io/api/certificates/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// The signer names of cert-manager's issuers on certificates.k8s.io
// CertificateSigningRequests: issuers.cert-manager.io/<namespace>.<name> for
// an Issuer, clusterissuers.cert-manager.io/<name> for a ClusterIssuer.
const (
	SignerPrefixIssuers        = "issuers.cert-manager.io/"
	SignerPrefixClusterIssuers = "clusterissuers.cert-manager.io/"
)

// The annotations cert-manager reads on CertificateSigningRequests.
const (
	// AnnotationRequestDuration asks for a validity, as a Go duration,
	// when spec.expirationSeconds is not set.
	AnnotationRequestDuration = "experimental.cert-manager.io/request-duration"
	// AnnotationRequestIsCA, when "true", asks for a CA certificate.
	AnnotationRequestIsCA = "experimental.cert-manager.io/request-is-ca"
	// AnnotationPrivateKeySecretName names the Secret whose tls.key a
	// selfSigned issuer signs the request with.
	AnnotationPrivateKeySecretName = "experimental.cert-manager.io/private-key-secret-name"
)

// Durations of certificates issued for CertificateSigningRequests.
const (
	// DefaultRequestDuration is cert-manager's default: 90 days.
	DefaultRequestDuration = 2160 * time.Hour
	// MinRequestDuration is the shortest validity that may be asked for,
	// the minimum of spec.expirationSeconds.
	MinRequestDuration = 10 * time.Minute
)

// Reasons of the Failed conditions the issuers' signer writes.
const (
	ReasonBadSignerName     = "BadSignerName"
	ReasonDeniedReference   = "DeniedReference"
	ReasonBadRequest        = "BadRequest"
	ReasonMissingAnnotation = "MissingAnnotation"
	ReasonErrorKeyMatch     = "ErrorKeyMatch"
	ReasonErrorSigning      = "ErrorSigning"
)

// SignerRef is the issuer a signer name names.
type SignerRef struct {
	// Cluster is set for a ClusterIssuer.
	Cluster bool
	// Namespace is an Issuer's namespace, "" for a ClusterIssuer.
	Namespace string
	Name      string
}

// IssuerRef is the issuerRef that names the same issuer.
func (s SignerRef) IssuerRef() cmv1.ObjectReference {
	if s.Cluster {
		return cmv1.ObjectReference{Name: s.Name, Kind: "ClusterIssuer", Group: "cert-manager.io"}
	}
	return cmv1.ObjectReference{Name: s.Name, Kind: "Issuer", Group: "cert-manager.io"}
}

// SignerName is the signer name that names the issuer.
func (s SignerRef) SignerName() string {
	if s.Cluster {
		return SignerPrefixClusterIssuers + s.Name
	}
	return SignerPrefixIssuers + s.Namespace + "." + s.Name
}

// String names the issuer for messages: Issuer "ns/name" or ClusterIssuer
// "name".
func (s SignerRef) String() string {
	if s.Cluster {
		return fmt.Sprintf("ClusterIssuer %q", s.Name)
	}
	return fmt.Sprintf("Issuer %q", s.Namespace+"/"+s.Name)
}

// ReferenceNames are the names of cert-manager.io signers, in the Issuer's
// namespace, on which a requester's "reference" permission lets it use a
// namespaced Issuer, as cert-manager checks: the Issuer's own name, or "*".
func (s SignerRef) ReferenceNames() []string {
	return []string{s.Name, "*"}
}

// ErrNotIssuerSigner means a signer name is not one of cert-manager's.
var ErrNotIssuerSigner = errors.New("not a cert-manager.io issuer signer name")

// IsIssuerSigner reports whether signerName is meant for cert-manager's
// issuers, well-formed or not.
func IsIssuerSigner(signerName string) bool {
	return strings.HasPrefix(signerName, SignerPrefixIssuers) || strings.HasPrefix(signerName, SignerPrefixClusterIssuers)
}

// ParseSignerName finds the issuer a signer name names. The namespace of an
// Issuer ends at the first dot, since namespaces have none; the rest is its
// name. A name of another signer is an ErrNotIssuerSigner; a malformed one
// is an error that says what the form is.
func ParseSignerName(signerName string) (SignerRef, error) {
	var ref SignerRef
	switch {
	case strings.HasPrefix(signerName, SignerPrefixIssuers):
		rest := strings.TrimPrefix(signerName, SignerPrefixIssuers)
		ns, name, ok := strings.Cut(rest, ".")
		if !ok || ns == "" || name == "" || strings.Contains(rest, "/") {
			return ref, fmt.Errorf("signer name %q does not name an Issuer: the form is %s<namespace>.<name>", signerName, SignerPrefixIssuers)
		}
		return SignerRef{Namespace: ns, Name: name}, nil
	case strings.HasPrefix(signerName, SignerPrefixClusterIssuers):
		name := strings.TrimPrefix(signerName, SignerPrefixClusterIssuers)
		if name == "" || strings.Contains(name, "/") {
			return ref, fmt.Errorf("signer name %q does not name a ClusterIssuer: the form is %s<name>", signerName, SignerPrefixClusterIssuers)
		}
		return SignerRef{Cluster: true, Name: name}, nil
	default:
		return ref, fmt.Errorf("signer name %q: %w", signerName, ErrNotIssuerSigner)
	}
}

// RequestDuration is the validity a request asks for: spec.expirationSeconds
// if set, else the request-duration annotation, else 90 days. Less than ten
// minutes, or an annotation that is not a Go duration, is an error.
func RequestDuration(expirationSeconds *int32, annotations map[string]string) (time.Duration, error) {
	d := DefaultRequestDuration
	switch v, ok := annotations[AnnotationRequestDuration]; {
	case expirationSeconds != nil:
		d = time.Duration(*expirationSeconds) * time.Second
	case ok:
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("annotation %s: %q is not a duration such as 2160h", AnnotationRequestDuration, v)
		}
	}
	if d < MinRequestDuration {
		return 0, fmt.Errorf("requested duration %s is shorter than the minimum of %s", d, MinRequestDuration)
	}
	return d, nil
}

// RequestIsCA reports whether a request asks for a CA certificate.
func RequestIsCA(annotations map[string]string) bool {
	return annotations[AnnotationRequestIsCA] == "true"
}

// RequestUsages converts spec.usages to pki's usage names, which are the
// same strings.
func RequestUsages(usages []certv1.KeyUsage) []pki.Usage {
	out := make([]pki.Usage, len(usages))
	for i, u := range usages {
		out[i] = pki.Usage(u)
	}
	return out
}
