package issuerpolicy_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/issuerpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

const softhsm = "/usr/lib/softhsm/libsofthsm2.so"

func TestCheckKeyURI(t *testing.T) {
	modules := []string{softhsm}
	tests := []struct {
		name, uri string
		modules   []string
		want      string // "" for accepted
	}{
		{"query module-path", "pkcs11:token=ca;object=root?module-path=" + softhsm, modules, ""},
		{"path module-path", "pkcs11:module-path=" + softhsm + ";token=ca;object=root", modules, ""},
		{"escaped module-path", "pkcs11:token=ca;object=root?module-path=%2Fusr%2Flib%2Fsofthsm%2Flibsofthsm2.so", modules, ""},
		{"not pkcs11", "file:/etc/ca.key", modules, "not a PKCS#11 URI"},
		{"pin-value", "pkcs11:token=ca;object=root?module-path=" + softhsm + "&pin-value=1234", modules, "may not carry pin-value"},
		{"pin-source", "pkcs11:token=ca;object=root?pin-source=file:/etc/shadow&module-path=" + softhsm, modules, "may not carry pin-source"},
		{"upper-case pin attribute", "pkcs11:token=ca;object=root?module-path=" + softhsm + "&PIN-VALUE=1", modules, "may not carry pin-value"},
		{"no module", "pkcs11:token=ca;object=root", modules, "names no module-path"},
		{"module not allowed", "pkcs11:token=ca;object=root?module-path=/tmp/evil.so", modules, "module-path /tmp/evil.so is not a PKCS#11 module the controller may load (it may load " + softhsm},
		{"no modules allowed", "pkcs11:token=ca;object=root?module-path=" + softhsm, nil, "(none are; see --issuer-pkcs11-modules)"},
		{"relative module", "pkcs11:token=ca;object=root?module-path=lib.so", modules, "not a clean absolute file name"},
		{"dotted module", "pkcs11:token=ca;object=root?module-path=/usr/lib/../lib/softhsm/libsofthsm2.so", modules, "not a clean absolute file name"},
		{"module twice", "pkcs11:module-path=" + softhsm + ";token=ca?module-path=" + softhsm, modules, "given twice"},
		{"bad escape", "pkcs11:token=ca?module-path=%zz", modules, "not percent-encoded"},
		{"two lines", "pkcs11:token=ca;object=root?module-path=" + softhsm + "\nx", modules, "one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := issuerpolicy.CheckKeyURI(tt.uri, tt.modules)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzCheckKeyURI: any string is checked without a panic, and an accepted
// URI never carries a PIN and always names an allowed module.
func FuzzCheckKeyURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=ca;object=root?module-path=" + softhsm,
		"pkcs11:module-path=" + softhsm + ";token=ca",
		"pkcs11:token=ca?module-path=" + softhsm + "&pin-value=1",
		"pkcs11:?module-path=%2fusr",
		"pkcs11:;;&&??==",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		if issuerpolicy.CheckKeyURI(uri, []string{softhsm}) != nil {
			return
		}
		lower := strings.ToLower(uri)
		if strings.Contains(lower, "pin-value=") || strings.Contains(lower, "pin-source=") {
			t.Errorf("accepted a URI with a PIN attribute: %q", uri)
		}
		if !strings.Contains(uri, "module-path=") {
			t.Errorf("accepted a URI without module-path: %q", uri)
		}
	})
}

func TestKeyURIWithPIN(t *testing.T) {
	for _, tt := range []struct{ uri, pin, want string }{
		{"pkcs11:token=a;object=b", "1234", "pkcs11:token=a;object=b?pin-value=1234"},
		{"pkcs11:token=a?module-path=/m.so", "p&w=d%;?", "pkcs11:token=a?module-path=/m.so&pin-value=p%26w%3Dd%25%3B%3F"},
	} {
		got := issuerpolicy.KeyURIWithPIN(tt.uri, tt.pin)
		if got != tt.want {
			t.Errorf("KeyURIWithPIN(%q, %q) = %q, want %q", tt.uri, tt.pin, got, tt.want)
		}
		_, query, _ := strings.Cut(got, "?")
		v, err := url.ParseQuery(query)
		if err != nil || v.Get("pin-value") != tt.pin {
			t.Errorf("%q: pin-value decodes to %q (%v)", got, v.Get("pin-value"), err)
		}
	}
}

