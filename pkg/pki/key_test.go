package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func TestParseKeySpec(t *testing.T) {
	tests := []struct {
		name    string
		want    pki.KeySpec
		wantErr error
	}{
		{"rsa-2048", pki.RSA2048, nil},
		{"RSA-3072", pki.RSA3072, nil},
		{"rsa-4096", pki.RSA4096, nil},
		{"ecdsa-p256", pki.ECDSAP256, nil},
		{"ecdsa-p384", pki.ECDSAP384, nil},
		{"ed25519", pki.Ed25519Key, nil},
		{"rsa-1024", pki.KeySpec{}, pki.ErrWeakKey},
		{"rsa-abc", pki.KeySpec{}, pki.ErrUnsupportedKey},
		{"ecdsa-p521", pki.ECDSAP521, nil},
		{"ecdsa-p512", pki.KeySpec{}, pki.ErrUnsupportedKey},
		{"dsa", pki.KeySpec{}, pki.ErrUnsupportedKey},
		{"", pki.KeySpec{}, pki.ErrUnsupportedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pki.ParseKeySpec(tt.name)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseKeySpec(%q) error = %v, want %v", tt.name, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseKeySpec(%q) = %v, want %v", tt.name, got, tt.want)
			}
			if tt.wantErr == nil && got.String() != lower(tt.name) {
				t.Errorf("String() = %q, want %q", got.String(), lower(tt.name))
			}
		})
	}
}

func lower(s string) string { return string(bytes.ToLower([]byte(s))) }

func TestKeySpecValidate(t *testing.T) {
	tests := []struct {
		spec    pki.KeySpec
		wantErr error
	}{
		{pki.KeySpec{}, nil}, // ECDSA P-256
		{pki.KeySpec{Algorithm: pki.RSA}, nil},
		{pki.KeySpec{Algorithm: pki.RSA, Size: 1024}, pki.ErrWeakKey},
		{pki.KeySpec{Algorithm: pki.RSA, Size: 2047}, pki.ErrWeakKey},
		{pki.KeySpec{Algorithm: pki.RSA, Size: 16384}, pki.ErrUnsupportedKey},
		{pki.KeySpec{Algorithm: pki.ECDSA, Size: 224}, pki.ErrUnsupportedKey},
		{pki.KeySpec{Algorithm: "dsa"}, pki.ErrUnsupportedKey},
	}
	for _, tt := range tests {
		if err := tt.spec.Validate(); !errors.Is(err, tt.wantErr) {
			t.Errorf("%+v.Validate() = %v, want %v", tt.spec, err, tt.wantErr)
		}
	}
}

func TestGenerateKeyRoundTrip(t *testing.T) {
	tests := []struct {
		spec     pki.KeySpec
		wantAlg  string
		wantBits int
		formats  []pki.KeyFormat
		pemType  string // of FormatDefault
	}{
		{pki.RSA2048, "RSA", 2048, []pki.KeyFormat{pki.FormatPKCS1, pki.FormatPKCS8}, "RSA PRIVATE KEY"},
		{pki.RSA3072, "RSA", 3072, []pki.KeyFormat{pki.FormatPKCS8}, "RSA PRIVATE KEY"},
		{pki.ECDSAP256, "ECDSA", 256, []pki.KeyFormat{pki.FormatSEC1, pki.FormatPKCS8}, "EC PRIVATE KEY"},
		{pki.ECDSAP384, "ECDSA", 384, []pki.KeyFormat{pki.FormatSEC1, pki.FormatPKCS8}, "EC PRIVATE KEY"},
		{pki.Ed25519Key, "Ed25519", 256, []pki.KeyFormat{pki.FormatPKCS8}, "PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.spec.String(), func(t *testing.T) {
			key, err := pki.GenerateKey(rand.Reader, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if alg, bits := pki.KeyDescription(key.Public()); alg != tt.wantAlg || bits != tt.wantBits {
				t.Errorf("KeyDescription = %s %d, want %s %d", alg, bits, tt.wantAlg, tt.wantBits)
			}
			for _, f := range append([]pki.KeyFormat{pki.FormatDefault}, tt.formats...) {
				data, err := pki.MarshalPrivateKeyPEM(key, f)
				if err != nil {
					t.Fatalf("format %d: %v", f, err)
				}
				if block, _ := pem.Decode(data); f == pki.FormatDefault && block.Type != tt.pemType {
					t.Errorf("default PEM type = %q, want %q", block.Type, tt.pemType)
				}
				back, err := pki.ParsePrivateKeyPEM(data)
				if err != nil {
					t.Fatalf("format %d: parsing back: %v", f, err)
				}
				if !pki.KeyMatches(key.Public(), back) {
					t.Errorf("format %d: parsed key differs from the generated one", f)
				}
			}
			pub, err := pki.MarshalPublicKeyPEM(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			gotPub, err := pki.ParsePublicKeyPEM(pub)
			if err != nil {
				t.Fatal(err)
			}
			if !pki.KeyMatches(gotPub, key) {
				t.Error("public key round trip lost the key")
			}
		})
	}
}

func TestMarshalWrongFormat(t *testing.T) {
	ec := pkitest.Key(t)
	if _, err := pki.MarshalPrivateKeyPEM(ec, pki.FormatPKCS1); !errors.Is(err, pki.ErrUnsupportedKey) {
		t.Errorf("ECDSA as PKCS#1: error = %v, want ErrUnsupportedKey", err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := pki.MarshalPrivateKeyPEM(ed, pki.FormatSEC1); !errors.Is(err, pki.ErrUnsupportedKey) {
		t.Errorf("Ed25519 as SEC 1: error = %v, want ErrUnsupportedKey", err)
	}
}

func TestParsePrivateKeyPEMRejects(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)})
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p224DER, _ := x509.MarshalPKCS8PrivateKey(p224)
	encrypted := []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	good, _ := pki.MarshalPrivateKeyPEM(pkitest.Key(t), pki.FormatDefault)

	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"empty", nil, pki.ErrNoPEM},
		{"garbage", []byte("hello world"), pki.ErrNoPEM},
		{"truncated", good[:len(good)/2], pki.ErrNoPEM},
		{"certificate only", pki.EncodeCertificatesPEM(pkitest.CA(t, "x").Certificate), pki.ErrNoPEM},
		{"rsa 1024", weakPEM, pki.ErrWeakKey},
		{"p224", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p224DER}), pki.ErrUnsupportedKey},
		{"encrypted legacy", encrypted, pki.ErrEncryptedKey},
		{"encrypted pkcs8", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), pki.ErrEncryptedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pki.ParsePrivateKeyPEM(tt.data)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}

	t.Run("corrupt body names no key bytes", func(t *testing.T) {
		bad := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("secret-bytes")})
		_, err := pki.ParsePrivateKeyPEM(bad)
		if err == nil || bytes.Contains([]byte(err.Error()), []byte("secret-bytes")) {
			t.Fatalf("error = %v: want a parse error that does not echo the input", err)
		}
	})
}

// TestParseOpenSSLKeys reads keys that openssl wrote, as in the jane example
// (openssl genrsa -out jane.key 2048), in each format openssl uses.
func TestParseOpenSSLKeys(t *testing.T) {
	for _, name := range []string{"openssl-rsa2048-pkcs1.key", "openssl-rsa2048-pkcs8.key", "openssl-ecparam-p256.key", "openssl-ed25519.key"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pki.ParsePrivateKeyPEM(data); err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
		})
	}
}
