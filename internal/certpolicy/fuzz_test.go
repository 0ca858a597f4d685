package certpolicy

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// FuzzNewRequestAndCheck: whatever strings a spec and its Secret hold,
// NewRequest and Check answer without panicking.
func FuzzNewRequestAndCheck(f *testing.F) {
	f.Add("CN=a,O=b", "10.0.0.1", "spiffe://x/y", "a@b.c", "1.2.3.4", []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte("junk"))
	f.Add("", "::1", "https://x", "", "", []byte(""), []byte(""))
	f.Fuzz(func(t *testing.T, literal, ip, uri, email, oid string, crt, key []byte) {
		c := &cmv1.Certificate{Spec: cmv1.CertificateSpec{
			SecretName: "s", LiteralSubject: literal, IPAddresses: []string{ip}, URIs: []string{uri}, EmailAddresses: []string{email},
			OtherNames: []cmv1.OtherName{{OID: oid, UTF8Value: literal}}, IssuerRef: cmv1.ObjectReference{Name: "i"},
		}}
		req, err := NewRequest(&c.Spec)
		if err != nil {
			return
		}
		Check(c, req, &corev1.Secret{Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}, time.Now())
	})
}
