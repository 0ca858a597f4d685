// Package certmanager holds the reconcilers of the cert-manager.io API
// group: Issuers and ClusterIssuers, Certificates (issued in process by
// the built-in issuers, or through CertificateRequests), the
// CertificateRequest approver and signer, and the CertificateSigningRequest
// signer for issuers.cert-manager.io and clusterissuers.cert-manager.io
// signers. Each asks a pure policy package what to do.
package certmanager

import "k8s.io/apimachinery/pkg/runtime"

// eventRecorder is what the reconcilers need of an events.k8s.io recorder.
type eventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}
