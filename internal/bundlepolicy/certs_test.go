package bundlepolicy

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func pemOf(certs ...*x509.Certificate) string { return string(pki.EncodeCertificatesPEM(certs...)) }

func TestParseCertificates(t *testing.T) {
	a, b := pkitest.CA(t, "a").Certificate, pkitest.CA(t, "b").Certificate
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	withHeaders := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: a.Raw})
	truncated := strings.TrimSuffix(pemOf(b), "-----END CERTIFICATE-----\n")
	cases := map[string]struct {
		in      string
		want    int
		wantErr string
	}{
		"one":                       {in: pemOf(a), want: 1},
		"two with comments":         {in: "# Issuer: a\n" + pemOf(a) + "\n# Issuer: b\n" + pemOf(b) + "trailing words\n", want: 2},
		"empty":                     {in: "", want: 0},
		"blank":                     {in: " \n\t\n", want: 0},
		"garbage":                   {in: "this is not a certificate\n", wantErr: "no PEM certificate in 26 bytes"},
		"a private key":             {in: pemOf(a) + string(key), wantErr: `block 2 is a "EC PRIVATE KEY", not a CERTIFICATE`},
		"headers":                   {in: string(withHeaders), wantErr: "block 1 has PEM headers"},
		"not X.509":                 {in: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")})), wantErr: "block 1: x509:"},
		"truncated last block":      {in: pemOf(a) + truncated, wantErr: "block 2 is not well-formed PEM"},
		"malformed before good one": {in: "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n" + pemOf(b), wantErr: "block 1 is not well-formed PEM"},
		"bad base64 in block":       {in: strings.Replace(pemOf(a), "M", "*", 1), wantErr: "block 1 is not well-formed PEM"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseCertificates([]byte(c.in))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || len(got) != c.want {
				t.Fatalf("got %d certificates, %v; want %d", len(got), err, c.want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	now := time.Now()
	a, b := pkitest.CA(t, "a").Certificate, pkitest.CA(t, "b").Certificate
	old := pkitest.CAAt(t, "old", now.Add(-48*time.Hour), 24*time.Hour).Certificate
	sorted := []*x509.Certificate{a, b}
	if h0, h1 := sha256.Sum256(a.Raw), sha256.Sum256(b.Raw); bytes.Compare(h0[:], h1[:]) > 0 {
		sorted = []*x509.Certificate{b, a}
	}
	in := func(src, data string) Input { return Input{Source: src, Data: []byte(data)} }
	cases := map[string]struct {
		inputs     []Input
		opts       Options
		want       []*x509.Certificate
		wantReason string
		wantErr    string
	}{
		"merged, deduplicated, sorted by SHA-256": {
			inputs: []Input{in("x", pemOf(b, a)), in("y", pemOf(a)), in("z", pemOf(b))}, want: sorted},
		"order of the sources does not matter": {
			inputs: []Input{in("y", pemOf(a)), in("x", pemOf(b))}, want: sorted},
		"expired kept without the filter": {
			inputs: []Input{in("x", pemOf(old))}, want: []*x509.Certificate{old}},
		"expired dropped with the filter": {
			inputs: []Input{in("x", pemOf(old, a))}, opts: Options{FilterExpired: true, Now: now}, want: []*x509.Certificate{a}},
		"only expired with the filter": {
			inputs: []Input{in("x", pemOf(old))}, opts: Options{FilterExpired: true, Now: now},
			wantReason: trustv1alpha1.ReasonSourceNotFound, wantErr: "all 1 have expired, and --filter-expired-certificates drops them"},
		"no certificate": {
			inputs: []Input{in("x", "")}, wantReason: trustv1alpha1.ReasonSourceNotFound, wantErr: "the sources hold no certificate"},
		"garbage names its source": {
			inputs:     []Input{in("x", pemOf(a)), in(`ConfigMap cert-manager/bad key "ca.crt"`, "garbage")},
			wantReason: trustv1alpha1.ReasonSourceBuildError, wantErr: `ConfigMap cert-manager/bad key "ca.crt" holds invalid PEM: no PEM certificate`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Build(c.inputs, c.opts)
			if c.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) || e.Reason != c.wantReason || !strings.Contains(e.Message, c.wantErr) {
					t.Fatalf("error %v, want %s %q", err, c.wantReason, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Certificates) != len(c.want) {
				t.Fatalf("%d certificates, want %d", len(got.Certificates), len(c.want))
			}
			for i := range c.want {
				if !got.Certificates[i].Equal(c.want[i]) {
					t.Errorf("certificate %d is %s, want %s", i, got.Certificates[i].Subject, c.want[i].Subject)
				}
			}
			if got.PEM != pemOf(c.want...) {
				t.Errorf("PEM text is not the certificates in order:\n%s", got.PEM)
			}
			first := c.want[0].NotAfter
			for _, w := range c.want {
				if w.NotAfter.Before(first) {
					first = w.NotAfter
				}
			}
			if !got.FirstExpiry().Equal(first) {
				t.Errorf("FirstExpiry %s, want %s", got.FirstExpiry(), first)
			}
		})
	}
}

// FuzzParseCertificates: whatever the text, parsing does not panic, and
// what it accepts holds only well-formed CERTIFICATE blocks: as many
// certificates as BEGIN lines, each of which encodes back to a block found
// in the text.
func FuzzParseCertificates(f *testing.F) {
	a := pkitest.CA(f, "a").Certificate
	f.Add([]byte(pemOf(a)))
	f.Add([]byte("# comment\n" + pemOf(a) + pemOf(a)))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err != nil {
			if certs != nil {
				t.Fatal("certificates returned with an error")
			}
			return
		}
		if n := bytes.Count(data, []byte(pemBegin)); n != len(certs) {
			t.Fatalf("%d BEGIN lines, %d certificates accepted", n, len(certs))
		}
		if len(certs) == 0 && len(bytes.TrimSpace(data)) != 0 {
			t.Fatal("non-blank text without a certificate accepted")
		}
		for _, c := range certs {
			if !bytes.Contains(data, []byte("CERTIFICATE-----")) {
				t.Fatal("a certificate accepted from text without a CERTIFICATE block")
			}
			if _, err := x509.ParseCertificate(c.Raw); err != nil {
				t.Fatalf("accepted certificate does not parse again: %v", err)
			}
		}
		b, err := Build([]Input{{Source: "fuzz", Data: data}}, Options{})
		if err == nil {
			again, err := ParseCertificates([]byte(b.PEM))
			if err != nil || len(again) != len(b.Certificates) {
				t.Fatalf("the bundle's own PEM does not parse back: %v", err)
			}
		}
	})
}
