package estate

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// issue returns the PEM of a leaf named cn from ca, valid from notBefore
// for d.
func issue(t *testing.T, ca *pki.CA, cn string, notBefore time.Time, d time.Duration) []byte {
	t.Helper()
	c, err := ca.Issue(rand.Reader, notBefore, &pki.Template{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn + ".example"}, Duration: d, Backdate: -1}, pkitest.Key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodeCertificatesPEM(c)
}

func tlsSecret(ns, name string, crt []byte) corev1.Secret {
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": crt},
	}
}

func certificate(ns, name, secret string, conds ...cmv1.CertificateCondition) cmv1.Certificate {
	return cmv1.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       cmv1.CertificateSpec{SecretName: secret, IssuerRef: cmv1.ObjectReference{Name: "ca", Kind: "ClusterIssuer"}},
		Status:     cmv1.CertificateStatus{Conditions: conds},
	}
}

func cond(typ string, status cmv1.ConditionStatus, reason, msg string) cmv1.CertificateCondition {
	return cmv1.CertificateCondition{Type: typ, Status: status, Reason: reason, Message: msg}
}

func mtime(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

// find returns the one row of kind and name, failing the test otherwise.
func find(t *testing.T, rows []Row, kind, ns, name string) Row {
	t.Helper()
	var found []Row
	for _, r := range rows {
		if r.Kind == kind && r.Namespace == ns && r.Name == name {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d rows for %s %s/%s in %+v", len(found), kind, ns, name, rows)
	}
	return found[0]
}

func TestBuildCertificates(t *testing.T) {
	ca := pkitest.CAAt(t, "root", t0.Add(-365*day), 3650*day)
	valid := issue(t, ca, "valid", t0.Add(-day), 90*day)
	expired := issue(t, ca, "old", t0.Add(-100*day), 90*day)
	future := issue(t, ca, "future", t0.Add(day), 90*day)
	renew := t0.Add(59 * day)

	tests := []struct {
		name      string
		crt       cmv1.Certificate
		secret    []byte // nil: no Secret
		wantState string
		wantMsg   string
		wantLeft  bool
	}{
		{"ready", certificate("ns", "a", "a-tls", cond("Ready", "True", "Ready", "Certificate is up to date and has not expired")),
			valid, StateReady, "Ready: Certificate is up to date and has not expired", true},
		{"issuing wins over ready", certificate("ns", "a", "a-tls", cond("Ready", "True", "Ready", ""), cond("Issuing", "True", "ManuallyTriggered", "Certificate re-issuance manually triggered")),
			valid, StateIssuing, "ManuallyTriggered: Certificate re-issuance manually triggered", true},
		{"not ready", certificate("ns", "a", "a-tls", cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist")),
			nil, StateNotReady, "DoesNotExist: Issuing certificate as Secret does not exist", false},
		{"no conditions yet", certificate("ns", "a", "a-tls"), nil, StatePending, "", false},
		{"expired wins over ready", certificate("ns", "a", "a-tls", cond("Ready", "True", "Ready", "")),
			expired, StateExpired, "Ready", true},
		{"expired while issuing says why", certificate("ns", "a", "a-tls", cond("Ready", "False", "Expired", "expired"), cond("Issuing", "True", "Expired", "the certificate has expired")),
			expired, StateExpired, "Expired: the certificate has expired", true},
		{"not yet valid", certificate("ns", "a", "a-tls", cond("Ready", "True", "Ready", "")),
			future, StateNotYetValid, "Ready", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Input{Certificates: []cmv1.Certificate{tt.crt}}
			if tt.secret != nil {
				in.Secrets = []corev1.Secret{tlsSecret("ns", "a-tls", tt.secret)}
			}
			in.Certificates[0].Status.RenewalTime = mtime(renew)
			rows := Build(in, t0)
			if len(rows) != 1 {
				t.Fatalf("rows: %+v (a Certificate's Secret is not a row of its own)", rows)
			}
			r := rows[0]
			if r.State != tt.wantState || r.Message != tt.wantMsg {
				t.Errorf("state %q %q, want %q %q", r.State, r.Message, tt.wantState, tt.wantMsg)
			}
			if (r.SecondsLeft != nil) != tt.wantLeft || (r.NotAfter != nil) != tt.wantLeft {
				t.Errorf("secondsLeft %v notAfter %v, want set=%v", r.SecondsLeft, r.NotAfter, tt.wantLeft)
			}
			if r.Secret != "a-tls" || r.IssuerRef != "ClusterIssuer/ca" || r.RenewalTime == nil || !r.RenewalTime.Equal(renew) {
				t.Errorf("secret %q issuerRef %q renewal %v", r.Secret, r.IssuerRef, r.RenewalTime)
			}
			if tt.secret != nil && (r.Issuer != "CN=root" || !strings.HasPrefix(r.Subject, "CN=") || len(r.Names) != 1 || r.Names[0] != strings.TrimPrefix(r.Subject, "CN=")+".example") {
				t.Errorf("subject %q names %v issuer %q", r.Subject, r.Names, r.Issuer)
			}
		})
	}

	t.Run("a Secret not listed: the status's times", func(t *testing.T) {
		c := certificate("ns", "a", "a-tls", cond("Ready", "True", "Ready", ""))
		c.Status.NotBefore, c.Status.NotAfter = mtime(t0.Add(-day)), mtime(t0.Add(10*day))
		r := Build(&Input{Certificates: []cmv1.Certificate{c}}, t0)[0]
		if r.NotAfter == nil || !r.NotAfter.Equal(t0.Add(10*day)) || *r.SecondsLeft != int64(10*day/time.Second) || r.TimeLeft != "10d 0h left" {
			t.Errorf("%+v", r)
		}
	})
	t.Run("owner, used by and issuerRef", func(t *testing.T) {
		yes := true
		c := certificate("ns", "web", "web-tls", cond("Ready", "True", "Ready", ""))
		c.OwnerReferences = []metav1.OwnerReference{{Kind: "Ingress", Name: "web", Controller: &yes}}
		c.Spec.IssuerRef = cmv1.ObjectReference{Name: "x", Kind: "AWSPCAIssuer", Group: "awspca.cert-manager.io"}
		in := &Input{Certificates: []cmv1.Certificate{c}, Secrets: []corev1.Secret{tlsSecret("ns", "web-tls", valid)},
			Ingresses: []networkingv1.Ingress{ingress("ns", "web", "web-tls"), ingress("ns", "web2", "web-tls")}}
		r := find(t, Build(in, t0), KindCertificate, "ns", "web")
		if r.Owner != "Ingress/web" || strings.Join(r.UsedBy, ",") != "Ingress/web,Ingress/web2" || r.IssuerRef != "AWSPCAIssuer.awspca.cert-manager.io/x" {
			t.Errorf("%+v", r)
		}
	})
}

func ingress(ns, name string, secrets ...string) networkingv1.Ingress {
	ing := networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, s := range secrets {
		ing.Spec.TLS = append(ing.Spec.TLS, networkingv1.IngressTLS{SecretName: s})
	}
	return ing
}

func TestBuildSecrets(t *testing.T) {
	ca := pkitest.CAAt(t, "root", t0.Add(-365*day), 3650*day)
	valid := issue(t, ca, "valid", t0.Add(-day), 90*day)
	expired := issue(t, ca, "old", t0.Add(-100*day), 90*day)

	managed := tlsSecret("ns", "managed", valid)
	orphan := tlsSecret("ns", "orphan", valid)
	orphan.Annotations = map[string]string{"cert-manager.io/certificate-name": "gone"}
	owned := tlsSecret("ns", "owned", valid)
	owned.OwnerReferences = []metav1.OwnerReference{{Kind: "Deployment", Name: "app"}}
	broken := tlsSecret("ns", "broken", []byte("not pem"))
	empty := tlsSecret("ns", "empty", nil)
	opaqueIngress := tlsSecret("ns", "opaque-ing", valid)
	opaqueIngress.Type = corev1.SecretTypeOpaque
	opaqueOther := tlsSecret("ns", "opaque-other", valid)
	opaqueOther.Type = corev1.SecretTypeOpaque
	in := &Input{
		Certificates: []cmv1.Certificate{certificate("ns", "managed", "managed", cond("Ready", "True", "Ready", ""))},
		Secrets: []corev1.Secret{managed, orphan, owned, broken, empty, opaqueIngress, opaqueOther,
			tlsSecret("ns", "old", expired), tlsSecret("other", "plain", valid)},
		Ingresses: []networkingv1.Ingress{ingress("ns", "web", "opaque-ing", "absent", "managed"), ingress("ns", "web2", "absent")},
	}
	rows := Build(in, t0)
	tests := []struct {
		ns, name, state, owner, msg, usedBy string
	}{
		{"ns", "orphan", StateValid, "Certificate/gone", "its Certificate does not exist", ""},
		{"ns", "owned", StateValid, "Deployment/app", "", ""},
		{"ns", "broken", StateInvalid, "", "tls.crt: no certificate: no PEM certificate block", ""},
		{"ns", "empty", StateInvalid, "", "tls.crt: no certificate", ""},
		{"ns", "opaque-ing", StateValid, "", "", "Ingress/web"},
		{"ns", "absent", StateMissing, "", "named by an Ingress, and does not exist", "Ingress/web,Ingress/web2"},
		{"ns", "old", StateExpired, "", "", ""},
		{"other", "plain", StateValid, "", "", ""},
	}
	for _, tt := range tests {
		r := find(t, rows, KindSecret, tt.ns, tt.name)
		if r.State != tt.state || r.Owner != tt.owner || r.Message != tt.msg || strings.Join(r.UsedBy, ",") != tt.usedBy {
			t.Errorf("%s/%s: state %q owner %q message %q usedBy %v; want %q %q %q %q", tt.ns, tt.name, r.State, r.Owner, r.Message, r.UsedBy, tt.state, tt.owner, tt.msg, tt.usedBy)
		}
	}
	for _, r := range rows {
		if r.Kind == KindSecret && (r.Name == "managed" || r.Name == "opaque-other") {
			t.Errorf("row for %s: a Certificate's Secret and an Opaque Secret no Ingress names are not rows", r.Name)
		}
	}
	if len(rows) != len(tests)+1 {
		t.Errorf("%d rows, want %d", len(rows), len(tests)+1)
	}
}

func TestBuildIssuers(t *testing.T) {
	ca := pkitest.CAAt(t, "issuing-ca", t0.Add(-day), 90*day)
	caPEM := pki.EncodeCertificatesPEM(ca.Certificate)
	renew := t0.Add(50 * day)
	rootCrt := certificate("sandbox", "root", "root-secret", cond("Ready", "True", "Ready", ""))
	rootCrt.Status.RenewalTime = mtime(renew)
	ready := []cmv1.IssuerCondition{{Type: "Ready", Status: "True", Reason: "KeyPairVerified", Message: "Signing CA verified"}}
	in := &Input{
		Certificates: []cmv1.Certificate{rootCrt},
		Secrets:      []corev1.Secret{tlsSecret("sandbox", "root-secret", caPEM), tlsSecret("cert-manager", "cluster-ca", caPEM)},
		Issuers: []cmv1.Issuer{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "sandbox", Name: "ca"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "root-secret"}}},
				Status: cmv1.IssuerStatus{Conditions: ready}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "sandbox", Name: "lost"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "nowhere"}}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "sandbox", Name: "selfsigned"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}}}},
		},
		ClusterIssuers: []cmv1.ClusterIssuer{
			{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "cluster-ca"}}},
				Status: cmv1.IssuerStatus{Conditions: []cmv1.IssuerCondition{{Type: "Ready", Status: "False", Reason: "ErrInvalidKeyPair", Message: "bad"}}}},
		},
	}
	rows := Build(in, t0)
	r := find(t, rows, KindIssuer, "sandbox", "ca")
	if r.State != StateReady || r.Subject != "CN=issuing-ca" || !r.IsCA || r.Secret != "root-secret" || r.RenewalTime == nil || !r.RenewalTime.Equal(renew) {
		t.Errorf("Issuer ca: %+v", r)
	}
	if r := find(t, rows, KindIssuer, "sandbox", "lost"); r.State != StatePending || r.Message != "CA Secret sandbox/nowhere not found" || r.NotAfter != nil {
		t.Errorf("Issuer lost: %+v", r)
	}
	r = find(t, rows, KindClusterIssuer, "", "cluster")
	if r.State != StateNotReady || r.Message != "ErrInvalidKeyPair: bad" || r.Secret != "cert-manager/cluster-ca" || r.RenewalTime != nil || r.NotAfter == nil {
		t.Errorf("ClusterIssuer: %+v", r)
	}
	if r := find(t, rows, KindSecret, "cert-manager", "cluster-ca"); strings.Join(r.UsedBy, ",") != "ClusterIssuer/cluster" {
		t.Errorf("the CA Secret is used by %v", r.UsedBy)
	}
	if r := find(t, rows, KindCertificate, "sandbox", "root"); strings.Join(r.UsedBy, ",") != "Issuer/ca" {
		t.Errorf("the CA Certificate is used by %v", r.UsedBy)
	}
	for _, r := range rows {
		if r.Name == "selfsigned" {
			t.Error("a selfSigned issuer holds no certificate and has no row")
		}
	}
	in.ClusterResourceNamespace = "elsewhere"
	if r := find(t, Build(in, t0), KindClusterIssuer, "", "cluster"); r.Secret != "elsewhere/cluster-ca" || r.NotAfter != nil {
		t.Errorf("ClusterIssuer with another cluster resource namespace: %+v", r)
	}
}

