package issuerpolicy

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// FuzzEvaluate: whatever a CA issuer's Secret holds in tls.crt, tls.key
// and ca.crt, Evaluate says ready with a verified CA whose key is its
// certificate's, or not ready with a reason and a one-line message;
// never a panic.
func FuzzEvaluate(f *testing.F) {
	now := time.Now()
	root := pkitest.CA(f, "fuzz root")
	interKey := pkitest.Key(f)
	interCert, err := root.Issue(rand.Reader, now, &pki.Template{Subject: pkix.Name{CommonName: "fuzz intermediate"}, IsCA: true, Duration: 24 * time.Hour}, interKey.Public())
	if err != nil {
		f.Fatal(err)
	}
	rootPEM := pki.EncodeCertificatesPEM(root.Certificate)
	rootKey, _ := pki.MarshalPrivateKeyPEM(root.Key, pki.FormatDefault)
	interKeyPEM, _ := pki.MarshalPrivateKeyPEM(interKey, pki.FormatPKCS8)
	leaf, leafKey := pkitest.Leaf(f, root, "leaf", nil, "leaf.example")
	leafKeyPEM, _ := pki.MarshalPrivateKeyPEM(leafKey, pki.FormatDefault)
	f.Add(rootPEM, rootKey, []byte(nil))
	f.Add(pki.EncodeCertificatesPEM(interCert, root.Certificate), interKeyPEM, rootPEM)
	f.Add(pki.EncodeCertificatesPEM(interCert), interKeyPEM, []byte("junk"))
	f.Add(rootPEM, interKeyPEM, []byte(nil))                        // mismatched key
	f.Add(pki.EncodeCertificatesPEM(leaf), leafKeyPEM, []byte(nil)) // not a CA
	f.Add(rootPEM[:len(rootPEM)/2], rootKey, []byte(nil))           // truncated
	f.Add(rootKey, rootPEM, []byte(nil))                            // swapped
	f.Add([]byte("junk"), []byte("junk"), rootPEM)
	spec := &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "ca"}}}
	f.Fuzz(func(t *testing.T, crt, key, ca []byte) {
		secret := &corev1.Secret{Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}
		if ca != nil {
			secret.Data["ca.crt"] = ca
		}
		r := Evaluate(spec, "ca", secret, now)
		if r.Reason == "" {
			t.Fatal("no reason")
		}
		if !r.Ready {
			if r.Message == "" || strings.ContainsAny(r.Message, "\n\r") {
				t.Fatalf("not ready with message %q: want one line", r.Message)
			}
			return
		}
		if r.CA == nil || !pki.KeyMatches(r.CA.Certificate.PublicKey, r.CA.Key) || !r.CA.Certificate.IsCA {
			t.Fatal("ready with a CA that is not one, or whose key is not its certificate's")
		}
		if r.Anchor == nil || (len(r.Chain) > 0 && r.Chain[0] != r.CA.Certificate) {
			t.Fatalf("ready with anchor %v and a chain that does not start with the CA", r.Anchor != nil)
		}
	})
}

// FuzzParseSignerName: a CSR's signerName gives an issuer reference that
// names it again, or an error; never a panic.
func FuzzParseSignerName(f *testing.F) {
	for _, s := range []string{"issuers.cert-manager.io/ns.name", "issuers.cert-manager.io/ns.a.b", "clusterissuers.cert-manager.io/ca",
		"issuers.cert-manager.io/nodot", "issuers.cert-manager.io/.x", "issuers.cert-manager.io/x.", "clusterissuers.cert-manager.io/",
		"clusterissuers.cert-manager.io/a/b", "kubernetes.io/kube-apiserver-client", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, signer string) {
		ref, err := ParseSignerName(signer)
		if err != nil {
			if IsIssuerSigner(signer) == strings.Contains(err.Error(), ErrNotIssuerSigner.Error()) {
				t.Fatalf("ParseSignerName(%q): %v, but IsIssuerSigner says %v", signer, err, IsIssuerSigner(signer))
			}
			return
		}
		if ref.Name == "" || (!ref.Cluster && ref.Namespace == "") {
			t.Fatalf("ParseSignerName(%q) = %+v: empty parts", signer, ref)
		}
		if got := ref.SignerName(); got != signer {
			t.Fatalf("ParseSignerName(%q) = %+v, which names %q", signer, ref, got)
		}
	})
}

// FuzzRequestDuration: a CSR's expirationSeconds and duration annotation
// give a duration of at least the minimum, or an error.
func FuzzRequestDuration(f *testing.F) {
	f.Add(int32(3600), false, "")
	f.Add(int32(0), true, "2160h")
	f.Add(int32(0), true, "garbage")
	f.Add(int32(0), true, "3000000h")
	f.Add(int32(-5), false, "")
	f.Add(int32(2147483647), true, "-1h")
	f.Fuzz(func(t *testing.T, seconds int32, useSeconds bool, annotation string) {
		var exp *int32
		if useSeconds {
			exp = &seconds
		}
		d, err := RequestDuration(exp, map[string]string{AnnotationRequestDuration: annotation})
		if err == nil && d < MinRequestDuration {
			t.Fatalf("RequestDuration(%v, %q) = %s, under the minimum", exp, annotation, d)
		}
	})
}
