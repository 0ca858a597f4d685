package certificates_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certplane/certplane/internal/controller/certificates"
)

func TestSignerIssuerKind(t *testing.T) {
	for signer, want := range map[string]string{
		"issuers.cert-manager.io/ns.ca":          "Issuer",
		"clusterissuers.cert-manager.io/root":    "ClusterIssuer",
		"kubernetes.io/kube-apiserver-client":    "kubernetes.io/kube-apiserver-client",
		"certplane.io/spiffe":                    "certplane.io/spiffe",
		"example.com/issuers.cert-manager.io/ca": "example.com/issuers.cert-manager.io/ca",
	} {
		if got := certificates.SignerIssuerKind(signer); got != want {
			t.Errorf("SignerIssuerKind(%q) = %q, want %q", signer, got, want)
		}
	}
}

func TestObserveCSRIssued(t *testing.T) {
	approved := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	csr := &certv1.CertificateSigningRequest{
		Spec: certv1.CertificateSigningRequestSpec{SignerName: "example.com/metrics-test"},
		Status: certv1.CertificateSigningRequestStatus{Conditions: []certv1.CertificateSigningRequestCondition{
			{Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(approved)},
		}},
	}
	if got := certificates.CSRApprovedAt(csr); !got.Equal(approved) {
		t.Fatalf("CSRApprovedAt = %v, want %v", got, approved)
	}
	certificates.ObserveCSRIssued(csr, approved.Add(3*time.Second))
	// A request never approved is not measured.
	certificates.ObserveCSRIssued(&certv1.CertificateSigningRequest{Spec: csr.Spec}, approved)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(certificates.IssuanceMetrics()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range families {
		if f.GetName() != "certplane_issuance_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] != "CertificateSigningRequest" || labels["issuer_kind"] != "example.com/metrics-test" {
				continue
			}
			found = true
			if h := m.GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != 3 {
				t.Errorf("histogram has %d samples summing to %v, want 1 of 3s", h.GetSampleCount(), h.GetSampleSum())
			}
		}
	}
	if !found {
		t.Error("no certplane_issuance_duration_seconds{kind=\"CertificateSigningRequest\",issuer_kind=\"example.com/metrics-test\"}")
	}
}
