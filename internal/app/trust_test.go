package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func TestLoadDefaultCAs(t *testing.T) {
	dir := t.TempDir()
	bundle, status := filepath.Join(dir, "ca-certificates.crt"), filepath.Join(dir, "status")
	pem := pki.EncodeCertificatesPEM(pkitest.CA(t, "a").Certificate, pkitest.CA(t, "b").Certificate)
	if err := os.WriteFile(bundle, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(status, []byte("Package: ca-certificates\nStatus: install ok installed\nVersion: 20230311+deb12u1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := loadDefaultCAs(bundle, status)
	if err != nil || d == nil || string(d.PEM) != string(pem) || !strings.HasPrefix(d.Version, "ca-certificates-20230311+deb12u1-") {
		t.Fatalf("loadDefaultCAs: %+v, %v", d, err)
	}
	if d, err := loadDefaultCAs(bundle, filepath.Join(dir, "none")); err != nil || !strings.HasPrefix(d.Version, "ca-certificates-unknown-") {
		t.Errorf("without dpkg's status: %+v, %v", d, err)
	}
	if d, err := loadDefaultCAs(filepath.Join(dir, "none"), status); err != nil || d != nil {
		t.Errorf("without a bundle: %+v, %v; want none and no error", d, err)
	}
	if err := os.WriteFile(bundle, []byte("not PEM"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadDefaultCAs(bundle, status); err == nil || !strings.Contains(err.Error(), bundle) {
		t.Errorf("a broken bundle: %v, want an error naming the file", err)
	}
}
