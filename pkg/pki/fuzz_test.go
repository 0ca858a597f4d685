package pki_test

import (
	"os"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// seed adds every file in testdata as a seed, beside the corpus kept in
// testdata/fuzz/<FuzzName>.
func seed(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile("testdata/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(""))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := pki.ParsePrivateKeyPEM(data)
		if err != nil {
			return
		}
		// A key we accept must round-trip and be usable.
		out, err := pki.MarshalPrivateKeyPEM(key, pki.FormatPKCS8)
		if err != nil {
			t.Fatalf("accepted key does not re-encode: %v", err)
		}
		back, err := pki.ParsePrivateKeyPEM(out)
		if err != nil || !pki.KeyMatches(key.Public(), back) {
			t.Fatalf("accepted key does not round-trip: %v", err)
		}
	})
}

func FuzzParseCSRPEM(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := pki.ParseCSRPEM(data)
		if err != nil {
			return
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a request whose signature does not verify: %v", err)
		}
		_ = pki.RequestFromCSR(csr)
	})
}

func FuzzParseCertificatesPEM(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := pki.ParseCertificatesPEM(data)
		if err != nil {
			return
		}
		if len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
		if _, err := pki.OrderChain(certs); err == nil {
			_ = pki.Root(certs)
		}
	})
}

func FuzzInspect(f *testing.F) {
	seed(f)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := pki.Inspect(data, at)
		if err != nil {
			return
		}
		if err := r.WriteText(discard{}); err != nil {
			t.Fatal(err)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestFuzzSeedsIncludeAValidChain keeps the seed corpus meaningful: without
// a parsable certificate the certificate fuzzers would only ever see errors.
func TestFuzzSeedsIncludeAValidChain(t *testing.T) {
	data, err := os.ReadFile("testdata/chain.pem")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificatesPEM(data)
	if err != nil || len(certs) < 2 {
		t.Fatalf("testdata/chain.pem: %d certificates, %v", len(certs), err)
	}
}

// FuzzParseDN: any string gives a name or an error, never a panic, and a
// name it gives encodes as a subject.
func FuzzParseDN(f *testing.F) {
	for _, s := range []string{"CN=app", `CN=a\,b,O=Example\, Inc.,C=DE`, "OU=web+OU=api,DC=example,DC=com", "1.2.3.4=x", `CN=\41`, "CN=#0403", "=", ",", "CN=a,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := pki.ParseDN(s)
		if err != nil {
			return
		}
		if len(name.ExtraNames) == 0 {
			t.Fatalf("ParseDN(%q) gave an empty name", s)
		}
	})
}
