package certmanager

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

func TestIssuanceStart(t *testing.T) {
	created := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	issuing := created.Add(time.Hour)
	renewal := created.Add(2 * time.Hour)
	now := created.Add(3 * time.Hour)
	revision := 1
	at := func(t time.Time) *metav1.Time { v := metav1.NewTime(t); return &v }
	tests := []struct {
		name   string
		status cmv1.CertificateStatus
		want   time.Time
	}{
		{"a first issuance: from creation", cmv1.CertificateStatus{}, created},
		{"Issuing=True: from its transition", cmv1.CertificateStatus{Revision: &revision, Conditions: []cmv1.CertificateCondition{
			{Type: "Issuing", Status: cmv1.ConditionTrue, LastTransitionTime: at(issuing)}}}, issuing},
		{"Issuing=False is no trigger", cmv1.CertificateStatus{Revision: &revision, Conditions: []cmv1.CertificateCondition{
			{Type: "Issuing", Status: cmv1.ConditionFalse, LastTransitionTime: at(issuing)}}}, time.Time{}},
		{"a renewal: from the renewal time", cmv1.CertificateStatus{Revision: &revision, RenewalTime: at(renewal)}, renewal},
		{"renewal not due: not known", cmv1.CertificateStatus{Revision: &revision, RenewalTime: at(now.Add(time.Hour))}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crt := &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}, Status: tt.status}
			if got := issuanceStart(crt, now); !got.Equal(tt.want) {
				t.Errorf("issuanceStart = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCertificateCollector checks the exposition of cert-manager's
// per-Certificate series: names, help, labels, values, and a Certificate
// with no status yet.
func TestCertificateCollector(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := cmv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	at := func(s int64) *metav1.Time { v := metav1.Unix(s, 0); return &v }
	ready := &cmv1.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web"},
		Spec:       cmv1.CertificateSpec{SecretName: "web-tls", IssuerRef: cmv1.ObjectReference{Name: "ca", Kind: "ClusterIssuer"}},
		Status: cmv1.CertificateStatus{NotBefore: at(1000), NotAfter: at(9000), RenewalTime: at(6000),
			Conditions: []cmv1.CertificateCondition{{Type: "Ready", Status: cmv1.ConditionTrue}}},
	}
	fresh := &cmv1.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "api"},
		Spec:       cmv1.CertificateSpec{SecretName: "api-tls", IssuerRef: cmv1.ObjectReference{Name: "vault", Group: "example.io", Kind: "Ext"}},
	}
	c := &CertificateCollector{Reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(ready, fresh).Build()}
	want := `
# HELP certmanager_certificate_expiration_timestamp_seconds The timestamp after which the certificate expires, expressed in Unix Epoch Time.
# TYPE certmanager_certificate_expiration_timestamp_seconds gauge
certmanager_certificate_expiration_timestamp_seconds{issuer_group="cert-manager.io",issuer_kind="ClusterIssuer",issuer_name="ca",name="web",namespace="team-a"} 9000
certmanager_certificate_expiration_timestamp_seconds{issuer_group="example.io",issuer_kind="Ext",issuer_name="vault",name="api",namespace="team-b"} 0
# HELP certmanager_certificate_not_after_timestamp_seconds The timestamp after which the certificate is invalid, expressed in Unix Epoch Time.
# TYPE certmanager_certificate_not_after_timestamp_seconds gauge
certmanager_certificate_not_after_timestamp_seconds{issuer_group="cert-manager.io",issuer_kind="ClusterIssuer",issuer_name="ca",name="web",namespace="team-a"} 9000
certmanager_certificate_not_after_timestamp_seconds{issuer_group="example.io",issuer_kind="Ext",issuer_name="vault",name="api",namespace="team-b"} 0
# HELP certmanager_certificate_not_before_timestamp_seconds The timestamp before which the certificate is invalid, expressed in Unix Epoch Time.
# TYPE certmanager_certificate_not_before_timestamp_seconds gauge
certmanager_certificate_not_before_timestamp_seconds{issuer_group="cert-manager.io",issuer_kind="ClusterIssuer",issuer_name="ca",name="web",namespace="team-a"} 1000
certmanager_certificate_not_before_timestamp_seconds{issuer_group="example.io",issuer_kind="Ext",issuer_name="vault",name="api",namespace="team-b"} 0
# HELP certmanager_certificate_ready_status The ready status of the certificate.
# TYPE certmanager_certificate_ready_status gauge
certmanager_certificate_ready_status{condition="False",issuer_group="cert-manager.io",issuer_kind="ClusterIssuer",issuer_name="ca",name="web",namespace="team-a"} 0
certmanager_certificate_ready_status{condition="False",issuer_group="example.io",issuer_kind="Ext",issuer_name="vault",name="api",namespace="team-b"} 0
certmanager_certificate_ready_status{condition="True",issuer_group="cert-manager.io",issuer_kind="ClusterIssuer",issuer_name="ca",name="web",namespace="team-a"} 1
certmanager_certificate_ready_status{condition="True",issuer_group="example.io",issuer_kind="Ext",issuer_name="vault",name="api",namespace="team-b"} 0
certmanager_certificate_ready_status{condition="Unknown",issuer_group="cert-manager.io",issuer_kind="ClusterIssuer",issuer_name="ca",name="web",namespace="team-a"} 0
certmanager_certificate_ready_status{condition="Unknown",issuer_group="example.io",issuer_kind="Ext",issuer_name="vault",name="api",namespace="team-b"} 1
# HELP certmanager_certificate_renewal_timestamp_seconds The timestamp after which the certificate should be renewed, expressed in Unix Epoch Time.
# TYPE certmanager_certificate_renewal_timestamp_seconds gauge
certmanager_certificate_renewal_timestamp_seconds{issuer_group="cert-manager.io",issuer_kind="ClusterIssuer",issuer_name="ca",name="web",namespace="team-a"} 6000
certmanager_certificate_renewal_timestamp_seconds{issuer_group="example.io",issuer_kind="Ext",issuer_name="vault",name="api",namespace="team-b"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c); n != 14 {
		t.Errorf("%d samples, want 7 per Certificate", n)
	}
}

// listReader lists a fixed set of Certificates, as the cache does with
// UnsafeDisableDeepCopy: without copying them.
type listReader struct {
	client.Reader
	items []cmv1.Certificate
}

func (r listReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	list.(*cmv1.CertificateList).Items = r.items
	return nil
}

// BenchmarkCertificateCollector gathers the per-Certificate series of
// 10,000 Certificates through a registry, as a scrape does.
func BenchmarkCertificateCollector(b *testing.B) {
	items := make([]cmv1.Certificate, 10000)
	for i := range items {
		at := metav1.Unix(int64(1000+i), 0)
		items[i] = cmv1.Certificate{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%02d", i%10), Name: fmt.Sprintf("cert-%05d", i)},
			Spec:       cmv1.CertificateSpec{IssuerRef: cmv1.ObjectReference{Name: "ca"}},
			Status: cmv1.CertificateStatus{NotBefore: &at, NotAfter: &at, RenewalTime: &at,
				Conditions: []cmv1.CertificateCondition{{Type: "Ready", Status: cmv1.ConditionTrue}}},
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&CertificateCollector{Reader: listReader{items: items}})
	b.ReportAllocs()
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 5 {
			b.Fatal(len(mfs), err)
		}
	}
}
