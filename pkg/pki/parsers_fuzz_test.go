package pki_test

import (
	"os"
	"strings"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// FuzzParseCA: what a CA Issuer's Secret holds in tls.crt and tls.key
// gives a CA whose key is its certificate's, or an error; never a panic.
func FuzzParseCA(f *testing.F) {
	ca := pkitest.CA(f, "fuzz CA")
	certPEM := pki.EncodeCertificatesPEM(ca.Certificate)
	keyPEM, err := pki.MarshalPrivateKeyPEM(ca.Key, pki.FormatDefault)
	if err != nil {
		f.Fatal(err)
	}
	chain, err := os.ReadFile("testdata/chain.pem")
	if err != nil {
		f.Fatal(err)
	}
	other, err := os.ReadFile("testdata/openssl-ecparam-p256.key")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(certPEM, keyPEM)
	f.Add(certPEM, other)                    // a key that is not the CA's
	f.Add(chain, keyPEM)                     // another CA's chain
	f.Add(certPEM[:len(certPEM)/2], keyPEM)  // truncated
	f.Add(keyPEM, certPEM)                   // swapped
	f.Add(append(certPEM, chain...), keyPEM) // extra certificates
	f.Add([]byte("junk"), []byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		ca, err := pki.ParseCA(certPEM, keyPEM)
		if err != nil {
			return
		}
		if ca.Certificate == nil || ca.Key == nil || !pki.KeyMatches(ca.Certificate.PublicKey, ca.Key) {
			t.Fatal("ParseCA accepted a certificate and a key that do not belong together")
		}
	})
}

// FuzzParseKeySpec: a key name from a flag or a cfssl request gives a
// valid spec, whose name reads back as the same key, or an error. (Size 0
// is the default size: "rsa-0" is RSA 2048.)
func FuzzParseKeySpec(f *testing.F) {
	for _, s := range []string{"rsa-2048", "RSA-4096", " ecdsa-p384 ", "ed25519", "rsa-", "rsa-1024", "rsa-99999999999999999999", "rsa-2048x", "rsa-0", "ecdsa-p255", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		spec, err := pki.ParseKeySpec(name)
		if err != nil {
			return
		}
		if err := spec.Validate(); err != nil {
			t.Fatalf("ParseKeySpec(%q) = %v, which does not validate: %v", name, spec, err)
		}
		if back, err := pki.ParseKeySpec(spec.String()); err != nil || back.String() != spec.String() {
			t.Fatalf("ParseKeySpec(%q) = %v, whose name %q reads back as %v, %v", name, spec, spec.String(), back, err)
		}
	})
}

// FuzzParsePublicKeyPEM: any bytes give a supported public key or an
// error.
func FuzzParsePublicKeyPEM(f *testing.F) {
	seed(f)
	pub, err := pki.MarshalPublicKeyPEM(pkitest.Key(f).Public())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pub)
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := pki.ParsePublicKeyPEM(data)
		if err != nil {
			return
		}
		if alg, _ := pki.KeyDescription(key); alg == "" {
			t.Fatalf("accepted a public key pki cannot describe: %T", key)
		}
	})
}

// FuzzDescribePEM: the description of whatever PEM a user gave, which goes
// into status messages, is one line and names nothing but block types.
func FuzzDescribePEM(f *testing.F) {
	seed(f)
	f.Add([]byte("-----BEGIN X\n-----END X\n-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if d := pki.DescribePEM(data); strings.ContainsAny(d, "\n\r") {
			t.Fatalf("DescribePEM gave more than one line: %q", d)
		}
	})
}

// FuzzParseUsages: usage names as spec.usages holds them give key usages
// or an error naming the unknown one.
func FuzzParseUsages(f *testing.F) {
	f.Add("digital signature,key encipherment,server auth")
	f.Add("any,,cert sign")
	f.Add("bogus")
	f.Fuzz(func(t *testing.T, list string) {
		var usages []pki.Usage
		for _, u := range strings.Split(list, ",") {
			usages = append(usages, pki.Usage(u))
		}
		ku, eku, err := pki.ParseUsages(usages)
		if err != nil {
			return
		}
		// What is accepted is what the names say, in the order given.
		for _, u := range pki.UsageNames(ku, eku) {
			if !strings.Contains(","+list+",", ","+string(u)+",") && u != pki.UsageSigning {
				t.Fatalf("ParseUsages(%q) gave usage %q, not asked for", list, u)
			}
		}
	})
}