func csr(name string, cert []byte, conds ...certv1.RequestConditionType) certv1.CertificateSigningRequest {
	c := certv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certv1.CertificateSigningRequestSpec{Username: "jane", SignerName: "kubernetes.io/kube-apiserver-client"}}
	for _, t := range conds {
		c.Status.Conditions = append(c.Status.Conditions, certv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue, Reason: "R" + string(t)})
	}
	c.Status.Certificate = cert
	return c
}

func TestBuildRequests(t *testing.T) {
	ca := pkitest.CAAt(t, "root", t0.Add(-365*day), 3650*day)
	leaf := issue(t, ca, "jane", t0.Add(-time.Hour), day)
	old := issue(t, ca, "jane", t0.Add(-3*day), day)
	in := &Input{CertificateSigningRequests: []certv1.CertificateSigningRequest{
		csr("pending", nil), csr("approved", nil, certv1.CertificateApproved), csr("issued", leaf, certv1.CertificateApproved),
		csr("denied", nil, certv1.CertificateDenied), csr("failed", nil, certv1.CertificateApproved, certv1.CertificateFailed),
		csr("expired", old, certv1.CertificateApproved), csr("garbage", []byte("x"), certv1.CertificateApproved),
	}}
	want := map[string]string{"pending": StatePending, "approved": StateApproved, "issued": StateIssued, "denied": StateDenied,
		"failed": StateFailed, "expired": StateExpired, "garbage": StateInvalid}
	rows := Build(in, t0)
	for name, state := range want {
		r := find(t, rows, KindCSR, "", name)
		if r.State != state || r.Owner != "jane" || r.IssuerRef != "kubernetes.io/kube-apiserver-client" {
			t.Errorf("%s: %+v, want state %s", name, r, state)
		}
	}
	if r := find(t, rows, KindCSR, "", "denied"); r.Message != "RDenied" {
		t.Errorf("denied message %q", r.Message)
	}

	// PodCertificateRequests: the newest issued one of a pod and signer is
	// in use, older ones are superseded.
	pcr := func(name, pod string, created time.Time, chain []byte, condType string) certv1.PodCertificateRequest {
		p := certv1.PodCertificateRequest{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name, CreationTimestamp: metav1.NewTime(created)},
			Spec:       certv1.PodCertificateRequestSpec{SignerName: "certplane.io/spiffe", PodName: pod, PodUID: types.UID(pod + "-uid")},
			Status:     certv1.PodCertificateRequestStatus{CertificateChain: string(chain), BeginRefreshAt: mtime(t0.Add(12 * time.Hour))},
		}
		if condType != "" {
			p.Status.Conditions = []metav1.Condition{{Type: condType, Status: metav1.ConditionTrue, Reason: "Because"}}
		}
		return p
	}
	in = &Input{PodCertificateRequests: []certv1.PodCertificateRequest{
		pcr("new", "web", t0.Add(-time.Hour), leaf, "Issued"),
		pcr("older", "web", t0.Add(-2*time.Hour), leaf, "Issued"),
		pcr("other-pod", "db", t0.Add(-3*time.Hour), leaf, "Issued"),
		pcr("waiting", "web", t0, nil, ""),
		pcr("no", "web", t0, nil, "Denied"),
		pcr("broke", "web", t0, nil, "Failed"),
	}}
	rows = Build(in, t0)
	for name, state := range map[string]string{"new": StateIssued, "older": StateSuperseded, "other-pod": StateIssued, "waiting": StatePending, "no": StateDenied, "broke": StateFailed} {
		if r := find(t, rows, KindPodCertificate, "apps", name); r.State != state {
			t.Errorf("%s: state %s, want %s", name, r.State, state)
		}
	}
	if r := find(t, rows, KindPodCertificate, "apps", "new"); r.Owner != "Pod/web" || r.RenewalTime == nil || r.IssuerRef != "certplane.io/spiffe" || r.Subject != "CN=jane" {
		t.Errorf("issued pod certificate: %+v", r)
	}
}

