package app

import (
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/pkg/pki"
)

func TestSPIFFECA(t *testing.T) {
	tests := []struct {
		name    string
		s       certificates.SigningFiles
		want    string // "" none, "file", "uri"
		wantErr string
	}{
		{name: "none"},
		{name: "key file", s: certificates.SigningFiles{CertFile: "ca.crt", KeyFile: "ca.key"}, want: "file"},
		{name: "key URI", s: certificates.SigningFiles{CertFile: "ca.crt", KeyURI: "pkcs11:token=t;object=k"}, want: "uri"},
		{name: "key file and key URI", s: certificates.SigningFiles{CertFile: "ca.crt", KeyFile: "ca.key", KeyURI: "pkcs11:token=t;object=k"},
			wantErr: "give --spiffe-signing-key-file or --spiffe-signing-key-uri, not both"},
		{name: "both keys without a certificate", s: certificates.SigningFiles{KeyFile: "ca.key", KeyURI: "pkcs11:token=t;object=k"},
			wantErr: "give --spiffe-signing-key-file or --spiffe-signing-key-uri, not both"},
		{name: "certificate alone", s: certificates.SigningFiles{CertFile: "ca.crt"},
			wantErr: "give both --spiffe-signing-cert-file and --spiffe-signing-key-file (or --spiffe-signing-key-uri)"},
		{name: "key file alone", s: certificates.SigningFiles{KeyFile: "ca.key"},
			wantErr: "give both --spiffe-signing-cert-file and --spiffe-signing-key-file (or --spiffe-signing-key-uri)"},
		{name: "key URI alone", s: certificates.SigningFiles{KeyURI: "pkcs11:token=t;object=k"},
			wantErr: "give both --spiffe-signing-cert-file and --spiffe-signing-key-file (or --spiffe-signing-key-uri)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, err := SPIFFECA(tt.s)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || ca != nil {
					t.Fatalf("SPIFFECA = %v, %v; want error %q", ca, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch c := ca.(type) {
			case nil:
				if tt.want != "" {
					t.Errorf("no CA, want %s", tt.want)
				}
			case *certificates.FileCA:
				if tt.want != "file" || c.CertFile != tt.s.CertFile || c.KeyFile != tt.s.KeyFile {
					t.Errorf("FileCA %+v, want %s", c, tt.want)
				}
			case *certificates.KeyURICA:
				if tt.want != "uri" || c.CertFile != tt.s.CertFile || c.KeyURI != tt.s.KeyURI {
					t.Errorf("KeyURICA %+v, want %s", c, tt.want)
				}
			default:
				t.Errorf("CA of type %T", ca)
			}
		})
	}
}

// TestSPIFFECAOpensKeyURI: the CA a key URI names signs with the key
// Options.OpenKey opens for that URI (the token's, in certplane).
func TestSPIFFECAOpensKeyURI(t *testing.T) {
	key, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.SelfSign(rand.Reader, time.Now(), &pki.Template{
		Subject: pkix.Name{CommonName: "spiffe CA"}, IsCA: true,
		Usages: []pki.Usage{pki.UsageDigitalSignature, pki.UsageCertSign}, Duration: time.Hour,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "spiffe-ca.crt")
	if err := os.WriteFile(certFile, pki.EncodeCertificatesPEM(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	const uri = "pkcs11:token=t;object=spiffe-ca"
	var opened []string
	o := Options{
		SPIFFE: certificates.SigningFiles{CertFile: certFile, KeyURI: uri},
		OpenKey: func(u string) (crypto.Signer, error) {
			opened = append(opened, u)
			if u != uri {
				return nil, errors.New("unknown key")
			}
			return key, nil
		},
	}
	src, err := SPIFFECA(o.spiffe())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ca, err := src.CA()
		if err != nil {
			t.Fatal(err)
		}
		if !ca.Certificate.Equal(cert) || ca.Key != key {
			t.Error("the CA is not the certificate file with the opened key")
		}
	}
	if len(opened) != 1 {
		t.Errorf("opened %v, want the URI once", opened)
	}
}
