package certificates_test

import (
	"crypto"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

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
