package podcertpolicy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func stub(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func request(t *testing.T, key crypto.Signer) *certv1.PodCertificateRequest {
	maxSeconds := int32(86400)
	return &certv1.PodCertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-1", Namespace: "shop", CreationTimestamp: metav1.NewTime(t0)},
		Spec: certv1.PodCertificateRequestSpec{
			SignerName: SPIFFESigner, PodName: "web-0", PodUID: "pod-uid", ServiceAccountName: "web", ServiceAccountUID: "sa-uid",
			NodeName: "node-a", NodeUID: "node-uid", MaxExpirationSeconds: &maxSeconds, StubPKCS10Request: stub(t, key),
		},
	}
}

func TestDecide(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rules := Rules{TrustDomain: "cluster.local"}
	i32 := func(v int32) *int32 { return &v }
	cases := map[string]struct {
		pcr      func() *certv1.PodCertificateRequest
		rules    Rules
		want     string // Issue, Deny or Fail, then the reason
		lifetime time.Duration
		message  string
	}{
		"P-256 issued for a day": {func() *certv1.PodCertificateRequest { return request(t, p256) }, rules, "Issue Issued", 24 * time.Hour, ""},
		"Ed25519 issued":         {func() *certv1.PodCertificateRequest { return request(t, ed) }, rules, "Issue Issued", 24 * time.Hour, ""},
		"maxExpirationSeconds shortens": {func() *certv1.PodCertificateRequest {
			p := request(t, p256)
			p.Spec.MaxExpirationSeconds = i32(7200)
			return p
		}, rules, "Issue Issued", 2 * time.Hour, ""},
		"the signer's cap shortens": {func() *certv1.PodCertificateRequest { return request(t, p256) }, Rules{TrustDomain: "cluster.local", MaxLifetime: 3 * time.Hour}, "Issue Issued", 3 * time.Hour, ""},
		"a cap under an hour fails": {func() *certv1.PodCertificateRequest { return request(t, p256) }, Rules{TrustDomain: "cluster.local", MaxLifetime: 30 * time.Minute}, "Fail SigningFailed", 0, "under the hour"},
		"RSA 2048 denied":           {func() *certv1.PodCertificateRequest { return request(t, rsa2048) }, rules, "Deny UnsupportedKeyType", 0, "RSA 2048 keys are not signed"},
		"P-224 denied":              {func() *certv1.PodCertificateRequest { return request(t, p224) }, rules, "Deny UnsupportedKeyType", 0, "ECDSA 224"},
		"unknown user annotation": {func() *certv1.PodCertificateRequest {
			p := request(t, p256)
			p.Spec.UnverifiedUserAnnotations = map[string]string{"example.com/b": "1", "example.com/a": "2"}
			return p
		}, rules, "Deny InvalidUnverifiedUserAnnotations", 0, "example.com/a, example.com/b"},
		"another namespace's Issuer": {func() *certv1.PodCertificateRequest { return request(t, p256) }, Rules{TrustDomain: "cluster.local", Namespace: "payments"}, "Deny NamespaceMismatch", 0, "serves only namespace payments, not shop"},
		"garbage stub": {func() *certv1.PodCertificateRequest {
			p := request(t, p256)
			p.Spec.StubPKCS10Request = []byte("garbage")
			return p
		}, rules, "Deny BadRequest", 0, "not a PKCS#10 request"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := Decide(c.pcr(), c.rules)
			kind := map[bool]string{true: "Issue"}[d.Issue] + map[bool]string{true: "Deny"}[d.Deny] + map[bool]string{true: "Fail"}[d.Fail]
			if got := kind + " " + d.Reason; got != c.want {
				t.Fatalf("decision %q (%s), want %q", got, d.Message, c.want)
			}
			if !strings.Contains(d.Message, c.message) {
				t.Errorf("message %q does not say %q", d.Message, c.message)
			}
			if !d.Issue {
				return
			}
			if d.Lifetime != c.lifetime || d.Template.Duration+d.Template.Backdate != c.lifetime {
				t.Errorf("lifetime %s (template %s + %s), want %s", d.Lifetime, d.Template.Duration, d.Template.Backdate, c.lifetime)
			}
			if len(d.Template.URIs) != 1 || d.Template.URIs[0].String() != "spiffe://cluster.local/ns/shop/sa/web" {
				t.Errorf("URIs %v, want the pod's SPIFFE ID", d.Template.URIs)
			}
			if d.Template.Subject.CommonName != "" || len(d.Template.DNSNames) != 0 {
				t.Errorf("subject %v, DNS %v: an SVID has neither", d.Template.Subject, d.Template.DNSNames)
			}
		})
	}
}

func TestPendingAndTerminal(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := request(t, p256)
	if !Pending(p, t0.Add(time.Minute)) {
		t.Error("a new request is not pending")
	}
	if Pending(p, t0.Add(CleanerAge)) {
		t.Error("a request the cleaner deletes is still pending")
	}
	for _, typ := range []string{ConditionIssued, ConditionDenied, ConditionFailed} {
		q := p.DeepCopy()
		q.Status.Conditions = []metav1.Condition{{Type: typ, Status: metav1.ConditionTrue}}
		if !Terminal(q) || Pending(q, t0) {
			t.Errorf("%s is not terminal", typ)
		}
	}
}

func TestBeginRefreshAt(t *testing.T) {
	for _, lifetime := range []time.Duration{time.Hour, 24 * time.Hour, 20 * time.Minute, 91 * 24 * time.Hour} {
		nb := t0.Add(-Backdate)
		na := nb.Add(lifetime)
		seen := map[time.Time]bool{}
		for i := range 100 {
			at, ok := BeginRefreshAt(nb, na, []byte{byte(i), 1})
			if !ok {
				t.Fatalf("lifetime %s: no refresh time", lifetime)
			}
			if at.Before(nb.Add(10*time.Minute)) || at.After(na.Add(-10*time.Minute)) {
				t.Fatalf("lifetime %s: refresh at %s outside [nb+10m, na-10m]", lifetime, at.Sub(nb))
			}
			if lifetime >= time.Hour && (at.Sub(nb) < lifetime/2-time.Second || at.Sub(nb) > lifetime*8/10) {
				t.Fatalf("lifetime %s: refresh at %s, want 50-80%% of the lifetime", lifetime, at.Sub(nb))
			}
			if again, _ := BeginRefreshAt(nb, na, []byte{byte(i), 1}); !again.Equal(at) {
				t.Fatal("the same pod got another refresh time")
			}
			seen[at] = true
		}
		if lifetime >= time.Hour && len(seen) < 20 {
			t.Errorf("lifetime %s: 100 pods refresh at only %d times", lifetime, len(seen))
		}
	}
	if _, ok := BeginRefreshAt(t0, t0.Add(19*time.Minute), nil); ok {
		t.Error("a 19-minute certificate got a refresh time inside a window that does not exist")
	}
}
