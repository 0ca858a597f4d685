package certificates

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	certv1 "k8s.io/api/certificates/v1"
)

// The kinds certplane_issuance_duration_seconds counts.
const (
	KindCertificate               = "Certificate"
	KindCertificateSigningRequest = "CertificateSigningRequest"
	KindPodCertificateRequest     = "PodCertificateRequest"
)

var issuanceDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name: "certplane_issuance_duration_seconds",
	Help: "Time from what called for a certificate to the certificate: a Certificate's Issuing condition (its creation for a first issuance) to Ready, " +
		"a CertificateSigningRequest's approval to its certificate, a PodCertificateRequest's creation to Issued; by kind and issuer kind.",
	Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
}, []string{"kind", "issuer_kind"})

// IssuanceMetrics are the collectors of issuance latency, shared by every
// controller that issues.
func IssuanceMetrics() []prometheus.Collector { return []prometheus.Collector{issuanceDuration} }

// ObserveIssuance records one issuance of kind that was called for at
// start and ended at end. A zero start (not known) records nothing.
func ObserveIssuance(kind, issuerKind string, start, end time.Time) {
	if start.IsZero() {
		return
	}
	issuanceDuration.WithLabelValues(kind, issuerKind).Observe(max(end.Sub(start), 0).Seconds())
}

// SignerIssuerKind is the issuer_kind label of a CSR or PodCertificateRequest
// signer: Issuer or ClusterIssuer for cert-manager's issuer signers (their
// names hold the issuer's name, which the label leaves out), else the signer
// name, one of the few signers certplane runs.
func SignerIssuerKind(signer string) string {
	switch {
	case strings.HasPrefix(signer, "issuers.cert-manager.io/"):
		return "Issuer"
	case strings.HasPrefix(signer, "clusterissuers.cert-manager.io/"):
		return "ClusterIssuer"
	}
	return signer
}

// CSRApprovedAt is when a CertificateSigningRequest was approved, zero if
// it is not.
func CSRApprovedAt(csr *certv1.CertificateSigningRequest) time.Time {
	for _, c := range csr.Status.Conditions {
		if c.Type != certv1.CertificateApproved {
			continue
		}
		if !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
		return c.LastUpdateTime.Time
	}
	return time.Time{}
}

// ObserveCSRIssued records the issuance of csr's certificate at now,
// measured from its approval.
func ObserveCSRIssued(csr *certv1.CertificateSigningRequest, now time.Time) {
	ObserveIssuance(KindCertificateSigningRequest, SignerIssuerKind(csr.Spec.SignerName), CSRApprovedAt(csr), now)
}
