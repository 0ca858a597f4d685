package certpolicy

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestCheckReplacedPair: the request hash says a Secret's certificate was
// issued for the spec only while the Secret still holds the certificate
// certplane wrote with it. A pair put in its place with the annotations
// kept (as TestBadInputAPI does) is compared with the spec like any other,
// and reissued when it certifies other names.
func TestCheckReplacedPair(t *testing.T) {
	crt := certificate()
	good, _ := issued(t, crt, t0)
	otherCrt := certificate()
	otherCrt.Spec.DNSNames = []string{"elsewhere.example"}
	otherCrt.Spec.IPAddresses = nil
	foreign, _ := issued(t, otherCrt, t0)
	twin, _ := issued(t, crt, t0)
	tests := []struct {
		name   string
		secret func() *corev1.Secret
		want   string // "" means up to date
	}{
		{"as written", func() *corev1.Secret { return good }, ""},
		{"pair for other names, annotations kept", func() *corev1.Secret {
			s := good.DeepCopy()
			s.Data["tls.crt"], s.Data["tls.key"] = foreign.Data["tls.crt"], foreign.Data["tls.key"]
			return s
		}, ReasonIncorrectCert},
		{"certificate for other names, no key change possible", func() *corev1.Secret {
			s := good.DeepCopy()
			s.Data["tls.crt"] = foreign.Data["tls.crt"]
			return s
		}, ReasonInvalidKeyPair},
		{"annotations edited, pair kept", func() *corev1.Secret {
			s := good.DeepCopy()
			s.Annotations[AnnotationAltNames] = "edited.example"
			return s
		}, ""},
		// What the hash cannot tell: another pair for the very same names
		// and key type (a different key, even another CA) passes.
		{"pair for the same names", func() *corev1.Secret {
			s := good.DeepCopy()
			s.Data["tls.crt"], s.Data["tls.key"] = twin.Data["tls.crt"], twin.Data["tls.key"]
			return s
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := NewRequest(&crt.Spec)
			if err != nil {
				t.Fatal(err)
			}
			d := Check(crt, req, tt.secret(), t0.Add(time.Hour))
			if d.Reason != tt.want || d.Issue != (tt.want != "") {
				t.Fatalf("Check() = %v %q (%s), want %q", d.Issue, d.Reason, d.Message, tt.want)
			}
		})
	}
	// An issuer that shapes the names it certifies still gets no reissue:
	// the annotations describe the leaf it returned.
	shaped := certificate()
	shaped.Spec.IPAddresses = nil
	req, _ := NewRequest(&shaped.Spec)
	s := good.DeepCopy()
	s.Annotations[AnnotationRequestHash] = req.Hash
	if d := Check(shaped, req, s, t0.Add(time.Hour)); d.Issue {
		t.Errorf("reissued a certificate its issuer shaped: %s", d.Message)
	}
}