func TestPINSecretName(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "root"}}
	if _, err := issuerpolicy.PINSecretName(s); err == nil || !strings.Contains(err.Error(), `secret "root" holds tls.key-uri but has no certplane.io/pkcs11-pin-secret annotation`) {
		t.Errorf("no annotation: %v", err)
	}
	s.Annotations = map[string]string{issuerpolicy.PINSecretAnnotation: "../pin"}
	if _, err := issuerpolicy.PINSecretName(s); err == nil || !strings.Contains(err.Error(), "not a valid Secret name") {
		t.Errorf("bad name: %v", err)
	}
	s.Annotations[issuerpolicy.PINSecretAnnotation] = "root-pin"
	if name, err := issuerpolicy.PINSecretName(s); err != nil || name != "root-pin" {
		t.Errorf("good name: %q %v", name, err)
	}
}

// TestEvaluateWithTokenKey: a Secret with tls.crt and tls.key-uri is ready
// with the key the controller opened; failures to open are ErrGetKeyPair,
// a mismatching or doubled key ErrInvalidKeyPair.
func TestEvaluateWithTokenKey(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ca := pkitest.CAAt(t, "ca", now, 24*time.Hour)
	other := pkitest.Key(t)
	caSpec := &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "root"}}}
	certPEM := pki.EncodeCertificatesPEM(ca.Certificate)
	uriSecret := &corev1.Secret{Data: map[string][]byte{corev1.TLSCertKey: certPEM, issuerpolicy.KeyURIKey: []byte("pkcs11:token=t;object=ca")}}
	both := uriSecret.DeepCopy()
	both.Data[corev1.TLSPrivateKeyKey] = keyPEM(t, ca)
	tests := []struct {
		name       string
		secret     *corev1.Secret
		token      issuerpolicy.TokenKey
		wantReady  bool
		wantReason string
		wantMsg    string
	}{
		{"opened", uriSecret, issuerpolicy.TokenKey{Key: ca.Key}, true, "KeyPairVerified", "Signing CA verified"},
		{"wrong PIN", uriSecret, issuerpolicy.TokenKey{Err: errors.New("pkcs11: pkcs11:token=t;object=ca: login refused")}, false, "ErrGetKeyPair",
			"Error getting keypair for CA issuer: tls.key-uri: pkcs11: pkcs11:token=t;object=ca: login refused"},
		{"another key", uriSecret, issuerpolicy.TokenKey{Key: other}, false, "ErrInvalidKeyPair", "private key does not match"},
		{"both", both, issuerpolicy.TokenKey{Key: ca.Key}, false, "ErrInvalidKeyPair", `secret "root" holds both tls.key and tls.key-uri`},
		{"missing", nil, issuerpolicy.TokenKey{}, false, "ErrGetKeyPair", `secret "root" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := issuerpolicy.EvaluateWithTokenKey(caSpec, "root", tt.secret, tt.token, now)
			if r.Ready != tt.wantReady || r.Reason != tt.wantReason || !strings.Contains(r.Message, tt.wantMsg) {
				t.Errorf("got %v %q %q, want %v %q containing %q", r.Ready, r.Reason, r.Message, tt.wantReady, tt.wantReason, tt.wantMsg)
			}
			if tt.wantReady && r.CA.Key != ca.Key {
				t.Error("the CA does not sign with the token's key")
			}
		})
	}
	// Evaluate, which opens nothing, says the key was not opened.
	r := issuerpolicy.Evaluate(caSpec, "root", uriSecret, now)
	if r.Ready || r.Reason != "ErrGetKeyPair" || !strings.Contains(r.Message, "has not been opened") {
		t.Errorf("Evaluate of a key URI: %+v", r)
	}
}
