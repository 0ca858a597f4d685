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
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certcache"
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
	// The cache holds one compact, and one typed as it keeps those
	// certcache.Compact refuses.
	compact, err := certcache.Compact(ready)
	if err != nil {
		t.Fatal(err)
	}
	c := &CertificateCollector{Cache: storeOf(compact, fresh)}
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

// storeInformers is a cache whose Certificate informer holds objs.
type storeInformers struct{ store toolscache.Store }

func storeOf(objs ...any) storeInformers {
	s := toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	for _, o := range objs {
		if err := s.Add(o); err != nil {
			panic(err)
		}
	}
	return storeInformers{s}
}

func (s storeInformers) GetInformer(context.Context, client.Object, ...cache.InformerGetOption) (cache.Informer, error) {
	return storeInformer{store: s.store}, nil
}

type storeInformer struct {
	cache.Informer
	store toolscache.Store
}

func (i storeInformer) GetStore() toolscache.Store { return i.store }

// BenchmarkCertificateCollector gathers the per-Certificate series of
// 10,000 Certificates through a registry, as a scrape does.
func BenchmarkCertificateCollector(b *testing.B) {
	items := make([]any, 10000)
	for i := range items {
		at := metav1.Unix(int64(1000+i), 0)
		crt := &cmv1.Certificate{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%02d", i%10), Name: fmt.Sprintf("cert-%05d", i)},
			Spec:       cmv1.CertificateSpec{IssuerRef: cmv1.ObjectReference{Name: "ca"}},
			Status: cmv1.CertificateStatus{NotBefore: &at, NotAfter: &at, RenewalTime: &at,
				Conditions: []cmv1.CertificateCondition{{Type: "Ready", Status: cmv1.ConditionTrue}}},
		}
		c, err := certcache.Compact(crt)
		if err != nil {
			b.Fatal(err)
		}
		items[i] = c
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&CertificateCollector{Cache: storeOf(items...)})
	b.ReportAllocs()
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 5 {
			b.Fatal(len(mfs), err)
		}
	}
}
