package certificates_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func writeCA(t *testing.T, dir, name string, mtime time.Time) (string, string, *pki.CA) {
	t.Helper()
	ca := pkitest.CA(t, name)
	keyPEM, err := pki.MarshalPrivateKeyPEM(ca.Key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	for path, data := range map[string][]byte{certFile: pki.EncodeCertificatesPEM(ca.Certificate), keyFile: keyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, ca
}

func TestFileCAReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := writeCA(t, dir, "first", time.Now().Add(-time.Hour))
	f := &certificates.FileCA{CertFile: certFile, KeyFile: keyFile}
	got, err := f.CA()
	if err != nil || got.Certificate.Subject.CommonName != "first" {
		t.Fatalf("first load: %v %v", got, err)
	}
	if again, _ := f.CA(); again != got {
		t.Error("unchanged files were read again")
	}
	_, _, _ = writeCA(t, dir, "second", time.Now())
	got, err = f.CA()
	if err != nil || got.Certificate.Subject.CommonName != "second" {
		t.Fatalf("after rotation: %v %v, want the second CA", got, err)
	}
	_ = first
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := f.CA(); err == nil || !strings.Contains(err.Error(), "ca.key") {
		t.Errorf("missing key file: %v", err)
	}
}

func TestSigningFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeCA(t, dir, "ca", time.Now())
	tests := []struct {
		name    string
		files   certificates.SigningFiles
		signers int
		wantErr string
	}{
		{"none", certificates.SigningFiles{}, 0, ""},
		{"general pair", certificates.SigningFiles{CertFile: certFile, KeyFile: keyFile}, 4, ""},
		{"cert without key", certificates.SigningFiles{CertFile: certFile}, 0, "go together"},
		{"one signer", certificates.SigningFiles{PerSigner: map[string][2]string{csrpolicy.KubeletServing: {certFile, keyFile}}}, 1, ""},
		{"per-signer half pair", certificates.SigningFiles{PerSigner: map[string][2]string{csrpolicy.KubeletServing: {certFile, ""}}}, 0, "go together"},
		{"mixed", certificates.SigningFiles{CertFile: certFile, KeyFile: keyFile, PerSigner: map[string][2]string{csrpolicy.KubeletServing: {certFile, keyFile}}}, 0, "at the same time"},
		{"missing file", certificates.SigningFiles{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: keyFile}, 0, "nope.crt: no such file"},
		{"key of another CA", certificates.SigningFiles{CertFile: certFile, KeyFile: otherKey(t)}, 0, "does not match"},
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
		}
		if tt.name == "general pair" && cas[csrpolicy.KubeletServing] != cas[csrpolicy.KubeAPIServerClient] {
			t.Error("the general pair is loaded once per signer instead of once")
		}
	}
}

func otherKey(t *testing.T) string {
	t.Helper()
	_, keyFile, _ := writeCA(t, t.TempDir(), "other", time.Now())
	return keyFile
}
