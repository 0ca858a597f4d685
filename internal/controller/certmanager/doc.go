// Package certmanager holds the reconcilers of the cert-manager.io API
// group: Issuers and ClusterIssuers, Certificates (issued in process by
// the built-in issuers, or through CertificateRequests), the
// CertificateRequest approver and signer, and the CertificateSigningRequest
// signer for issuers.cert-manager.io and clusterissuers.cert-manager.io
// signers. Each asks a pure policy package what to do.
package certmanager

import (
	"context"

	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/certplane/certplane/internal/requestpolicy"
)

// eventRecorder is what the reconcilers need of an events.k8s.io recorder.
type eventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// issuancePolicy decides requests by CertificateRequestPolicies
// (internal/controller/policy's Gate): Selected when a policy selects the
// request (or none does and policies are required), Approved when a bound
// one allows it.
type issuancePolicy interface {
	Decide(ctx context.Context, r requestpolicy.Request, who authnv1.UserInfo) (requestpolicy.Decision, error)
}
