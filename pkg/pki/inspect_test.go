package pki_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func TestInspectCertificate(t *testing.T) {
	ca := pkitest.CAAt(t, "inspect-ca", now, 10*24*time.Hour)
	key := pkitest.Key(t, pki.ECDSAP384)
	cert, err := ca.Issue(rand.Reader, now, &pki.Template{
		Subject:  pkix.Name{CommonName: "web", Organization: []string{"acme"}},
		DNSNames: []string{"web.example.com"},
		Usages:   []pki.Usage{"digital signature", "server auth"},
		Duration: 48 * time.Hour,
	}, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	r, err := pki.Inspect(pki.EncodeCertificatesPEM(cert, ca.Certificate), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Certificates) != 2 {
		t.Fatalf("got %d certificates, want 2", len(r.Certificates))
	}
	c := r.Certificates[0]
	if c.CommonName != "web" || c.Issuer != "CN=inspect-ca" || c.KeyAlgorithm != "ECDSA" || c.KeySize != 384 ||
		c.IsCA || c.Expired || c.SecondsLeft != 47*3600 || !slices.Equal(c.DNSNames, []string{"web.example.com"}) ||
		!slices.Equal(c.Usages, []pki.Usage{"digital signature", "server auth"}) || c.SHA256Fingerprint != pki.Fingerprint(cert) {
		t.Errorf("leaf described as %+v", c)
	}
	if !r.Certificates[1].IsCA || !r.Certificates[1].SelfSigned {
		t.Errorf("CA described as %+v", r.Certificates[1])
	}
	if r.Chain == nil || !r.Chain.Valid || !r.Chain.Ordered || r.Chain.Root != "CN=inspect-ca" {
		t.Errorf("chain = %+v, want valid, ordered, rooted at the CA", r.Chain)
	}

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Certificate 1 of 2", "CN=web,O=acme", "web.example.com", "digital signature, server auth", "ECDSA 384", "1d 23h left", "valid, in order"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	expired, err := pki.Inspect(pki.EncodeCertificatesPEM(cert), now.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !expired.Certificates[0].Expired {
		t.Error("expired certificate not marked expired")
	}
}

