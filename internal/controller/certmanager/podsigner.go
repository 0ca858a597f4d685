package certmanager

import (
	"context"
	"fmt"
	"time"

	certv1 "k8s.io/api/certificates/v1"

	csrcontroller "github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/issuerpolicy"
	"github.com/certplane/certplane/internal/podcertpolicy"
)

// IssuerPodSigner lets every ready CA Issuer and ClusterIssuer sign
// PodCertificateRequests, under the signer names CSRs use:
// issuers.cert-manager.io/<namespace>.<name> (for pods of that namespace
// only) and clusterissuers.cert-manager.io/<name>.
type IssuerPodSigner struct {
	Issuers     *Issuers
	TrustDomain string
	// MaxLifetime caps the certificates' lifetime; zero is a day.
	MaxLifetime time.Duration
}

// Serves reports whether name is an issuer's signer name.
func (s *IssuerPodSigner) Serves(name string) bool { return issuerpolicy.IsIssuerSigner(name) }

// Signer resolves the request's issuer. A missing or not yet ready issuer
// is waited for; a selfSigned issuer cannot sign for a key it does not
// hold.
func (s *IssuerPodSigner) Signer(ctx context.Context, pcr *certv1.PodCertificateRequest, now time.Time) (*csrcontroller.PodCA, error) {
	ref, err := issuerpolicy.ParseSignerName(pcr.Spec.SignerName)
	if err != nil {
		return nil, &csrcontroller.PodSignerError{Reason: issuerpolicy.ReasonBadSignerName, Message: err.Error()}
	}
	rules := podcertpolicy.Rules{TrustDomain: s.TrustDomain, MaxLifetime: s.MaxLifetime, Namespace: ref.Namespace}
	if !ref.Cluster && pcr.Namespace != ref.Namespace {
		// Decide denies it, naming both namespaces; no need to read the issuer.
		return &csrcontroller.PodCA{Rules: rules}, nil
	}
	iss, err := s.Issuers.Resolve(ctx, ref.Namespace, ref.IssuerRef(), now)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	switch {
	case iss.Object == nil:
		return nil, &csrcontroller.PodSignerError{Reason: "IssuerNotFound", Message: fmt.Sprintf("%s does not exist", ref), Wait: true}
	case iss.Spec.CA == nil:
		return nil, &csrcontroller.PodSignerError{Reason: "IssuerCannotSign", Message: fmt.Sprintf("%s is not a ca issuer: only ca issuers sign pod certificates", ref)}
	case !iss.Readiness.Ready:
		// An invalid or expired CA key pair does not mend itself within a
		// request's life; a Secret that is not there yet may appear.
		wait := iss.Readiness.Reason != issuerpolicy.ReasonErrInvalidKeyPair
		return nil, &csrcontroller.PodSignerError{Reason: "IssuerNotReady", Message: fmt.Sprintf("%s is not ready: %s: %s", ref, iss.Readiness.Reason, iss.Readiness.Message), Wait: wait}
	}
	return &csrcontroller.PodCA{CA: iss.Readiness.CA, Chain: iss.Readiness.Chain, Rules: rules}, nil
}
