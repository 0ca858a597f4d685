package certificates_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// fakeToken opens one key by URI and counts the opens.
type fakeToken struct {
	uri   string
	key   crypto.Signer
	opens int
}

func (f *fakeToken) open(uri string) (crypto.Signer, error) {
	f.opens++
	if uri != f.uri {
		return nil, errors.New("pkcs11: pkcs11:token=t;object=nope: no such key pair")
	}
	return f.key, nil
}

// TestKeyURICA: the certificate is read from its file and again when it
// changes; the key is opened once, from the token.
func TestKeyURICA(t *testing.T) {
	dir := t.TempDir()
	certFile, _, first := writeCA(t, dir, "first", time.Now().Add(-time.Hour))
	tk := &fakeToken{uri: "pkcs11:token=t;object=ca", key: first.Key}
	k := &certificates.KeyURICA{CertFile: certFile, KeyURI: tk.uri, Open: tk.open}
	got, err := k.CA()
	if err != nil || got.Key != first.Key {
		t.Fatalf("first load: %v %v", got, err)
	}
	if again, _ := k.CA(); again != got || tk.opens != 1 {
		t.Errorf("unchanged: read again, or %d opens", tk.opens)
	}
	// A new certificate for the same token key (re-certified) is picked up.
	now := time.Now()
	recert, err := pki.SelfSign(rand.Reader, now, &pki.Template{IsCA: true, Duration: time.Hour}, first.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pki.EncodeCertificatesPEM(recert), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = k.CA()
	if err != nil || !got.Certificate.Equal(recert) || tk.opens != 1 {
		t.Errorf("after re-certification: %v, %v, %d opens", got, err, tk.opens)
	}
	// A certificate of another key is refused.
	other := pkitest.CA(t, "other")
	if err := os.WriteFile(certFile, pki.EncodeCertificatesPEM(other.Certificate), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := k.CA(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("certificate of another key: %v", err)
	}

	// No opener, or one that fails: an error naming the certificate and
	// what the opener said.
	if _, err := (&certificates.KeyURICA{CertFile: certFile, KeyURI: tk.uri}).CA(); err == nil || !strings.Contains(err.Error(), "cannot open one") {
		t.Errorf("without an opener: %v", err)
	}
	bad := &certificates.KeyURICA{CertFile: certFile, KeyURI: "pkcs11:token=t;object=nope", Open: tk.open}
	if _, err := bad.CA(); err == nil || !strings.Contains(err.Error(), "signing CA "+certFile+": pkcs11: pkcs11:token=t;object=nope: no such key pair") {
		t.Errorf("a key the token lacks: %v", err)
	}
}

func TestSigningFilesKeyURIs(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, ca := writeCA(t, dir, "ca", time.Now())
	tk := &fakeToken{uri: "pkcs11:token=t;object=ca", key: ca.Key}
	tests := []struct {
		name    string
		files   certificates.SigningFiles
		signers int
		wantErr string
	}{
		{"general key URI", certificates.SigningFiles{CertFile: certFile, KeyURI: tk.uri, OpenKey: tk.open}, 4, ""},
		{"key file and URI", certificates.SigningFiles{CertFile: certFile, KeyFile: keyFile, KeyURI: tk.uri, OpenKey: tk.open}, 0, "not both"},
		{"URI without cert", certificates.SigningFiles{KeyURI: tk.uri, OpenKey: tk.open}, 0, "go together"},
		{"one signer's URI", certificates.SigningFiles{
			PerSigner: map[string][2]string{csrpolicy.KubeAPIServerClient: {certFile, ""}}, PerSignerKeyURI: map[string]string{csrpolicy.KubeAPIServerClient: tk.uri}, OpenKey: tk.open,
		}, 1, ""},
		{"signer's file and URI", certificates.SigningFiles{
			PerSigner: map[string][2]string{csrpolicy.KubeAPIServerClient: {certFile, keyFile}}, PerSignerKeyURI: map[string]string{csrpolicy.KubeAPIServerClient: tk.uri}, OpenKey: tk.open,
		}, 0, "not both"},
		{"signer's URI without cert", certificates.SigningFiles{PerSignerKeyURI: map[string]string{csrpolicy.KubeletServing: tk.uri}, OpenKey: tk.open}, 0, "needs its cert file"},
		{"key the token lacks", certificates.SigningFiles{CertFile: certFile, KeyURI: "pkcs11:token=t;object=nope", OpenKey: tk.open}, 0, "no such key pair"},
	}
	for _, tt := range tests {
		cas, err := tt.files.CAs()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error = %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(cas) != tt.signers {
			t.Errorf("%s: %d signers, %v; want %d", tt.name, len(cas), err, tt.signers)
			continue
		}
		for signer, src := range cas {
			got, err := src.CA()
			if err != nil || got.Key != ca.Key {
				t.Errorf("%s: signer %s: %v", tt.name, signer, err)
			}
		}
	}
}

type failingCA struct{ err error }

func (f failingCA) CA() (*pki.CA, error) { return nil, f.err }

// brokenSigner is a key whose token stopped answering.
type brokenSigner struct{ crypto.Signer }

func (brokenSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("pkcs11: pkcs11:token=t;object=ca: signing: device removed (CKR_DEVICE_REMOVED)")
}

// TestCSRSigningTokenFailures: a CA that cannot be had, or a key that
// cannot sign, leaves the request unsigned, not Failed, with a Warning
// Event naming why, and the error returned so that it is tried again.
func TestCSRSigningTokenFailures(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ca := pkitest.CA(t, "token CA")
	for _, tt := range []struct {
		name string
		src  certificates.CASource
		want string
	}{
		{"ca unavailable", failingCA{errors.New("signing CA /pki/ca.crt: pkcs11: pkcs11:token=t;object=ca: login refused: wrong PIN (CKR_PIN_INCORRECT)")},
			"Warning SignerUnavailable signing CA /pki/ca.crt: pkcs11: pkcs11:token=t;object=ca: login refused"},
		{"key cannot sign", staticCA{&pki.CA{Certificate: ca.Certificate, Key: brokenSigner{ca.Key}}},
			"Warning SignerUnavailable signing: pki: signing certificate for"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			csr := approvedCSR(t, "jane", pki.Request{CommonName: "jane"})
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(csr).WithStatusSubresource(csr).Build()
			events := &recordedEvents{}
			r := &certificates.CSRSigningReconciler{Reader: c, Status: c.Status(), Events: events,
				CAs: map[string]certificates.CASource{csrpolicy.KubeAPIServerClient: tt.src}}
			if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "jane"}}); err == nil {
				t.Error("no error: the request would not be tried again")
			}
			if len(events.events) != 1 || !strings.HasPrefix(events.events[0], tt.want) {
				t.Errorf("events %q, want one starting %q", events.events, tt.want)
			}
			got := &certv1.CertificateSigningRequest{}
			if err := c.Get(context.Background(), types.NamespacedName{Name: "jane"}, got); err != nil {
				t.Fatal(err)
			}
			if len(got.Status.Certificate) > 0 || len(got.Status.Conditions) != 1 {
				t.Errorf("status %+v, want only Approved", got.Status)
			}
		})
	}
}