func TestBuildBundlesAndPKI(t *testing.T) {
	a, b := pkitest.CAAt(t, "a", t0.Add(-day), 10*day), pkitest.CAAt(t, "b", t0.Add(-20*day), 10*day)
	in := &Input{
		ClusterTrustBundles: []certv1.ClusterTrustBundle{
			{ObjectMeta: metav1.ObjectMeta{Name: "signer:x"}, Spec: certv1.ClusterTrustBundleSpec{SignerName: "example.com/x", TrustBundle: string(pki.EncodeCertificatesPEM(a.Certificate, b.Certificate))}},
			{ObjectMeta: metav1.ObjectMeta{Name: "broken"}, Spec: certv1.ClusterTrustBundleSpec{TrustBundle: "junk"}},
		},
		PKI: []PKIFile{
			{Name: "apiserver", NotAfter: t0.Add(300 * day), CA: "ca"},
			{Name: "front-proxy-ca", NotAfter: t0.Add(-day), IsCA: true, ExternallyManaged: true},
			{Name: "admin.conf", Missing: true, CA: "ca"},
		},
	}
	rows := Build(in, t0)
	states := map[string]string{}
	for _, r := range rows {
		states[r.Kind+" "+r.Name+" "+r.Subject] = r.State
	}
	for k, v := range map[string]string{
		"ClusterTrustBundle signer:x CN=a": StateValid, "ClusterTrustBundle signer:x CN=b": StateExpired, "ClusterTrustBundle broken ": StateInvalid,
		"PKI apiserver ": StateValid, "PKI front-proxy-ca ": StateExpired, "PKI admin.conf ": StateMissing,
	} {
		if states[k] != v {
			t.Errorf("%s: state %q, want %q (all: %v)", k, states[k], v, states)
		}
	}
	if r := find(t, rows, KindPKI, "", "front-proxy-ca"); !r.IsCA || r.Message == "" {
		t.Errorf("externally managed CA: %+v", r)
	}
}

