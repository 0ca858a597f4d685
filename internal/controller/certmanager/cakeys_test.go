package certmanager

import (
	"context"
	"crypto"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/issuerpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

const testModule = "/usr/lib/softhsm/libsofthsm2.so"

// fakeToken answers Open for one key and one PIN, and records the URIs
// it was given.
type fakeToken struct {
	key  crypto.Signer
	pin  string
	uris []string
}

func (f *fakeToken) open(uri string) (crypto.Signer, error) {
	f.uris = append(f.uris, uri)
	_, query, _ := strings.Cut(uri, "?")
	q, _ := url.ParseQuery(query)
	if q.Get("pin-value") != f.pin {
		return nil, errors.New("pkcs11: pkcs11:token=ca;object=root?module-path=" + testModule + "&pin-value=REDACTED: login refused")
	}
	return f.key, nil
}

func hsmClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := cmv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// TestCAIssuerWithTokenKey resolves a ca issuer whose Secret holds tls.crt
// and tls.key-uri: ready with the token's key, opened once with the PIN of
// the Secret the annotation names; a wrong PIN, a missing PIN Secret or a
// module the controller may not load make it not ready, and a failed open
// is not tried again within tokenRetry.
func TestCAIssuerWithTokenKey(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ca := pkitest.CAAt(t, "token-ca", now, 24*time.Hour)
	uri := "pkcs11:token=ca;object=root?module-path=" + testModule
	caSecret := func(pinSecret, uri string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "root", ResourceVersion: "1",
				Annotations: map[string]string{issuerpolicy.PINSecretAnnotation: pinSecret}},
			Data: map[string][]byte{corev1.TLSCertKey: pki.EncodeCertificatesPEM(ca.Certificate), issuerpolicy.KeyURIKey: []byte(uri)},
		}
	}
	pin := func(name, value string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name}, Data: map[string][]byte{issuerpolicy.PINKey: []byte(value + "\n")}}
	}
	issuer := &cmv1.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "hsm"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "root"}}}}
	ref := cmv1.ObjectReference{Name: "hsm", Kind: "Issuer"}

	tests := []struct {
		name       string
		objs       []client.Object
		modules    []string
		wantReady  bool
		wantReason string
		wantMsg    string
	}{
		{"opened", []client.Object{caSecret("root-pin", uri), pin("root-pin", "1234")}, []string{testModule}, true, "KeyPairVerified", "Signing CA verified"},
		{"wrong PIN", []client.Object{caSecret("root-pin", uri), pin("root-pin", "9999")}, []string{testModule}, false, "ErrGetKeyPair", "tls.key-uri: pkcs11: pkcs11:token=ca;object=root?module-path=" + testModule + ": login refused"},
		{"PIN Secret missing", []client.Object{caSecret("root-pin", uri)}, []string{testModule}, false, "ErrGetKeyPair", `the PIN Secret "root-pin" (annotation certplane.io/pkcs11-pin-secret) was not found`},
		{"no annotation", []client.Object{caSecret("", uri)}, []string{testModule}, false, "ErrGetKeyPair", "has no certplane.io/pkcs11-pin-secret annotation"},
		{"module not allowed", []client.Object{caSecret("root-pin", uri), pin("root-pin", "1234")}, nil, false, "ErrGetKeyPair", "not a PKCS#11 module the controller may load"},
		{"PIN in the URI", []client.Object{caSecret("root-pin", uri+"&pin-value=1234"), pin("root-pin", "1234")}, []string{testModule}, false, "ErrGetKeyPair", "may not carry pin-value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := hsmClient(t, append(tt.objs, issuer)...)
			tk := &fakeToken{key: ca.Key, pin: "1234"}
			clock := now
			keys := &CAKeys{Secrets: c, Open: tk.open, Modules: tt.modules, Now: func() time.Time { return clock }}
			issuers := &Issuers{Reader: c, Secrets: c, APIReader: c, Keys: keys}
			for range 3 {
				got, err := issuers.Resolve(context.Background(), "team", ref, now)
				if err != nil {
					t.Fatal(err)
				}
				r := got.Readiness
				if r.Ready != tt.wantReady || r.Reason != tt.wantReason || !strings.Contains(r.Message, tt.wantMsg) {
					t.Fatalf("got %v %q %q, want %v %q containing %q", r.Ready, r.Reason, r.Message, tt.wantReady, tt.wantReason, tt.wantMsg)
				}
				if strings.Contains(r.Message, "1234") || strings.Contains(r.Message, "9999") {
					t.Errorf("the message shows the PIN: %q", r.Message)
				}
				if r.Ready && r.CA.Key != ca.Key {
					t.Error("the CA does not sign with the token's key")
				}
			}
			if len(tk.uris) > 1 {
				t.Errorf("opened %d times, want at most once", len(tk.uris))
			}
			if len(tk.uris) == 1 && !strings.HasPrefix(tk.uris[0], uri+"&pin-value=") {
				t.Errorf("opened %q, want the Secret's URI with the PIN added", tk.uris[0])
			}
			if tt.name == "wrong PIN" {
				clock = clock.Add(tokenRetry)
				if _, err := issuers.Resolve(context.Background(), "team", ref, now); err != nil || len(tk.uris) != 2 {
					t.Errorf("after tokenRetry: %v, %d opens, want a second try", err, len(tk.uris))
				}
			}
		})
	}
}

func TestWithoutPIN(t *testing.T) {
	err := errors.New("module said: pin 12345678 refused")
	if got := withoutPIN(err, "12345678"); strings.Contains(got.Error(), "12345678") {
		t.Errorf("withoutPIN kept the PIN: %v", got)
	}
	if got := withoutPIN(err, "87654321"); got.Error() != err.Error() || !errors.Is(got, err) {
		t.Errorf("withoutPIN changed an error without the PIN: %v", got)
	}
}

func TestCAKeysWithoutOpener(t *testing.T) {
	var keys *CAKeys
	tk, err := keys.Token(context.Background(), &corev1.Secret{})
	if err != nil || tk.Err == nil || !strings.Contains(tk.Err.Error(), "cannot open keys in PKCS#11 tokens") {
		t.Errorf("nil CAKeys: %v %v", tk, err)
	}
}
