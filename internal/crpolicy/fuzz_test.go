package crpolicy

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// FuzzRequestAndKeyErrors: whatever a CertificateRequest's spec.request or
// a selfSigned issuer's tls.key holds, the request is read or its Ready
// message is one line naming what is wrong; a request that reads gives a
// template for any usages and duration the spec holds.
func FuzzRequestAndKeyErrors(f *testing.F) {
	key := pkitest.Key(f)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "app"}, DNSNames: []string{"app.example"}}, key)
	if err != nil {
		f.Fatal(err)
	}
	good := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	keyPEM, _ := pki.MarshalPrivateKeyPEM(key, pki.FormatPKCS8)
	f.Add(good, "digital signature,server auth", int64(time.Hour), true)
	f.Add(good[:len(good)/2], "", int64(0), false)
	f.Add(der, "", int64(-1), false)
	f.Add(keyPEM, "bogus", int64(1), false)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), "", int64(0), false)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), "", int64(0), false)
	f.Fuzz(func(t *testing.T, request []byte, usages string, duration int64, isCA bool) {
		oneLine := func(what, msg string) {
			if msg == "" || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("%s message %q: want one line", what, msg)
			}
		}
		if _, err := pki.ParsePrivateKeyPEM(request); err != nil {
			oneLine("key", KeyError("s", request, err))
		}
		csr, err := pki.ParseCSRPEM(request)
		if err != nil {
			oneLine("request", RequestError(request, err))
			return
		}
		spec := &cmv1.CertificateRequestSpec{Request: request, IsCA: isCA, Duration: &metav1.Duration{Duration: time.Duration(duration)}}
		for _, u := range strings.Split(usages, ",") {
			spec.Usages = append(spec.Usages, cmv1.KeyUsage(u))
		}
		if tmpl := Template(csr, spec); tmpl.Duration <= 0 {
			t.Fatalf("template duration %s for spec.duration %s", tmpl.Duration, time.Duration(duration))
		}
	})
}