func TestNeedsAttention(t *testing.T) {
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	tests := []struct {
		name string
		row  Row
		warn time.Duration
		want bool
	}{
		{"no certificate", Row{State: StatePending}, DefaultWarn, false},
		{"expired", Row{NotAfter: at(-time.Second)}, DefaultWarn, true},
		{"expires now", Row{NotAfter: at(0)}, DefaultWarn, true},
		{"expired though it renews", Row{NotAfter: at(-time.Hour), RenewalTime: at(-2 * time.Hour)}, DefaultWarn, true},
		{"within warn, nothing renews it", Row{NotAfter: at(10 * day)}, DefaultWarn, true},
		{"just outside warn", Row{NotAfter: at(30 * day)}, DefaultWarn, false},
		{"within a shorter warn", Row{NotAfter: at(10 * day)}, 11 * day, true},
		{"outside a shorter warn", Row{NotAfter: at(10 * day)}, 7 * day, false},
		{"within warn, renews later", Row{NotAfter: at(time.Hour), RenewalTime: at(40 * time.Minute)}, DefaultWarn, false},
		{"renewal just past, within grace", Row{NotAfter: at(time.Hour), RenewalTime: at(-5 * time.Minute)}, DefaultWarn, false},
		{"renewal overdue", Row{NotAfter: at(time.Hour), RenewalTime: at(-RenewalGrace - time.Second)}, DefaultWarn, true},
		{"renewal after expiry", Row{NotAfter: at(time.Hour), RenewalTime: at(2 * time.Hour)}, DefaultWarn, true},
		{"overdue but outside warn", Row{NotAfter: at(40 * day), RenewalTime: at(-day)}, DefaultWarn, false},
		{"superseded and expired", Row{NotAfter: at(-day), State: StateSuperseded}, DefaultWarn, false},
		{"a missing PKI file", Row{Kind: KindPKI, State: StateMissing}, DefaultWarn, true},
		{"a missing Ingress Secret", Row{Kind: KindSecret, State: StateMissing}, DefaultWarn, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsAttention(&tt.row, t0, tt.warn); got != tt.want {
				t.Errorf("NeedsAttention = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterAndSort(t *testing.T) {
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	rows := []Row{
		{Kind: KindSecret, Namespace: "a", Name: "late", NotAfter: at(100 * day), Labels: map[string]string{"app": "web"}},
		{Kind: KindCertificate, Namespace: "b", Name: "soon", NotAfter: at(2 * day), Labels: map[string]string{"app": "db"}},
		{Kind: KindCertificate, Namespace: "a", Name: "pending"},
		{Kind: KindCSR, Name: "cluster", NotAfter: at(-day)},
		{Kind: KindPKI, Name: "apiserver", NotAfter: at(2 * day)},
		{Kind: KindCertificate, Namespace: "a", Name: "soon", NotAfter: at(2 * day), Labels: map[string]string{"app": "web", "tier": "front"}},
	}
	names := func(rs []Row) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Kind+":"+r.Namespace+"/"+r.Name)
		}
		return strings.Join(s, " ")
	}
	sorted := append([]Row(nil), rows...)
	Sort(sorted)
	if got, want := names(sorted), "CertificateSigningRequest:/cluster Certificate:a/soon Certificate:b/soon PKI:/apiserver Secret:a/late Certificate:a/pending"; got != want {
		t.Errorf("sorted:\n got %s\nwant %s", got, want)
	}
	sel := func(s string) labels.Selector {
		l, err := labels.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tests := []struct {
		name   string
		filter Filter
		want   string
	}{
		{"zero keeps all", Filter{}, names(rows)},
		{"namespace", Filter{Namespace: "a"}, "Secret:a/late Certificate:a/pending Certificate:a/soon"},
		{"selector", Filter{Selector: sel("app=web")}, "Secret:a/late Certificate:a/soon"},
		{"selector with not-in matches unlabelled rows", Filter{Selector: sel("app!=web")}, "Certificate:b/soon Certificate:a/pending CertificateSigningRequest:/cluster PKI:/apiserver"},
		{"expiring within keeps expired, drops those without a certificate", Filter{ExpiringWithin: 3 * day}, "Certificate:b/soon CertificateSigningRequest:/cluster PKI:/apiserver Certificate:a/soon"},
		{"expiring within is exclusive", Filter{ExpiringWithin: 2 * day}, "CertificateSigningRequest:/cluster"},
		{"all at once", Filter{Namespace: "a", Selector: sel("tier=front"), ExpiringWithin: 30 * day}, "Certificate:a/soon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(tt.filter.Apply(rows, t0)); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestReferencedSecrets(t *testing.T) {
	in := &Input{
		Secrets:   []corev1.Secret{tlsSecret("ns", "have", nil)},
		Ingresses: []networkingv1.Ingress{ingress("ns", "web", "have", "need", ""), ingress("ns", "web2", "need")},
		Issuers:   []cmv1.Issuer{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "i"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "ca"}}}}},
		ClusterIssuers: []cmv1.ClusterIssuer{{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "root"}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}}}}},
	}
	var got []string
	for _, k := range ReferencedSecrets(in) {
		got = append(got, k.String())
	}
	if want := "cert-manager/root ns/ca ns/need"; strings.Join(got, " ") != want {
		t.Errorf("ReferencedSecrets = %v, want %s", got, want)
	}
}