func TestInspectOutOfOrderBundle(t *testing.T) {
	leaf, inter, root := threeLevels(t)
	r, err := pki.Inspect(pki.EncodeCertificatesPEM(root, inter, leaf), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Chain == nil || !r.Chain.Valid || r.Chain.Ordered {
		t.Errorf("chain = %+v, want valid but not ordered", r.Chain)
	}
	r, err = pki.Inspect(pki.EncodeCertificatesPEM(leaf, root), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Chain == nil || r.Chain.Valid || r.Chain.Error == "" {
		t.Errorf("chain with a gap = %+v, want invalid with an error", r.Chain)
	}
}

func TestInspectKeysNeverShowsKeyMaterial(t *testing.T) {
	key := pkitest.Key(t, pki.RSA2048)
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pki.Inspect(keyPEM, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Keys) != 1 || !r.Keys[0].Private || r.Keys[0].Algorithm != "RSA" || r.Keys[0].Size != 2048 {
		t.Fatalf("keys = %+v", r.Keys)
	}
	var text bytes.Buffer
	_ = r.WriteText(&text)
	js, _ := json.Marshal(r)
	block, _ := pem.Decode(keyPEM)
	body := keyPEM[bytes.Index(keyPEM, []byte("\n"))+1:][:40] // a slice of the base64 body
	for _, out := range [][]byte{text.Bytes(), js} {
		if bytes.Contains(out, body) || bytes.Contains(out, block.Bytes[:16]) {
			t.Fatalf("output contains key material:\n%s", out)
		}
	}
}

func TestInspectRequestAndErrors(t *testing.T) {
	csrPEM, err := pki.CreateCSR(rand.Reader, &pki.Request{CommonName: "jane", Organization: []string{"dev"}}, pkitest.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := pki.Inspect(csrPEM, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Requests) != 1 || r.Requests[0].CommonName != "jane" || !r.Requests[0].SignatureValid {
		t.Errorf("requests = %+v", r.Requests)
	}
	block, _ := pem.Decode(csrPEM)
	if r, err := pki.Inspect(block.Bytes, now); err != nil || len(r.Requests) != 1 {
		t.Errorf("DER request: %v, %+v", err, r)
	}
	for name, data := range map[string][]byte{"empty": nil, "garbage": []byte("garbage"), "unknown block": pem.EncodeToMemory(&pem.Block{Type: "X"})} {
		if _, err := pki.Inspect(data, now); !errors.Is(err, pki.ErrNoPEM) {
			t.Errorf("%s: error = %v, want ErrNoPEM", name, err)
		}
	}
}

func TestTimeLeft(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{364*24*time.Hour + 23*time.Hour + 59*time.Minute, "364d 23h left"},
		{5*time.Hour + 3*time.Minute, "5h 3m left"},
		{90 * time.Second, "1m 30s left"},
		{-(49 * time.Hour), "expired 2d 1h ago"},
	}
	for _, tt := range tests {
		if got := pki.TimeLeft(tt.d); got != tt.want {
			t.Errorf("TimeLeft(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestInspectChainWithoutRoot: a Kubernetes tls.crt holds the leaf and the
// intermediates but not the root. That is a complete chain up to a root
// that is not included, not an invalid one; given the root, it verifies.
func TestInspectChainWithoutRoot(t *testing.T) {
	leaf, inter, root := threeLevels(t)
	other := pkitest.CA(t, "other").Certificate
	at := time.Now()
	tests := []struct {
		name        string
		certs       []*x509.Certificate
		roots       []*x509.Certificate
		wantValid   bool
		wantMissing string
		wantRoot    string
		wantText    []string
		wantProblem string
	}{
		{"tls.crt without a root", []*x509.Certificate{leaf, inter}, nil, false, "CN=root", "",
			[]string{"complete, in order, up to a root that is not included", "CN=root (not included)"}, ""},
		{"tls.crt against its root", []*x509.Certificate{leaf, inter}, []*x509.Certificate{root}, true, "", "CN=root",
			[]string{"valid, in order", "CN=root (a given root)"}, ""},
		{"one certificate against its root", []*x509.Certificate{inter}, []*x509.Certificate{root}, true, "", "CN=root",
			[]string{"valid, in order"}, ""},
		{"tls.crt against another root", []*x509.Certificate{leaf, inter}, []*x509.Certificate{other}, false, "", "",
			[]string{"invalid: no certificate in it was signed by the given root"}, "does not verify against the given root"},
		{"full bundle against another root", []*x509.Certificate{leaf, inter, root}, []*x509.Certificate{other}, false, "", "",
			[]string{"invalid:"}, "does not verify against the given root"},
		{"full bundle, own root", []*x509.Certificate{leaf, inter, root}, nil, true, "", "CN=root",
			[]string{"valid, in order"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := pki.InspectWithRoots(pki.EncodeCertificatesPEM(tt.certs...), at, tt.roots)
			if err != nil {
				t.Fatal(err)
			}
			ch := r.Chain
			if ch == nil || ch.Valid != tt.wantValid || ch.MissingRoot != tt.wantMissing || (tt.wantRoot != "" && ch.Root != tt.wantRoot) {
				t.Fatalf("chain = %+v", ch)
			}
			if ch.GivenRoots != len(tt.roots) {
				t.Errorf("GivenRoots = %d, want %d", ch.GivenRoots, len(tt.roots))
			}
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(text.String(), want) {
					t.Errorf("text lacks %q:\n%s", want, text.String())
				}
			}
			if strings.Contains(text.String(), "unknown authority") {
				t.Errorf("text speaks of an unknown authority:\n%s", text.String())
			}
			problems := strings.Join(r.Problems(), "; ")
			if (tt.wantProblem == "") != (problems == "") || !strings.Contains(problems, tt.wantProblem) {
				t.Errorf("problems = %q, want %q", problems, tt.wantProblem)
			}
		})
	}
}

func TestInspectProblems(t *testing.T) {
	ca := pkitest.CAAt(t, "problems-ca", now, 10*24*time.Hour)
	cert, err := ca.Issue(rand.Reader, now, &pki.Template{Subject: pkix.Name{CommonName: "short"}, Duration: 24 * time.Hour}, pkitest.Key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(48 * time.Hour), "the certificate (short) expired on 2026-11-24T12:00:00Z"},
		{now.Add(-time.Hour), "the certificate (short) is not valid before 2026-11-23T11:55:00Z"},
		{now.Add(time.Hour), ""},
	} {
		r, err := pki.Inspect(pki.EncodeCertificatesPEM(cert), tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if p := strings.Join(r.Problems(), "; "); p != tt.want {
			t.Errorf("at %s: problems %q, want %q", tt.at, p, tt.want)
		}
	}

	csrPEM, err := pki.CreateCSR(rand.Reader, &pki.Request{CommonName: "jane"}, pkitest.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(csrPEM)
	block.Bytes[len(block.Bytes)-3] ^= 1
	r, err := pki.Inspect(pem.EncodeToMemory(block), now)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Problems(); len(p) != 1 || !strings.Contains(p[0], "signature does not verify") {
		t.Errorf("broken request: problems %q", p)
	}
}

func TestDescribePEM(t *testing.T) {
	ca := pkitest.CA(t, "describe")
	cert := string(pki.EncodeCertificatesPEM(ca.Certificate))
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"no PEM at all", ""},
		{cert, "a certificate"},
		{cert + cert, "a certificate"},
		{"-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----\n" + cert, "a private key and a certificate"},
		{"-----BEGIN NEW CERTIFICATE REQUEST-----\nAA==\n-----END NEW CERTIFICATE REQUEST-----\n", "a certificate request"},
		{"-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n", `a "X509 CRL" PEM block`},
	} {
		if got := pki.DescribePEM([]byte(c.in)); got != c.want {
			t.Errorf("DescribePEM(%.30q) = %q, want %q", c.in, got, c.want)
		}
	}
}
