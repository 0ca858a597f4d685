package estate

import (
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// FuzzBuild: whatever certificates the cluster's objects hold (a
// Certificate's Secret, a CA issuer's Secret, an issued CSR, a
// PodCertificateRequest, a ClusterTrustBundle), `certplane status` and the
// web view get their rows without a panic, one per object at least.
func FuzzBuild(f *testing.F) {
	ca := pkitest.CA(f, "fuzz CA")
	leaf, _ := pkitest.Leaf(f, ca, "leaf", nil, "leaf.example")
	good := pki.EncodeCertificatesPEM(leaf, ca.Certificate)
	f.Add(good, pki.EncodeCertificatesPEM(ca.Certificate))
	f.Add(good[:len(good)/2], []byte("junk"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte(nil))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), good)
	f.Fuzz(func(t *testing.T, crt, caCrt []byte) {
		ns := "apps"
		in := &Input{
			Certificates: []cmv1.Certificate{{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
				Spec: cmv1.CertificateSpec{SecretName: "web-tls", IssuerRef: cmv1.ObjectReference{Name: "ca"}}}},
			Secrets: []corev1.Secret{
				{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-tls"}, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": crt, "ca.crt": caCrt}},
				{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca-key"}, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": caCrt, "ca.crt": crt}},
			},
			Issuers: []cmv1.Issuer{{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"},
				Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "ca-key"}}}}},
			CertificateSigningRequests: []certv1.CertificateSigningRequest{{ObjectMeta: metav1.ObjectMeta{Name: "csr"},
				Spec: certv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kube-apiserver-client"}, Status: certv1.CertificateSigningRequestStatus{Certificate: crt}}},
			PodCertificateRequests: []certv1.PodCertificateRequest{{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pcr"},
				Status: certv1.PodCertificateRequestStatus{CertificateChain: string(crt)}}},
			ClusterTrustBundles: []certv1.ClusterTrustBundle{{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: certv1.ClusterTrustBundleSpec{TrustBundle: string(caCrt)}}},
		}
		rows := Build(in, time.Now())
		if len(rows) < 3 {
			t.Fatalf("%d rows for a Certificate, a CSR and a CA issuer", len(rows))
		}
		_ = NewReport(in, Options{Now: time.Now()})
	})
}