func TestNewReport(t *testing.T) {
	ca := pkitest.CAAt(t, "root", t0.Add(-365*day), 3650*day)
	in := &Input{Secrets: []corev1.Secret{
		tlsSecret("ns", "soon", issue(t, ca, "soon", t0.Add(-day), 10*day)),
		tlsSecret("ns", "later", issue(t, ca, "later", t0.Add(-day), 100*day)),
		tlsSecret("other", "soon", issue(t, ca, "soon", t0.Add(-day), 5*day)),
	}}
	r := NewReport(in, Options{Now: t0, Filter: Filter{Namespace: "ns"}})
	if r.Attention != 1 || len(r.Items) != 2 || r.Items[0].Name != "soon" || !r.Items[0].Attention || r.Items[1].Attention || r.Warn != "720h0m0s" {
		t.Errorf("%+v", r)
	}
	if r := NewReport(in, Options{Now: t0, Warn: 2 * day}); r.Attention != 0 {
		t.Errorf("with a 48h warning window: %d need attention", r.Attention)
	}
	data, err := json.Marshal(NewReport(&Input{}, Options{Now: t0}))
	if err != nil || !strings.Contains(string(data), `"items":[]`) {
		t.Errorf("an empty report: %s %v", data, err)
	}
}

// BenchmarkBuild is the pure part of `certplane status` on 10,000
// Certificates with their Secrets: every leaf parsed once, then filtered,
// sorted and checked.
func BenchmarkBuild(b *testing.B) {
	ca := pkitest.CAAt(b, "root", t0.Add(-365*day), 3650*day)
	in := &Input{}
	for i := range 10000 {
		name := fmt.Sprintf("svc-%05d", i)
		c, err := ca.Issue(rand.Reader, t0.Add(-day), &pki.Template{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name + ".example"}, Duration: 90 * day}, pkitest.Key(b).Public())
		if err != nil {
			b.Fatal(err)
		}
		in.Certificates = append(in.Certificates, certificate("ns", name, name+"-tls", cond("Ready", "True", "Ready", "")))
		in.Secrets = append(in.Secrets, tlsSecret("ns", name+"-tls", pki.EncodeCertificatesPEM(c)))
	}
	for b.Loop() {
		if r := NewReport(in, Options{Now: t0}); len(r.Items) != 10000 {
			b.Fatalf("%d rows", len(r.Items))
		}
	}
}
